"""The receiver's adapter: events published to Kafka, keyed by player."""

from __future__ import annotations

from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.kafka.trace_context import publishing
from merchstore.common.messages import DomainEvent


class KafkaEventPublisher:
    """Publishes events to the ``events`` topic, each keyed by its player (per-player order)."""

    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def publish(self, event: DomainEvent) -> None:
        """Publish and await the broker's acknowledgement (within the producer's timeout)."""
        # No timer of our own per request: message.timeout.ms bounds the wait, and a timer
        # would cost more than the rest of the handler.
        # A PRODUCER span in the request's trace; its context goes with the event to storage.
        with publishing(self._topic) as headers:
            await self._producer.send_async(
                self._topic, event.to_json(), key=event.user_id, headers=headers
            )
