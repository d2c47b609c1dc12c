"""Entry point of storage: PostgreSQL pool, the `events` consumer, served by the lifecycle."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from merchstore.common.kafka.consumer import BatchConsumer
from merchstore.common.postgres import REFUSED_BY_POSTGRES, apply_migrations, open_pool
from merchstore.common.serving.http import ServiceContext, serve_http
from merchstore.settings import Settings
from merchstore.storage.adapters import EventRepository
from merchstore.storage.api import Parts, create_app
from merchstore.storage.use_cases import EventIngestor

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    """Serve storage until SIGTERM or Ctrl-C; ready once it consumes `events` and announced 0002."""
    config = settings.storage

    # Opened before serving: an unreachable database is a one-line start-up error.
    pool = open_pool(
        settings.database_dsn,
        name="storage",
        min_size=config.pool_min_size,
        max_size=config.pool_max_size,
    )
    repository = EventRepository(pool)

    @asynccontextmanager
    async def start(context: ServiceContext) -> AsyncIterator[Parts]:
        def migrate() -> None:
            with pool.connection() as connection:
                apply_migrations(connection, "merchstore.storage", "storage")

        await asyncio.to_thread(migrate)
        ingestor = EventIngestor(repository)
        consumer = BatchConsumer(
            settings,
            group_id=config.group_id,
            topics=[settings.topics.events],
            handle_batch=ingestor.store,
            set_aside=ingestor.set_aside,
            policy=REFUSED_BY_POSTGRES,
            batch_size=config.batch_size,
            instance=f"{socket.gethostname()}:{config.port}",
            fetch_wait_max_ms=config.fetch_wait_max_ms,
        )
        context.readiness.watch(consumer.stalled)
        thread = consumer.run_in_thread("events-consumer")
        await asyncio.to_thread(consumer.assigned.wait, 60)
        log.info("consuming %s", settings.topics.events)
        try:
            yield Parts(events=repository)
        finally:
            consumer.stop()
            await asyncio.to_thread(thread.join, settings.supervisor.stop_timeout_s)
            pool.close()

    serve_http(
        settings,
        "storage",
        config,
        create_app,
        start,
        waiting_for="connecting to PostgreSQL and Kafka",
    )
