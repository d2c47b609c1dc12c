"""Every HTTP request a SERVER span: OpenTelemetry's ASGI middleware, outside everything else.

The span starts before routing, named by the method alone; `HttpMetrics`, which learns the route
template once a route ran, names it after the template (``GET /orders/{id}``), never the raw
path, which would make every order a span name of its own.

Only a request whose trace is sampled goes through the ASGI instrumentation. One that is not
needs only its W3C trace context (the trace id of its log lines and of what it sends on), and
`SampledRequests` makes just that through the SDK, at a fraction of the instrumentation's cost
(which took a third of the receiver's throughput for spans nobody records): so a process that
exports nothing, or samples one trace in ten, pays the instrumentation for no other request.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind, TracerProvider
from starlette.types import ASGIApp, Receive, Scope, Send

from merchstore.common.tracing import preset_trace_id

UNTRACED_PATHS = "/health,/metrics"
"""What the system's own probes ask every few seconds: no span."""
_UNTRACED = frozenset(UNTRACED_PATHS.split(","))
_CONTEXT_HEADERS = (b"traceparent", b"tracestate")


def _method_only(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # Until a route names it: never the raw path (a scan of 404s would be a name per path).
    return str(scope.get("method", "HTTP")), {}


_INSTRUMENTATION: dict[str, Any] = {
    "excluded_urls": UNTRACED_PATHS,
    "exclude_spans": ["receive", "send"],
    "default_span_details": _method_only,
}
"""How the ASGI instrumentation is set up, wherever it runs."""


class SampledRequests:
    """ASGI middleware: the ASGI instrumentation for sampled requests, the context for others.

    A request whose trace is not sampled gets its W3C trace context alone (continuing a
    client's), and no span is recorded. The sampler is asked first, as the SDK would ask it,
    with the trace id the request's span will have: a client's, or a new one that the
    provider's id generator then gives the span (`preset_trace_id`), so the instrumentation's
    own sampling decides the same.
    """

    def __init__(self, app: ASGIApp, tracer_provider: SdkTracerProvider) -> None:
        self._app = app
        self._provider = tracer_provider
        self._tracer = tracer_provider.get_tracer("merchstore.http")
        self._instrumented = OpenTelemetryMiddleware(
            app, tracer_provider=tracer_provider, **_INSTRUMENTATION
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle the request, through the instrumentation when its trace is sampled."""
        if scope["type"] != "http" or scope["path"] in _UNTRACED:
            await self._app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers") or ()
            if name in _CONTEXT_HEADERS
        }
        parent = propagate.extract(carrier) if carrier else None
        remote = trace.get_current_span(parent).get_span_context()
        trace_id = (
            remote.trace_id if remote.is_valid else self._provider.id_generator.generate_trace_id()
        )
        method = scope["method"]
        # Recorded (whether exported or not) is what the instrumentation is there for.
        sampled = (
            self._provider.sampler.should_sample(parent, trace_id, method, SpanKind.SERVER).decision
            != Decision.DROP
        )
        preset = preset_trace_id.set(trace_id)
        try:
            if sampled:
                await self._instrumented(scope, receive, send)
                return
            span = self._tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
            token = context.attach(trace.set_span_in_context(span, parent))
            try:
                await self._app(scope, receive, send)
            finally:
                context.detach(token)
        finally:
            preset_trace_id.reset(preset)


def add_tracing(app: FastAPI, tracer_provider: TracerProvider | None = None) -> None:
    """Give every request of ``app`` but the probes' a span, continuing a client's traceparent.

    Added last, so that the span is current for every other middleware and route. The spans
    come from the global tracer provider (`start_tracing`) unless ``tracer_provider`` is given.
    Only sampled requests go through the ASGI instrumentation (`SampledRequests`) when the
    provider is the SDK's; any other provider's go through it all.
    """
    provider = tracer_provider or trace.get_tracer_provider()
    if isinstance(provider, SdkTracerProvider):
        app.add_middleware(SampledRequests, tracer_provider=provider)
        return
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=tracer_provider, **_INSTRUMENTATION)
