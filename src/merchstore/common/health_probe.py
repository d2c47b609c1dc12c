"""Asking a service whether it is ready: ``GET /health`` over HTTP, or ``grpc.health.v1``.

Apart from `merchstore.common.serving.health` (the serving side) so that a probe loads only its
clients: a container's ``merchstore health`` runs every few seconds on a possibly busy host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from merchstore.common.config.grpc_tls import TlsMaterial
from merchstore.common.grpc_channels import open_channel


@dataclass(frozen=True)
class HealthAnswer:
    """What one health check of a service found: ready or not, and why not."""

    ready: bool
    detail: str | None = None


Protocol = Literal["http", "grpc"]
_CHECK = health_pb2.HealthCheckRequest(service="")


def read_http_health(answer: httpx.Response) -> HealthAnswer:
    """What an HTTP ``/health`` answer means: 200 is ready; otherwise its ``detail``, if any."""
    if answer.status_code == 200:
        return HealthAnswer(True)
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    # A service that is not ready says why in `detail` (a stalled consumer names its error).
    return HealthAnswer(
        False,
        f"{answer.status_code}: {detail}" if detail else f"health answered {answer.status_code}",
    )


def _grpc_answer(reply: health_pb2.HealthCheckResponse) -> HealthAnswer:
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    return HealthAnswer(True) if serving else HealthAnswer(False, "not serving")


def check_health(
    protocol: Protocol,
    host: str,
    port: int,
    *,
    path: str = "/health",
    timeout_s: float = 2.0,
    tls: TlsMaterial | None = None,
) -> HealthAnswer:
    """Ask a service whether it is ready: ``GET path`` over HTTP, or ``grpc.health.v1``.

    The one health probe of merchstore: ``merchstore up``, ``health``, ``status`` and the tests
    use it; the dashboard uses :func:`check_health_async`, which reads answers the same way.
    A gRPC service with mutual TLS is asked with ``tls``, the asker's certificate.
    """
    try:
        if protocol == "http":
            return read_http_health(httpx.get(f"http://{host}:{port}{path}", timeout=timeout_s))
        with open_channel(f"{host}:{port}", tls) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(_CHECK, timeout=timeout_s)
        return _grpc_answer(reply)
    except (httpx.HTTPError, grpc.RpcError) as error:
        return HealthAnswer(False, f"no answer ({type(error).__name__})")


async def check_health_async(
    protocol: Protocol,
    host: str,
    port: int,
    *,
    http: httpx.AsyncClient,
    channel: grpc.aio.Channel | None = None,
    path: str = "/health",
    timeout_s: float = 2.0,
) -> HealthAnswer:
    """:func:`check_health` without blocking, over a client (and gRPC channel) kept open."""
    try:
        if protocol == "http":
            answer = await http.get(f"http://{host}:{port}{path}", timeout=timeout_s)
            return read_http_health(answer)
        assert channel is not None, "a gRPC check needs a channel"
        reply = await health_pb2_grpc.HealthStub(channel).Check(_CHECK, timeout=timeout_s)
        return _grpc_answer(reply)
    except (httpx.HTTPError, grpc.RpcError) as error:
        return HealthAnswer(False, f"no answer ({type(error).__name__})")
