"""OpenTelemetry traces of every service, configured only by the standard ``OTEL_*`` variables.

Each process has one tracer provider whose ``service.name`` is the service's contract name.
With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, spans are
exported over OTLP (``http/protobuf``) in batches, sampled as ``OTEL_TRACES_SAMPLER`` says
(parent-based by default: a client's "not sampled" is respected). With no endpoint nothing is
recorded or exported, yet every request still has a W3C trace context, carried on to every
call it makes: the trace id of its log lines.
"""

from __future__ import annotations

import os
from contextvars import ContextVar

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from merchstore.common.config.errors import ConfigError

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
SUPPORTED_PROTOCOL = "http/protobuf"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The client's ``X-Request-ID`` of the request being handled, if it sent one."""

REQUEST_ID_METADATA_KEY = "x-request-id"
"""The gRPC metadata that carries the request id on to db-service."""


def exporting() -> bool:
    """Whether the ``OTEL_*`` variables ask for spans to be exported."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(os.environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def start_tracing(service: str) -> TracerProvider:
    """Make this process's tracer provider the global one; export only when configured."""
    resource = Resource.create({SERVICE_NAME: service})  # beside OTEL_RESOURCE_ATTRIBUTES
    if not exporting():
        # Trace ids are still made and passed on (log lines carry them); no span is recorded.
        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    else:
        provider = TracerProvider(resource=resource)  # the sampler OTEL_TRACES_SAMPLER names
        provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)
    return provider


def _exporter() -> SpanExporter:
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
