"""The ``event_log`` topic: service lifecycle messages, their codes, and the one publisher."""

from __future__ import annotations

import json
import re
from typing import Any

from merchstore.common.kafka import KafkaProducer
from merchstore.common.timeutil import utc_now_rfc3339

CODE_PATTERN = re.compile(r"[0-9]{4}\Z")
"""Exactly four ASCII digits; use with ``fullmatch`` (no trailing newline slips through)."""

SEED_CODES: dict[str, str] = {
    "0001": "receiver ready to receive events",
    "0002": "storage ready to consume events",
    "0003": "processor started",
    "0004": "processor run above the event threshold",
}
"""The contract's four codes: always reported, with what each means."""

KNOWN_CODES: dict[str, str] = {
    **SEED_CODES,
    "0005": "store-api ready",
    "0006": "db-service ready",
    "0007": "logging-service ready",
}


def build_event_log_message(code: str, text: str, service: str) -> dict[str, Any]:
    """The contract's ``event_log`` message; the code is added to the text if it is missing."""
    if not CODE_PATTERN.fullmatch(code):
        raise ValueError(f"event_log code must be four digits, got {code!r}")
    if code not in text:
        text = f"{text} (code {code})"
    return {"code": code, "message": text, "service": service, "timestamp": utc_now_rfc3339()}


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
        self._producer.send_and_wait(self._topic, self._encode(code, text), key=self._service)

    async def publish_async(self, code: str, text: str) -> None:
        """Publish and await the acknowledgement."""
        await self._producer.send_async(self._topic, self._encode(code, text), key=self._service)
