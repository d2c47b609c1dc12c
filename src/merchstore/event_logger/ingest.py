"""The event-logger's use case: take a consumed batch, log each message, store it exactly once."""

from __future__ import annotations

import logging

from merchstore.event_logger.domain import (
    ConsumedMessage,
    EventLogRecord,
    MalformedEventLogMessage,
    parse_event_log_message,
)
from merchstore.event_logger.store import EventLogStore

log = logging.getLogger(__name__)
record_log = logging.getLogger("merchstore.event_logger.records")
"""Writes each consumed message to the service's log file (``app.log``, from logging.yaml)."""


class EventLogIngestor:
    """Validates a batch, writes the good messages to the log file and the database."""

    def __init__(self, store: EventLogStore) -> None:
        self._store = store
        self.stored = 0
        self.skipped = 0

    def ingest(self, batch: list[ConsumedMessage]) -> list[EventLogRecord]:
        """Store the batch; malformed messages are logged with their offset and skipped.

        Each message goes to the log file before the database commit, so a crash between
        the two can repeat a log line on redelivery but never leave one out.
        """
        records: list[EventLogRecord] = []
        for message in batch:
            try:
                records.append(parse_event_log_message(message))
            except MalformedEventLogMessage as error:
                self.skipped += 1
                log.warning(
                    "skipped malformed event_log message at %s[%d]@%d: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    error,
                )
        for record in records:
            record_log.info(
                "code=%s service=%s offset=%d message=%s",
                record.code,
                record.service,
                record.source.offset,
                record.message,
            )
        stored = self._store.store_batch(records, batch)
        self.stored += len(stored)
        return stored
