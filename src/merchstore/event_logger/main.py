"""Entry point of the event-logger: wires Kafka, SQLite and HTTP together and runs them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from confluent_kafka import Message
from fastapi import FastAPI

from merchstore.common.config import Settings
from merchstore.common.kafka import BatchConsumer, check_broker, consumed_messages
from merchstore.common.serving import serve_http
from merchstore.event_logger.api import create_app
from merchstore.event_logger.ingest import EventLogIngestor
from merchstore.event_logger.store import EventLogStore

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    """The event-logger application, consuming while it is served."""
    store = EventLogStore(settings.data_path(settings.event_logger.database_file))
    ingestor = EventLogIngestor(store)

    def handle_batch(batch: list[Message]) -> None:
        ingestor.ingest(consumed_messages(batch))

    consumer = BatchConsumer(
        settings,
        group_id=settings.event_logger.group_id,
        topics=[settings.topics.event_log],
        handle_batch=handle_batch,
        batch_size=settings.event_logger.batch_size,
        # The database, not Kafka, knows where to resume: its position commits with the rows.
        start_offsets=store.next_offset,
    )

    def is_ready() -> str | None:
        return None if consumer.assigned.is_set() else "waiting for the event_log partition"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = consumer.run_in_thread("event-log-consumer")
        log.info("consuming %s into %s", settings.topics.event_log, store.path)
        yield
        consumer.stop()
        thread.join(timeout=settings.supervisor.stop_timeout_s)
        store.close()
        log.info("stopped: %d stored, %d skipped", ingestor.stored, ingestor.skipped)

    return create_app(store, is_ready, lifespan=lifespan)


def run(settings: Settings) -> None:
    """Serve the event-logger until SIGTERM or Ctrl-C."""
    check_broker(settings)
    serve_http(
        build_app(settings), settings.event_logger.host, settings.event_logger.port, settings.http
    )
