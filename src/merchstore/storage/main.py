"""Entry point of storage: PostgreSQL pool, the `events` consumer, event_log, HTTP API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from merchstore.common.kafka.clients import check_broker
from merchstore.common.kafka.consumer import BatchConsumer
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.lifecycle import Readiness, announce_start, serve_http
from merchstore.common.postgres import apply_migrations, open_pool
from merchstore.settings import Settings
from merchstore.storage.adapters import EventRepository
from merchstore.storage.api import create_app
from merchstore.storage.use_cases import STORAGE_POISON_POLICY, EventIngestor

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    """The storage application; ready once it consumes `events` and announced 0002."""
    pool = open_pool(
        settings.database_dsn,
        name="storage",
        min_size=settings.storage.pool_min_size,
        max_size=settings.storage.pool_max_size,
    )
    repository = EventRepository(pool)

    def migrate() -> None:
        with pool.connection() as connection:
            apply_migrations(connection, "merchstore.storage", "storage")

    ingestor = EventIngestor(repository)

    consumer = BatchConsumer(
        settings,
        group_id=settings.storage.group_id,
        topics=[settings.topics.events],
        handle_batch=ingestor.store,
        set_aside=ingestor.set_aside,
        policy=STORAGE_POISON_POLICY,
        batch_size=settings.storage.batch_size,
        fetch_wait_max_ms=settings.storage.fetch_wait_max_ms,
    )
    readiness = Readiness("connecting to PostgreSQL and Kafka", then=consumer.stalled)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(migrate)
        thread = consumer.run_in_thread("events-consumer")
        await asyncio.to_thread(consumer.assigned.wait, 60)
        producer = KafkaProducer(settings, client_id="storage")
        await announce_start(settings, "storage", producer)
        readiness.set()
        log.info("ready: consuming %s", settings.topics.events)
        yield
        readiness.clear()
        consumer.stop()
        await asyncio.to_thread(thread.join, settings.supervisor.stop_timeout_s)
        await asyncio.to_thread(producer.close, 5.0)
        pool.close()

    app = create_app(readiness, lifespan=lifespan)
    app.state.repository = repository
    return app


def run(settings: Settings) -> None:
    """Serve storage until SIGTERM or Ctrl-C."""
    check_broker(settings, report_topics=True)
    serve_http(build_app(settings), settings.storage, settings.http)
