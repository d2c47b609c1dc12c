"""The receiver's use case: a player's action becomes an event on ``events``, acknowledged."""

from __future__ import annotations

from typing import Protocol

from merchstore.common.messages import DomainEvent, MetadataValue
from merchstore.receiver.domain import PlayerAction, action_event


class EventPublisher(Protocol):
    """Puts an event on ``events`` and returns once the broker acknowledged it."""

    async def publish(self, event: DomainEvent) -> None:
        """Publish ``event``; raise ``DeliveryFailed`` when the broker did not acknowledge it."""
        ...


class PlayerActions:
    """Records players' actions: each one an event, answered only once it is published."""

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def record(
        self,
        action: PlayerAction,
        user_id: str | None,
        metadata: dict[str, MetadataValue] | None,
        idempotency_key: str | None,
    ) -> DomainEvent:
        """Publish ``action``'s event and return it once acknowledged.

        A retry under the same ``idempotency_key`` (same path and player) carries the same
        event id, so storage keeps the event once however often it was published.
        """
        event = action_event(action, user_id, metadata, idempotency_key)
        await self._publisher.publish(event)
        return event
