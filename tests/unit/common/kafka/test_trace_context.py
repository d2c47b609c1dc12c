"""The trace context a message written on a log line's behalf carries (no broker needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from merchstore.common.kafka import trace_context
from merchstore.common.kafka.trace_context import forwarding
from merchstore.common.tracing import is_sampled

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans the module's tracer ends, kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace_context, "_tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def test_a_sampled_lines_write_is_a_producer_span_whose_context_the_header_carries(
    exported: InMemorySpanExporter,
) -> None:
    headers = forwarding("log-channel", f"00-{TRACE}-{SPAN}-01")
    [span] = exported.get_finished_spans()
    assert span.kind == SpanKind.PRODUCER and span.name == "send log-channel"
    assert span.parent is not None and format(span.parent.span_id, "016x") == SPAN
    assert span.attributes is not None
    assert span.attributes["messaging.destination.name"] == "log-channel"
    assert headers == [
        ("traceparent", f"00-{TRACE}-{span.context.span_id:016x}-01".encode()),
    ]


def test_an_unsampled_context_goes_on_as_it_is_with_no_span(
    exported: InMemorySpanExporter,
) -> None:
    unsampled = f"00-{TRACE}-{SPAN}-00"
    assert forwarding("log-channel", unsampled) == [("traceparent", unsampled.encode())]
    assert exported.get_finished_spans() == ()


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "garbage",
        f"01-{TRACE}-{SPAN}-01",  # another version
        f"00-{'0' * 32}-{SPAN}-01",  # invalid ids
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE.upper()}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-01\r\nx-injected: 1",
        f"00-{TRACE}-{SPAN}-01" + "0" * 1000,
    ],
)
def test_anything_but_a_valid_traceparent_from_a_client_gives_no_header(
    sent: str, exported: InMemorySpanExporter
) -> None:
    assert forwarding("log-channel", sent) is None
    assert exported.get_finished_spans() == ()


def test_the_sampled_flag_is_bit_zero_of_the_last_field() -> None:
    assert is_sampled(f"00-{TRACE}-{SPAN}-01") and is_sampled(f"00-{TRACE}-{SPAN}-03")
    assert not is_sampled(f"00-{TRACE}-{SPAN}-00") and not is_sampled("nonsense")


def test_a_process_that_exports_nothing_makes_no_producer_span(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header still carries the context (the log lines' trace id); no span is made."""
    monkeypatch.setattr(trace_context, "nested_span_provider", lambda: None)
    parent = propagate.extract({"traceparent": f"00-{TRACE}-{SPAN}-01"})
    with trace_context.publishing("events", parent) as headers:
        pass
    assert headers == [("traceparent", f"00-{TRACE}-{SPAN}-01".encode())]
    assert exported.get_finished_spans() == ()


def test_a_process_that_exports_makes_a_producer_span_per_message(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace_context, "nested_span_provider", TracerProvider)
    parent = propagate.extract({"traceparent": f"00-{TRACE}-{SPAN}-01"})
    with trace_context.publishing("events", parent) as headers:
        pass
    [span] = exported.get_finished_spans()
    assert span.kind == SpanKind.PRODUCER and span.name == "send events"
    assert headers == [("traceparent", f"00-{TRACE}-{span.context.span_id:016x}-01".encode())]


def test_a_message_of_a_trace_that_is_not_sampled_makes_no_producer_span(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its child would not be recorded either: the header carries the context as it is."""
    monkeypatch.setattr(trace_context, "nested_span_provider", TracerProvider)
    unsampled = f"00-{TRACE}-{SPAN}-00"
    with trace_context.publishing("events", propagate.extract({"traceparent": unsampled})) as (
        headers
    ):
        pass
    assert headers == [("traceparent", unsampled.encode())]
    assert exported.get_finished_spans() == ()


def test_a_write_that_fails_ends_its_producer_span_as_an_error_with_the_reason(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace_context, "nested_span_provider", TracerProvider)
    parent = propagate.extract({"traceparent": f"00-{TRACE}-{SPAN}-01"})
    with pytest.raises(TimeoutError), trace_context.publishing("events", parent):
        raise TimeoutError("no acknowledgement within 5 s")
    [span] = exported.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "TimeoutError: no acknowledgement within 5 s"
    assert [event.name for event in span.events] == ["exception"]
