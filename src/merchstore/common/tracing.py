"""OpenTelemetry traces of every service, configured by the standard ``OTEL_*`` variables.

Each process has one tracer provider whose ``service.name`` is the service's contract name.
With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, spans are
exported over OTLP (``http/protobuf``) in batches; with ``OTEL_TRACES_EXPORTER=zipkin`` they go
to ``OTEL_EXPORTER_ZIPKIN_ENDPOINT`` instead (what `merchstore up --tracing` sets). Sampling is
what ``OTEL_TRACES_SAMPLER`` says, parent-based by default (a client's "not sampled" is
respected). With no exporter configured nothing is recorded or exported, yet every request
still has a W3C trace context, carried on to every call it makes: the trace id of its log lines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import TypeVar

import httpx
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Link

from merchstore.common.config.errors import ConfigError

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
ZIPKIN_EXPORTER = "zipkin"
"""The ``OTEL_TRACES_EXPORTER`` value that sends spans to a Zipkin server."""
SUPPORTED_PROTOCOL = "http/protobuf"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The client's ``X-Request-ID`` of the request being handled, if it sent one."""

preset_trace_id: ContextVar[int | None] = ContextVar("preset_trace_id", default=None)
"""The trace id a new trace's first span gets, when the sampler was asked about it before."""


class PresetTraceIds(RandomIdGenerator):
    """Random ids, but a new trace's id is `preset_trace_id` when it is set.

    `SampledRequests` asks the sampler about a request before its span exists; the span then
    has the trace id it asked about, so the sampler (a ratio of trace ids) decides the same.
    """

    def generate_trace_id(self) -> int:
        """The preset id of the request being started, or a random one."""
        preset = preset_trace_id.get()
        return preset if preset is not None else super().generate_trace_id()


REQUEST_ID_METADATA_KEY = "x-request-id"
"""The gRPC metadata that carries the request id on to db-service."""

_tracer = trace.get_tracer("merchstore")


def _exporter_name() -> str:
    return os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()


def exporting() -> bool:
    """Whether the ``OTEL_*`` variables ask for spans to be exported."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    name = _exporter_name()
    if name == ZIPKIN_EXPORTER:
        return True
    if name != "otlp":
        return False
    return any(os.environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


_nested: TracerProvider | None = None
HTTPClient = TypeVar("HTTPClient", httpx.Client, httpx.AsyncClient)


def start_tracing(service: str) -> TracerProvider:
    """Make this process's tracer provider the global one; export only when configured."""
    global _nested
    resource = Resource.create({SERVICE_NAME: service})  # beside OTEL_RESOURCE_ATTRIBUTES
    if not exporting():
        # Trace ids are still made and passed on (log lines carry them); no span is recorded.
        provider = TracerProvider(
            resource=resource, sampler=ALWAYS_OFF, id_generator=PresetTraceIds()
        )
        _nested = None
    else:
        exported = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
        exported.add_span_processor(BatchSpanProcessor(_exporter()))
        # The sampler OTEL_TRACES_SAMPLER names.
        provider = TracerProvider(
            resource=resource, active_span_processor=exported, id_generator=PresetTraceIds()
        )
        _nested = TracerProvider(
            resource=resource,
            sampler=ParentBased(ALWAYS_OFF),
            active_span_processor=exported,
            shutdown_on_exit=False,
        )
    trace.set_tracer_provider(provider)
    return provider


def nested_span_provider() -> TracerProvider | None:
    """The provider of spans that only mean something inside another: queries, outgoing calls.

    Its spans follow their parent's sampling and never start a trace: a relay's poll of the
    outbox or the dashboard's look at a service's health, with no request around them, record
    nothing, while a request's queries and calls are in its trace. None before tracing starts
    and when nothing is exported: a query then costs nothing for tracing.
    """
    return _nested


def traced_client(client: HTTPClient) -> HTTPClient:
    """``client`` with OpenTelemetry's httpx instrumentation.

    A call made inside a traced request or run is a CLIENT span, its context in the call's
    headers; a call outside one (the dashboard's look at a service) records nothing.
    """
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=nested_span_provider())
    return client


def _exporter() -> SpanExporter:
    if _exporter_name() == ZIPKIN_EXPORTER:
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return ZipkinExporter()  # OTEL_EXPORTER_ZIPKIN_ENDPOINT, else localhost:9411
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or SUPPORTED_PROTOCOL
    ).strip()
    if protocol != SUPPORTED_PROTOCOL:
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported: "
            f"merchstore exports traces over OTLP {SUPPORTED_PROTOCOL}"
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def stop_tracing(provider: TracerProvider) -> None:
    """Export what is left (within the SDK's own bound) and stop."""
    provider.shutdown()


def current_trace_id() -> str:
    """The W3C trace id (32 lowercase hex digits) of the span in progress, or ``""``."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.trace_id else ""


def current_traceparent() -> str:
    """The span in progress as a W3C ``traceparent`` value, or ``""``: a log line's context."""
    context = trace.get_current_span().get_span_context()
    if not context.trace_id:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


def valid_traceparent(traceparent: str) -> bool:
    """Whether ``traceparent`` is a W3C version-00 value with valid ids (a client may send any)."""
    return _TRACEPARENT.fullmatch(traceparent) is not None


def is_sampled(traceparent: str) -> bool:
    """Whether a ``traceparent`` says its trace is recorded (bit 0 of its last field)."""
    try:
        return bool(int(traceparent.rsplit("-", 1)[1], 16) & 1)
    except (IndexError, ValueError):
        return False


def sampled_trace_id(traceparent: str | None) -> str | None:
    """The trace id a ``traceparent`` names when it is sampled (the backend has it), else None."""
    if not traceparent or not valid_traceparent(traceparent) or not is_sampled(traceparent):
        return None
    return traceparent[3:35]


def recorded_trace_id(span: trace.Span) -> str | None:
    """The trace id of a span that is recorded (exported), else None."""
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.trace_flags.sampled else None


def span_in_each_trace(
    name: str, items: Iterable[tuple[str | None, Mapping[str, str]]], link_to: trace.Span
) -> None:
    """A short span in each sampled item's own trace, linked to ``link_to`` (a batch's span).

    ``items`` are (traceparent, attributes) pairs: work done on many requests' behalf at once
    (a statistics run counting their events) shows in each request's trace.
    """
    links = [Link(link_to.get_span_context())]
    for traceparent, attributes in items:
        if sampled_trace_id(traceparent) is None:
            continue
        parent = propagate.extract({"traceparent": traceparent})
        _tracer.start_span(name, context=parent, links=links, attributes=attributes).end()
