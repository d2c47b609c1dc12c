"""Health checks that answer from real readiness: an HTTP router and gRPC health + reflection.

Asking a service for its health is `merchstore.common.health_probe`, kept apart so that a probe
(the containers' ``merchstore health``) loads no web framework.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, cast

import grpc
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

ReadinessCheck = Callable[[], str | None]
"""Returns None when the service is ready, otherwise why it is not."""


def not_started() -> str | None:
    """The readiness of an application nothing has started: never ready."""
    return "not started"


async def _readiness(request: Request) -> ReadinessCheck:
    return cast(ReadinessCheck, request.app.state.is_ready)


health_router = APIRouter(tags=["health"])
"""``GET /health``, served by every HTTP service from its ``app.state.is_ready``."""


@health_router.get(
    "/health",
    summary="Readiness of this service",
    responses={503: {"description": "Not ready yet; `detail` says why"}},
)
async def get_health(
    is_ready: Annotated[ReadinessCheck, Depends(_readiness)],
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
