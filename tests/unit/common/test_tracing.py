"""What the ``OTEL_*`` variables turn on, and the trace helpers the services share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import use_span

from merchstore.common import tracing
from merchstore.common.tracing import (
    current_traceparent,
    exporting,
    recorded_trace_id,
    sampled_trace_id,
    span_in_each_trace,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
OTEL = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)


@pytest.fixture
def clean_otel(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in OTEL:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def provider(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    yield provider, exporter
    provider.shutdown()


def test_spans_are_exported_only_when_an_exporter_is_configured(
    clean_otel: pytest.MonkeyPatch,
) -> None:
    assert not exporting()
    clean_otel.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert exporting()
    clean_otel.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not exporting()
    clean_otel.setenv("OTEL_TRACES_EXPORTER", "zipkin")  # what `up --tracing` sets
    assert exporting()
    clean_otel.setenv("OTEL_SDK_DISABLED", "true")
    assert not exporting()


def test_the_trace_id_of_a_context_is_given_only_when_it_is_sampled() -> None:
    assert sampled_trace_id(f"00-{TRACE}-{SPAN}-01") == TRACE
    assert sampled_trace_id(f"00-{TRACE}-{SPAN}-00") is None
    assert sampled_trace_id("not a traceparent") is None
    assert sampled_trace_id(None) is None


def test_work_done_for_many_requests_is_a_span_in_each_sampled_ones_trace(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    tracer_provider, exporter = provider
    with tracer_provider.get_tracer("test").start_as_current_span("run") as run:
        other = "5bf92f3577b34da6a3ce929d0e0e4736"
        span_in_each_trace(
            "count event",
            [
                (f"00-{TRACE}-{SPAN}-01", {"event_id": "a"}),
                (f"00-{other}-{SPAN}-00", {"event_id": "b"}),  # not sampled: no span
                (None, {"event_id": "c"}),
            ],
            run,
        )
    [counted] = [s for s in exporter.get_finished_spans() if s.name == "count event"]
    assert format(counted.context.trace_id, "032x") == TRACE
    assert counted.parent is not None and format(counted.parent.span_id, "016x") == SPAN
    assert [link.context.span_id for link in counted.links] == [run.get_span_context().span_id]
    assert recorded_trace_id(run) == format(run.get_span_context().trace_id, "032x")


def test_a_span_not_recorded_names_no_trace_and_a_log_line_keeps_its_context() -> None:
    unrecorded = TracerProvider(sampler=ALWAYS_OFF).get_tracer("test").start_span("x")
    assert recorded_trace_id(unrecorded) is None
    with use_span(unrecorded, end_on_exit=True):
        context = unrecorded.get_span_context()
        flags = int(context.trace_flags)
        assert not flags & 1  # not sampled
        expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
        assert current_traceparent() == expected
    assert current_traceparent() == ""
