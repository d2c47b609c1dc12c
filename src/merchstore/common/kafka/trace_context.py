"""The trace context on Kafka messages: a span per message written and per message processed.

Writing one is a PRODUCER span whose context goes in the message's W3C ``traceparent`` header;
processing one is a CONSUMER span, its child, named and described as OpenTelemetry's messaging
conventions say. A consumer makes spans only for messages whose context is sampled, after the
batch is stored: the batch path costs nothing more for the rest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.tracing import is_sampled, nested_span_provider, valid_traceparent

TRACEPARENT = "traceparent"
Headers = list[tuple[str, str | bytes | None]]
"""Kafka message headers, as confluent-kafka takes and gives them."""

_tracer = trace.get_tracer("merchstore.kafka")


def _attributes(topic: str, operation: str) -> dict[str, str]:
    return {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": operation,
    }


@contextmanager
def publishing(topic: str, parent: Context | None = None) -> Iterator[Headers]:
    """A PRODUCER span for writing one message to ``topic``, and the headers carrying it.

    ``parent`` is the context to continue (an order's, kept in the outbox); by default the
    current one. Send the message inside the block, so the span lasts until it is acknowledged.
    A span that would not be recorded is not made: in a process that exports nothing, or in a
    trace that is not sampled (its child would not be either, with any of the standard
    samplers), the headers carry the context as it is, the same trace id.
    """
    known = trace.get_current_span(parent).get_span_context()
    if nested_span_provider() is None or (known.is_valid and not known.trace_flags.sampled):
        yield current_headers(parent)
        return
    # Not made current: nothing inside the block starts a span, and attaching it would cost
    # a sampled request as much again as the span.
    span = _tracer.start_span(
        f"send {topic}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes=_attributes(topic, "send"),
    )
    try:
        yield current_headers(trace.set_span_in_context(span, parent))
    except Exception as error:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        raise
    finally:
        span.end()


def current_headers(context: Context | None = None) -> Headers:
    """Headers that carry ``context``, by default the current one (empty when there is none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return [(name, value.encode()) for name, value in carrier.items()]


def current_traceparent() -> str | None:
    """The current context as a ``traceparent`` value, to be kept (the outbox) and used later."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(traceparent: str | None) -> Context | None:
    """The context a kept ``traceparent`` names (None without one)."""
    return propagate.extract({TRACEPARENT: traceparent}) if traceparent else None


def traceparent_of(
    headers: Sequence[tuple[str, str | bytes | None]] | dict[str, str | bytes | None] | None,
) -> str | None:
    """A consumed message's ``traceparent`` header, if it has one."""
    pairs = headers.items() if isinstance(headers, dict) else headers or ()
    for name, value in pairs:
        if name == TRACEPARENT and value:
            return value.decode("ascii", "replace") if isinstance(value, bytes) else value
    return None


def forwarding(topic: str, traceparent: str) -> Headers | None:
    """Headers for a message written on behalf of the context ``traceparent`` (a log line's).

    Sampled, the write is a PRODUCER span, child of that context, whose own context the header
    carries; not sampled, the context goes on as it is. Anything but a valid version-00 value
    (the sender is a client) gives no header.
    """
    if not valid_traceparent(traceparent):
        return None
    if not is_sampled(traceparent):
        return [(TRACEPARENT, traceparent.encode())]
    span = _tracer.start_span(
        f"send {topic}",
        context=context_of(traceparent),
        kind=SpanKind.PRODUCER,
        attributes=_attributes(topic, "send"),
    )
    headers = current_headers(trace.set_span_in_context(span))
    span.end()
    return headers


def record_processing(
    messages: Sequence[ConsumedMessage],
    group: str,
    started_ns: int,
    failures: dict[tuple[str, int, int], str] | None = None,
) -> None:
    """One CONSUMER span per sampled message of a stored batch, child of its PRODUCER span.

    ``failures`` holds the reason of each message set aside (by topic, partition and offset):
    its span is an error with that reason.
    """
    ended_ns = time.time_ns()
    for message in messages:
        if not message.traceparent or not is_sampled(message.traceparent):
            continue
        span = _tracer.start_span(
            f"process {message.topic}",
            context=context_of(message.traceparent),
            kind=SpanKind.CONSUMER,
            start_time=started_ns,
            attributes={
                **_attributes(message.topic, "process"),
                "messaging.destination.partition.id": str(message.partition),
                "messaging.kafka.offset": message.offset,
                "messaging.consumer.group.name": group,
            },
        )
        reason = (failures or {}).get((message.topic, message.partition, message.offset))
        if reason is not None:
            span.set_status(Status(StatusCode.ERROR, reason))
            span.set_attribute("error.type", "set_aside")
        span.end(end_time=ended_ns)
