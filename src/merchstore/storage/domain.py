"""What storage keeps: valid events, and every other message set aside with its reason (no I/O).

A set-aside message is what the contract counts as a dead letter (``dead_letters`` in
``GET /events/count``, and the table of that name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.messages import DomainEvent, InvalidDomainEvent


@dataclass(frozen=True)
class ConsumedEvent:
    """A valid event and where it was read from."""

    event: DomainEvent
    partition: int
    offset: int
    traceparent: str | None = None


@dataclass(frozen=True)
class SetAside:
    """A message that is not a valid event, or that PostgreSQL refused, kept with the reason."""

    topic: str
    partition: int
    offset: int
    payload: bytes | None
    error: str
    topic_id: str = ""

    @classmethod
    def of(cls, message: ConsumedMessage, error: str) -> SetAside:
        """``message`` set aside, kept with where it came from and why."""
        return cls(
            message.topic,
            message.partition,
            message.offset,
            message.value,
            error,
            message.topic_id,
        )


def classify(batch: Sequence[ConsumedMessage]) -> tuple[list[ConsumedEvent], list[SetAside]]:
    """Split a batch into valid events and the messages to set aside."""
    events: list[ConsumedEvent] = []
    set_aside: list[SetAside] = []
    for message in batch:
        try:
            event = DomainEvent.from_json(message.value)
        except InvalidDomainEvent as error:
            set_aside.append(SetAside.of(message, str(error)))
            continue
        events.append(ConsumedEvent(event, message.partition, message.offset, message.traceparent))
    return events, set_aside
