"""Serving a gRPC service: one place that creates and binds servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import grpc


@asynccontextmanager
async def grpc_server(
    address: str, interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
) -> AsyncIterator[grpc.aio.Server]:
    """A gRPC server bound to ``address``; raises OSError if the port is taken."""
    server = grpc.aio.server(interceptors=list(interceptors))
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address}: the port is in use")
    yield server
