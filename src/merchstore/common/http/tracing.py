"""Every HTTP request a SERVER span: OpenTelemetry's ASGI middleware, outside everything else.

The span starts before routing, named by the method alone; `HttpMetrics`, which learns the route
template once a route ran, names it after the template (``GET /orders/{id}``), never the raw
path, which would make every order a span name of its own.

A process that exports no spans needs of a request only its W3C trace context: the trace id
of its log lines and of what it sends on. `TraceContext` makes just that, through the SDK, at a
fraction of the ASGI instrumentation's cost per request (which took a third of the receiver's
throughput for spans nobody records).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, TracerProvider
from starlette.types import ASGIApp, Receive, Scope, Send

from merchstore.common.tracing import nested_span_provider

UNTRACED_PATHS = "/health,/metrics"
"""What the system's own probes ask every few seconds: no span."""
_UNTRACED = frozenset(UNTRACED_PATHS.split(","))
_CONTEXT_HEADERS = (b"traceparent", b"tracestate")
_unrecorded = SdkTracerProvider(sampler=ALWAYS_OFF).get_tracer("merchstore.http")
"""Spans that are never recorded, with their ids made as the SDK makes every span's."""


class TraceContext:
    """ASGI middleware: each request's W3C trace context, continuing a client's, no span recorded.

    What OpenTelemetry's ASGI middleware gives a request in a process that records nothing,
    made alike (the SDK's tracer with nothing sampled, W3C propagation) and only that.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle the request with its trace context current."""
        if scope["type"] != "http" or scope["path"] in _UNTRACED:
            await self._app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers") or ()
            if name in _CONTEXT_HEADERS
        }
        parent = propagate.extract(carrier) if carrier else None
        span = _unrecorded.start_span(scope["method"], context=parent, kind=SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await self._app(scope, receive, send)
        finally:
            context.detach(token)


def add_tracing(app: FastAPI, tracer_provider: TracerProvider | None = None) -> None:
    """Give every request of ``app`` but the probes' a span, continuing a client's traceparent.

    Added last, so that the span is current for every other middleware and route. The spans
    come from the global tracer provider (`start_tracing`) unless ``tracer_provider`` is given;
    with neither one given nor anything exported, `TraceContext` gives each its context only.
    """
    if tracer_provider is None and nested_span_provider() is None:
        app.add_middleware(TraceContext)
        return
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
