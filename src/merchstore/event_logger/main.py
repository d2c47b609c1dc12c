"""Entry point of the event-logger: SQLite, the log file and the consumer, under the lifecycle."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from merchstore.common.kafka.consumer import BatchConsumer
from merchstore.common.serving.http import ServiceContext, serve_http
from merchstore.common.sqlite import REFUSED_BY_SQLITE
from merchstore.event_logger.adapters.record_file import RecordFile
from merchstore.event_logger.adapters.store import EventLogStore
from merchstore.event_logger.api import Parts, create_app
from merchstore.event_logger.use_cases import EventLogIngestor
from merchstore.settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    """Serve the event-logger until SIGTERM or Ctrl-C, consuming while it is served."""
    config = settings.event_logger
    store = EventLogStore(settings.data_path(config.database_file))
    record_file = RecordFile(settings.data_path(config.log_file))

    @asynccontextmanager
    async def start(context: ServiceContext) -> AsyncIterator[Parts]:
        caught_up = record_file.reconcile(store)
        if caught_up:
            log.info("wrote %d committed message(s) missing from %s", caught_up, record_file.path)
        ingestor = EventLogIngestor(store, record_file)
        consumer = BatchConsumer(
            settings,
            group_id=config.group_id,
            topics=[settings.topics.event_log],
            handle_batch=ingestor.ingest,
            set_aside=ingestor.set_aside,
            policy=REFUSED_BY_SQLITE,
            batch_size=config.batch_size,
            instance=f"{socket.gethostname()}:{config.port}",
            # The database, not Kafka, knows where to resume: its position commits with the rows.
            start_offsets=store.next_offset,
            moved_start=store.move_position,
        )

        def consuming() -> str | None:
            if not consumer.assigned.is_set():
                return "waiting for the event_log partition"
            return consumer.stalled()

        context.readiness.watch(consuming)
        thread = consumer.run_in_thread("event-log-consumer")
        log.info("consuming %s into %s", settings.topics.event_log, store.path)
        try:
            yield Parts(store=store)
        finally:
            consumer.stop()
            await asyncio.to_thread(thread.join, settings.supervisor.stop_timeout_s)
            store.close()
            record_file.close()
            log.info("stopped: %d stored, %d set aside", ingestor.stored, ingestor.set_aside_count)

    serve_http(
        settings,
        "event-logger",
        config,
        create_app,
        start,
        waiting_for="reconciling the log file with the database",
    )
