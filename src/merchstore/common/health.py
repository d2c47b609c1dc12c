"""Health checks that answer from real readiness: an HTTP router and gRPC health + reflection."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Literal

import grpc
import httpx
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from merchstore.common.dependencies import app_state

ReadinessCheck = Callable[[], str | None]
"""Returns None when the service is ready, otherwise why it is not."""


def not_started() -> str | None:
    """The readiness of an application nothing has started: never ready."""
    return "not started"


health_router = APIRouter(tags=["health"])
"""``GET /health``, served by every HTTP service from its ``app.state.is_ready``."""


@health_router.get(
    "/health",
    summary="Readiness of this service",
    responses={503: {"description": "Not ready yet; `detail` says why"}},
)
async def get_health(
    is_ready: Annotated[ReadinessCheck, Depends(app_state("is_ready"))],
) -> JSONResponse:
    """200 `{"status": "ok"}` when the service is ready, else 503 with `detail` saying why."""
    reason = is_ready()
    if reason is None:
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable", "detail": reason}, status_code=503)


async def add_health_and_reflection(
    server: grpc.aio.Server, service_names: Iterable[str]
) -> health.aio.HealthServicer:
    """Register ``grpc.health.v1.Health`` (NOT_SERVING until ready) and server reflection."""
    names = list(service_names)
    servicer = health.aio.HealthServicer()
    # The servicer reports the server as a whole SERVING by default; readiness must say so.
    await set_grpc_serving(servicer, names, serving=False)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    return servicer


async def set_grpc_serving(
    servicer: health.aio.HealthServicer, service_names: Iterable[str], serving: bool
) -> None:
    """Mark the named services and the server as a whole SERVING or NOT_SERVING."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ["", *service_names]:
        await servicer.set(name, status)


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
    protocol: Protocol, host: str, port: int, *, path: str = "/health", timeout_s: float = 2.0
) -> HealthAnswer:
    """Ask a service whether it is ready: ``GET path`` over HTTP, or ``grpc.health.v1``.

    The one health probe of merchstore: ``merchstore up``, ``health``, ``status`` and the tests
    use it; the dashboard uses :func:`check_health_async`, which reads answers the same way.
    """
    try:
        if protocol == "http":
            return read_http_health(httpx.get(f"http://{host}:{port}{path}", timeout=timeout_s))
        with grpc.insecure_channel(f"{host}:{port}") as channel:
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
