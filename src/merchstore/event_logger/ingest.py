"""The event-logger's use case: take a consumed batch, log each message, store it exactly once."""

from __future__ import annotations

import logging

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.timeutil import utc_now_rfc3339
from merchstore.event_logger.domain import (
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
        if records:
            # One log call per batch (one line per message) keeps the file write as cheap as
            # the database's one transaction per batch.
            consumed_at = utc_now_rfc3339()
            record_log.info(
                "\n".join(
                    f"{consumed_at} code={r.code} service={r.service} "
                    f"partition={r.source.partition} offset={r.source.offset} message={r.message}"
                    for r in records
                )
            )
        stored = self._store.store_batch(records, batch)
        self.stored += len(stored)
        return stored
