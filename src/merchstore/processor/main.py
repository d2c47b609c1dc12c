"""Entry point of the processor: a scheduled run every period, statistics over HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI

from merchstore.common.kafka.clients import check_broker
from merchstore.common.kafka.delivery import DeliveryFailed
from merchstore.common.kafka.event_log import EventLogPublisher
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.lifecycle import Readiness, announce_start, serve_http
from merchstore.processor.adapters.state import ProcessorState
from merchstore.processor.adapters.storage_client import StorageClient, StorageUnavailable
from merchstore.processor.api import create_app
from merchstore.processor.use_cases import StatisticsRuns
from merchstore.settings import Settings

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    """The processor application; ready once 0003 is on ``event_log``."""
    config = settings.processor
    state = ProcessorState(settings.data_path(config.state_file))
    storage = StorageClient(settings.storage_base_url, config.request_timeout_s)
    producer = KafkaProducer(settings, client_id="processor")
    publisher = EventLogPublisher(producer, settings.topics.event_log, "processor")
    runs = StatisticsRuns(
        state,
        storage,
        lambda text: publisher.publish("0004", text),
        threshold=config.event_threshold,
        page_size=config.page_size,
    )
    readiness = Readiness("announcing start on event_log")
    scheduler = AsyncIOScheduler(timezone=UTC)

    async def scheduled_run() -> None:
        try:
            await runs.run_now()
        except (StorageUnavailable, DeliveryFailed) as error:
            log.warning("run failed; the next period retries it: %s", error)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await announce_start(settings, "processor", producer)
        scheduler.add_job(
            scheduled_run,
            "interval",
            seconds=config.period_seconds,
            next_run_time=datetime.now(UTC) + timedelta(seconds=config.period_seconds),
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        readiness.set()
        log.info(
            "ready: a run every %.1f s against %s", config.period_seconds, settings.storage_base_url
        )
        yield
        readiness.clear()
        scheduler.shutdown(wait=False)
        await asyncio.to_thread(runs.wait_for_the_run_under_way)
        await asyncio.to_thread(producer.close, 5.0)
        storage.close()
        state.close()

    app = create_app(readiness, lifespan=lifespan)
    app.state.statistics = runs
    return app


def run(settings: Settings) -> None:
    """Serve the processor until SIGTERM or Ctrl-C."""
    check_broker(settings, report_topics=True)
    serve_http(build_app(settings), settings.processor, settings.http)
