"""A fake of the receiver's publisher, behind its `EventPublisher` protocol."""

from __future__ import annotations

from merchstore.common.kafka.delivery import DeliveryFailed
from merchstore.common.messages import DomainEvent


class RecordingPublisher:
    """Keeps what it was given; fails every publish while ``down``."""

    def __init__(self) -> None:
        self.published: list[DomainEvent] = []
        self.down = False

    async def publish(self, event: DomainEvent) -> None:
        """Keep ``event``, or fail as an unacknowledged send does."""
        if self.down:
            raise DeliveryFailed("delivery to events failed: broker unreachable")
        self.published.append(event)
