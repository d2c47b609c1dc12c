"""The one publisher of ``event_log`` messages, waiting for the broker's acknowledgement."""

from __future__ import annotations

import json

from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.kafka.trace_context import publishing
from merchstore.common.messages import START_ANNOUNCEMENTS, build_event_log_message


class EventLogPublisher:
    """Publishes one service's lifecycle messages to ``event_log``, waiting for the broker."""

    def __init__(self, producer: KafkaProducer, topic: str, service: str) -> None:
        self._producer = producer
        self._topic = topic
        self._service = service

    def _encode(self, code: str, text: str) -> bytes:
        return json.dumps(build_event_log_message(code, text, self._service)).encode()

    def publish(self, code: str, text: str) -> None:
        """Publish and block until acknowledged; raises DeliveryFailed otherwise."""
        with publishing(self._topic) as headers:
            self._producer.send_and_wait(
                self._topic, self._encode(code, text), key=self._service, headers=headers
            )

    async def publish_async(self, code: str, text: str) -> None:
        """Publish and await the acknowledgement (a PRODUCER span, its context in a header)."""
        with publishing(self._topic) as headers:
            await self._producer.send_async(
                self._topic, self._encode(code, text), key=self._service, headers=headers
            )

    async def announce_start(self) -> None:
        """Publish the service's start code (`START_ANNOUNCEMENTS`), if it has one."""
        announcement = START_ANNOUNCEMENTS.get(self._service)
        if announcement is not None:
            await self.publish_async(*announcement)
