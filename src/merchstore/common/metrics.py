"""Prometheus metrics of every service: HTTP requests, gRPC calls and consumers.

Names follow Prometheus conventions (counters end in ``_total``, durations are ``_seconds``
histograms) and labels have few values: a route template, never a raw path or a user id.
HTTP services serve ``GET /metrics``; gRPC services serve the same on an HTTP port of their
own (their gRPC port + 100).
"""

from __future__ import annotations

import time
from typing import Any

import grpc
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client import start_http_server as _start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from merchstore.common.grpc_interceptors import Behavior, Kind, WrappingInterceptor, observed

METRICS_PORT_OFFSET = 100
"""A gRPC service serves /metrics on its gRPC port plus this."""

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from request to the end of the answer, by method, route template and status code",
    ["method", "route", "status"],
)
RPC_HANDLED = Counter(
    "grpc_server_handled_total", "RPCs completed, by method and status code", ["method", "code"]
)
RPC_DURATION = Histogram(
    "grpc_server_handling_seconds", "Time to complete an RPC, by method", ["method"]
)


OUTBOX_PENDING = Gauge(
    "outbox_pending_rows", "Order events committed to the outbox and not yet acknowledged by Kafka"
)
OUTBOX_SET_ASIDE = Gauge(
    "outbox_set_aside_rows", "Outbox rows the broker refused for good, kept with their reason"
)
LOG_LINES = Counter(
    "log_lines_total",
    "Operation log lines logging-service took in, by what became of them "
    "(received, published, spilled, dropped, rejected)",
    ["outcome"],
)
LOG_LINES_DROPPED = Counter(
    "log_shipping_dropped_lines_total",
    "This service's log lines dropped because logging-service did not take them in time "
    "(the queue or the spool on disk was full)",
)

UNMATCHED_ROUTE = "<unmatched>"


class HttpMetrics:
    """ASGI middleware counting and timing every request by its route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Few label sets: methods x route templates x status codes.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request; label it with the route that served it once known."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = scope.get("route")
            # The template as documented ("/orders/{id}"), never the raw path.
            template = (
                getattr(route, "path_format", None) or getattr(route, "path", None)
            ) or UNMATCHED_ROUTE
            labels = (scope.get("method", ""), template, status)
            children = self._children.get(labels)
            if children is None:
                # Looking a labelled child up costs more than counting: once per label set.
                method, route, code = labels
                children = (
                    HTTP_REQUESTS.labels(method, route, str(code)),
                    HTTP_DURATION.labels(method, route, str(code)),
                )
                self._children[labels] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


def add_metrics(app: FastAPI) -> None:
    """Measure every request of ``app`` and serve ``GET /metrics`` (not in the API document)."""
    app.add_middleware(HttpMetrics)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def serve_metrics(grpc_port: int, host: str = "0.0.0.0") -> int:
    """Serve /metrics over HTTP beside a gRPC server; return the port used."""
    port = grpc_port + METRICS_PORT_OFFSET
    _start_http_server(port, addr=host)
    return port


class RpcMetrics(WrappingInterceptor):
    """Counts and times unary and client-streaming RPCs by method and status code."""

    def wrap(self, details: grpc.HandlerCallDetails, kind: Kind, behavior: Behavior) -> Behavior:
        """Count and time every call of the method."""
        method = details.method

        def count(status: str, seconds: float) -> None:
            RPC_HANDLED.labels(method, status).inc()
            RPC_DURATION.labels(method).observe(seconds)

        async def measured(request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await observed(behavior, request, context, count)

        return measured
