"""What storage keeps: valid events, and dead letters for everything else (no I/O)."""

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


@dataclass(frozen=True)
class DeadLetter:
    """A message that is not a valid event, kept with the reason."""

    topic: str
    partition: int
    offset: int
    payload: bytes | None
    error: str
    topic_id: str = ""

    @classmethod
    def of(cls, message: ConsumedMessage, error: str) -> DeadLetter:
        """The dead letter of ``message``, kept with where it came from and why."""
        return cls(
            message.topic,
            message.partition,
            message.offset,
            message.value,
            error,
            message.topic_id,
        )


def classify(batch: Sequence[ConsumedMessage]) -> tuple[list[ConsumedEvent], list[DeadLetter]]:
    """Split a batch into valid events and dead letters."""
    events: list[ConsumedEvent] = []
    dead: list[DeadLetter] = []
    for message in batch:
        try:
            event = DomainEvent.from_json(message.value)
        except InvalidDomainEvent as error:
            dead.append(DeadLetter.of(message, str(error)))
            continue
        events.append(ConsumedEvent(event, message.partition, message.offset))
    return events, dead
