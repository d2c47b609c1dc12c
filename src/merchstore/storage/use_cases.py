"""storage's use case: store a consumed batch once per event, set aside what cannot be stored."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from merchstore.common.consumed import ConsumedMessage
from merchstore.storage.domain import ConsumedEvent, SetAside, classify

log = logging.getLogger(__name__)


class EventStore(Protocol):
    """Where storage keeps events (once per event id) and the messages it sets aside."""

    def store_batch(self, events: list[ConsumedEvent], set_aside: list[SetAside]) -> int:
        """Store both in one transaction; return how many events were new."""
        ...

    def set_aside(self, message: SetAside) -> None:
        """Keep one message that could not be stored, with its reason."""
        ...


class EventIngestor:
    """Stores valid events; invalid messages and ones the store refuses are set aside."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def store(self, batch: Sequence[ConsumedMessage]) -> None:
        """Store a batch in one transaction: its valid events and its invalid messages."""
        events, invalid = classify(batch)
        for message in invalid:
            _report(message)
        self._store.store_batch(events, invalid)

    def set_aside(self, message: ConsumedMessage, reason: str) -> None:
        """Keep a message the store refused (the poison path), with the reason."""
        kept = SetAside.of(message, reason)
        _report(kept)
        self._store.set_aside(kept)


def _report(message: SetAside) -> None:
    log.warning(
        "set aside %s[%d]@%d: %s", message.topic, message.partition, message.offset, message.error
    )
