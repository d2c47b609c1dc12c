"""Every HTTP request a SERVER span when its trace is sampled, its W3C trace context when not.

The spans are FastAPI's own OpenTelemetry instrumentation (``FastAPI(telemetry=...)``): one
SERVER span per request, named by the method until a route answers, then after the route
template (``GET /orders/{id}``), never the raw path, which would make every order a span name of
its own; attributes as OpenTelemetry's stable HTTP conventions say.

Only a request whose trace is sampled goes through it. One that is not needs only its W3C trace
context (the trace id of its log lines and of what it sends on), and `SampledRequests` makes just
that through the SDK, at a fraction of an instrumentation's cost: so a process that exports
nothing, or samples one trace in ten, pays for spans on no other request. FastAPI's
instrumentation costs a recorded request about a third of what OpenTelemetry's generic ASGI
middleware did (which also records the old HTTP conventions beside the new ones).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Receive, Scope, Send

from merchstore.common.tracing import preset_trace_id

UNTRACED_PATHS = "/health,/metrics"
"""What the system's own probes ask every few seconds: no span."""
_UNTRACED = frozenset(UNTRACED_PATHS.split(","))
_CONTEXT_HEADERS = (b"traceparent", b"tracestate")
_SAMPLED_KEY = "merchstore.trace_sampled"
"""The ASGI scope's mark of a request whose trace `SampledRequests` found sampled."""
_FASTAPI_TELEMETRY_KEY = "fastapi.telemetry"


def _not_marked_sampled(scope: MutableMapping[str, Any]) -> bool:
    return scope.get(_SAMPLED_KEY) is not True


def native_telemetry(tracer_provider: TracerProvider | None = None) -> TelemetryConfig:
    """FastAPI's own tracing, for the requests `SampledRequests` marks sampled, and no others.

    Its metrics and logs stay off: merchstore exports Prometheus metrics (``/metrics``) and
    writes its own logs. ``tracer_provider`` None: the global one (`start_tracing`'s).
    """
    return {
        "tracing": True,
        "metrics": False,
        "logs": False,
        # Spans of dependency resolution, the endpoint and serialization: three more per
        # request, each as costly as the request's own span, telling what its duration does.
        "operation_spans": False,
        "tracer_provider": tracer_provider,
        "exclude": _not_marked_sampled,
    }


class SampledRequests:
    """ASGI wrapper of a FastAPI app: FastAPI's span for sampled requests, the context for others.

    The sampler is asked first, as the SDK would ask it, with the trace id the request's span
    will have: a client's, or a new one that the provider's id generator then gives the span
    (`preset_trace_id`), so FastAPI's instrumentation, asking again, decides the same. A
    request whose trace is not sampled gets its W3C trace context alone (continuing a
    client's), and no span is recorded. The app must be built with `native_telemetry` of the
    same provider.
    """

    def __init__(self, app: ASGIApp, tracer_provider: TracerProvider) -> None:
        self._app = app
        self._provider = tracer_provider
        self._tracer = tracer_provider.get_tracer("merchstore.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle the request, with a recorded span when its trace is sampled."""
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
                scope[_SAMPLED_KEY] = True
                await self._app(scope, receive, send)
                return
            # FastAPI's own mark of a request its telemetry leaves alone, as it marks one its
            # `exclude` hook names: the hook would answer the same, after looking the stack
            # over for another instrumentation, about 3% of a small request's cost.
            scope.setdefault(_FASTAPI_TELEMETRY_KEY, None)
            span = self._tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
            token = context.attach(trace.set_span_in_context(span, parent))
            try:
                await self._app(scope, receive, send)
            finally:
                context.detach(token)
        finally:
            preset_trace_id.reset(preset)


def traced(app: ASGIApp, tracer_provider: TracerProvider | None = None) -> ASGIApp:
    """``app`` (built with `native_telemetry`) giving every request but the probes' its trace.

    The spans come from the global tracer provider (`start_tracing`'s, the SDK's) unless
    ``tracer_provider`` is given. The wrapper is outermost: the span is current for every
    middleware and route, and the request's log line carries its trace id.
    """
    provider = tracer_provider or trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        raise TypeError(f"tracing needs the OpenTelemetry SDK's tracer provider, not {provider}")
    return SampledRequests(app, provider)
