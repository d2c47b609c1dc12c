"""The event-logger's use case: take a consumed batch, store it exactly once, then log it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from merchstore.common.consumed import ConsumedMessage
from merchstore.event_logger.adapters.record_file import RecordFile
from merchstore.event_logger.adapters.store import EventLogStore, SetAsideMessage, StoredRecord
from merchstore.event_logger.domain import (
    EventLogRecord,
    MalformedEventLogMessage,
    parse_event_log_message,
)

log = logging.getLogger(__name__)


class EventLogIngestor:
    """Validates a batch, stores it (malformed messages set aside), then writes the log file."""

    def __init__(self, store: EventLogStore, record_file: RecordFile) -> None:
        self._store = store
        self._record_file = record_file
        self.stored = 0
        self.set_aside = 0

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
        self._record_file.append_committed(self._store, stored)
        self.stored += len(stored)
        self.set_aside += len(malformed)
        return stored

    def refuse(self, message: ConsumedMessage, reason: str) -> None:
        """Set aside a message the database refused (the poison path), moving past it."""
        log.warning(
            "set aside event_log message at %s[%d]@%d: %s",
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        self._store.set_aside(message, reason)
        self.set_aside += 1
