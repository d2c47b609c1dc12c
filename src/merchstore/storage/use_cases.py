"""storage's use case: store a consumed batch once per event, keep what cannot be stored."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.poison import PoisonPolicy
from merchstore.storage.adapters import EventRepository
from merchstore.storage.domain import DeadLetter, classify

log = logging.getLogger(__name__)

STORAGE_POISON_POLICY = PoisonPolicy(permanent=(psycopg.DataError, psycopg.IntegrityError))
"""PostgreSQL refusing the data (a NUL, an invalid JSON number, a check) is never transient;
a connection or pool failure is, and is retried."""


class EventIngestor:
    """Stores valid events; invalid messages and ones PostgreSQL refuses become dead letters."""

    def __init__(self, repository: EventRepository) -> None:
        self._repository = repository

    def store(self, batch: Sequence[ConsumedMessage]) -> None:
        """Store a batch in one transaction: its valid events and its invalid messages."""
        events, dead = classify(batch)
        for letter in dead:
            log.warning(
                "dead letter %s[%d]@%d: %s",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.error,
            )
        self._repository.store_batch(events, dead)

    def set_aside(self, message: ConsumedMessage, reason: str) -> None:
        """Keep a message PostgreSQL refused as a dead letter (the poison path)."""
        log.warning(
            "dead letter %s[%d]@%d: %s", message.topic, message.partition, message.offset, reason
        )
        self._repository.set_aside(DeadLetter.of(message, reason))
