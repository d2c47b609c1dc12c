"""Entry point of the event-logger: wires Kafka, SQLite, the log file and HTTP together."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from merchstore.common.kafka.clients import check_broker
from merchstore.common.kafka.consumer import BatchConsumer
from merchstore.common.lifecycle import Readiness, serve_http
from merchstore.common.poison import PoisonPolicy
from merchstore.event_logger.adapters.record_file import RecordFile
from merchstore.event_logger.adapters.store import EventLogStore
from merchstore.event_logger.api import create_app
from merchstore.event_logger.use_cases import EventLogIngestor
from merchstore.settings import Settings

log = logging.getLogger(__name__)

EVENT_LOGGER_POISON_POLICY = PoisonPolicy(
    permanent=(sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, ValueError)
)
"""SQLite refusing a value (a check, text it cannot encode, a value too big) is never
transient; a locked or failing database (OperationalError) is, and is retried."""


def build_app(settings: Settings) -> FastAPI:
    """The event-logger application, consuming while it is served."""
    store = EventLogStore(settings.data_path(settings.event_logger.database_file))
    record_file = RecordFile(settings.data_path(settings.event_logger.log_file))
    ingestor = EventLogIngestor(store, record_file)

    consumer = BatchConsumer(
        settings,
        group_id=settings.event_logger.group_id,
        topics=[settings.topics.event_log],
        handle_batch=ingestor.ingest,
        set_aside=ingestor.refuse,
        policy=EVENT_LOGGER_POISON_POLICY,
        batch_size=settings.event_logger.batch_size,
        # The database, not Kafka, knows where to resume: its position commits with the rows.
        start_offsets=store.next_offset,
        moved_start=store.move_position,
    )

    def consuming() -> str | None:
        if not consumer.assigned.is_set():
            return "waiting for the event_log partition"
        return consumer.stalled()

    readiness = Readiness("reconciling the log file with the database", then=consuming)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        caught_up = record_file.reconcile(store)
        if caught_up:
            log.info("wrote %d committed message(s) missing from %s", caught_up, record_file.path)
        thread = consumer.run_in_thread("event-log-consumer")
        readiness.set()
        log.info("consuming %s into %s", settings.topics.event_log, store.path)
        yield
        readiness.clear()
        consumer.stop()
        thread.join(timeout=settings.supervisor.stop_timeout_s)
        store.close()
        record_file.close()
        log.info("stopped: %d stored, %d set aside", ingestor.stored, ingestor.set_aside)

    app = create_app(readiness, lifespan=lifespan)
    app.state.store = store
    return app


def run(settings: Settings) -> None:
    """Serve the event-logger until SIGTERM or Ctrl-C."""
    check_broker(settings, report_topics=True)
    serve_http(build_app(settings), settings.event_logger, settings.http)
