"""Serving a gRPC service: one place that creates and binds servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import grpc

from merchstore.common.metrics import METRICS_PORT_OFFSET, RpcMetrics, serve_metrics


@asynccontextmanager
async def grpc_server(
    host: str, port: int, interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
) -> AsyncIterator[grpc.aio.Server]:
    """A gRPC server on ``host:port``; raises OSError if a port is taken.

    Its RPCs are measured, and ``/metrics`` is served over HTTP on ``port + 100``.
    """
    server = grpc.aio.server(interceptors=[RpcMetrics(), *interceptors])
    address = f"{host}:{port}"
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address}: the port is in use")
    try:
        serve_metrics(port, host)
    except OSError as error:
        raise OSError(
            f"cannot serve metrics on {host}:{port + METRICS_PORT_OFFSET}: {error.strerror}"
        ) from None
    yield server
