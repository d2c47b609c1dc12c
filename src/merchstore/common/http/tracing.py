"""Every HTTP request a SERVER span: OpenTelemetry's ASGI middleware, outside everything else.

The span starts before routing, named by the method alone; `HttpMetrics`, which learns the route
template once a route ran, names it after the template (``GET /orders/{id}``), never the raw
path, which would make every order a span name of its own.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import TracerProvider

UNTRACED_PATHS = "/health,/metrics"
"""What the system's own probes ask every few seconds: no span."""


def add_tracing(app: FastAPI, tracer_provider: TracerProvider | None = None) -> None:
    """Give every request of ``app`` but the probes' a span, continuing a client's traceparent.

    Added last, so that the span is current for every other middleware and route. The spans
    come from the global tracer provider (`start_tracing`) unless ``tracer_provider`` is given.
    """
    app.add_middleware(
        OpenTelemetryMiddleware,
        excluded_urls=UNTRACED_PATHS,
        exclude_spans=["receive", "send"],
        tracer_provider=tracer_provider,
        default_span_details=_method_only,
    )


def _method_only(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # Until a route names it: never the raw path (a scan of 404s would be a name per path).
    return str(scope.get("method", "HTTP")), {}
