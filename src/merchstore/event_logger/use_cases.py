"""The event-logger's use case: take a consumed batch, store it exactly once, then log it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from merchstore.common.consumed import ConsumedMessage
from merchstore.event_logger.domain import (
    EventLogRecord,
    MalformedEventLogMessage,
    SetAsideMessage,
    StoredRecord,
    parse_event_log_message,
)

log = logging.getLogger(__name__)


class RecordStore(Protocol):
    """Where each consumed message is stored once, with the counts and the resume position."""

    def store_batch(
        self,
        records: Sequence[EventLogRecord],
        batch: Sequence[ConsumedMessage],
        set_aside: Sequence[SetAsideMessage],
    ) -> list[StoredRecord]:
        """Store a batch in one transaction; return the records new to the store."""
        ...

    def set_aside(self, message: ConsumedMessage, reason: str) -> None:
        """Keep a message that can never be stored, and move the position past it."""
        ...

    def last_id(self) -> int:
        """The id of the newest stored record (0 when there is none)."""
        ...

    def records_after(self, last_id: int, limit: int = 10_000) -> list[StoredRecord]:
        """Stored records with an id above ``last_id``, in id order."""
        ...


class RecordLog(Protocol):
    """The log file: each stored record once, written after its commit."""

    def append_committed(self, store: RecordStore, records: list[StoredRecord]) -> None:
        """Append a just-committed batch (first filling any gap an earlier failure left)."""
        ...


class EventLogIngestor:
    """Validates a batch, stores it (malformed messages set aside), then writes the log file."""

    def __init__(self, store: RecordStore, record_log: RecordLog) -> None:
        self._store = store
        self._record_log = record_log
        self.stored = 0
        self.set_aside_count = 0

    def ingest(self, batch: Sequence[ConsumedMessage]) -> list[StoredRecord]:
        """Store the batch in one transaction, then append what it stored to the log file.

        The file is written from what committed, after the commit: a crash in between leaves
        lines that `RecordFile.reconcile` writes at the next start, never a line twice.
        """
        records: list[EventLogRecord] = []
        malformed: list[SetAsideMessage] = []
        for message in batch:
            try:
                records.append(parse_event_log_message(message))
            except MalformedEventLogMessage as error:
                malformed.append(SetAsideMessage(message, str(error)))
                log.warning(
                    "set aside malformed event_log message at %s[%d]@%d: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    error,
                )
        stored = self._store.store_batch(records, batch, malformed)
        self._record_log.append_committed(self._store, stored)
        self.stored += len(stored)
        self.set_aside_count += len(malformed)
        return stored

    def set_aside(self, message: ConsumedMessage, reason: str) -> None:
        """Set aside a message the database refused (the poison path), moving past it."""
        log.warning(
            "set aside event_log message at %s[%d]@%d: %s",
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        self._store.set_aside(message, reason)
        self.set_aside_count += 1
