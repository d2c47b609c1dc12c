"""Entry point of the processor: a scheduled run every period, served by the lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from merchstore.common.kafka.delivery import DeliveryFailed
from merchstore.common.kafka.event_log import EventLogPublisher
from merchstore.common.serving.http import ServiceContext, serve_http
from merchstore.processor.adapters.state import ProcessorState
from merchstore.processor.adapters.storage_client import StorageClient, StorageUnavailable
from merchstore.processor.api import Parts, create_app
from merchstore.processor.use_cases import StatisticsRuns
from merchstore.settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    """Serve the processor until SIGTERM or Ctrl-C; it is ready once 0003 is on ``event_log``."""
    config = settings.processor
    state = ProcessorState(settings.data_path(config.state_file))
    storage = StorageClient(settings.storage_base_url, config.request_timeout_s)

    @asynccontextmanager
    async def start(context: ServiceContext) -> AsyncIterator[Parts]:
        publisher = EventLogPublisher(context.producer, settings.topics.event_log, "processor")
        runs = StatisticsRuns(
            state,
            storage,
            lambda text: publisher.publish("0004", text),
            threshold=config.event_threshold,
            page_size=config.page_size,
        )

        async def scheduled_run() -> None:
            try:
                await runs.run_now()
            except (StorageUnavailable, DeliveryFailed) as error:
                log.warning("run failed; the next period retries it: %s", error)

        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            scheduled_run,
            "interval",
            seconds=config.period_seconds,
            next_run_time=datetime.now(UTC) + timedelta(seconds=config.period_seconds),
            max_instances=1,
            coalesce=True,
        )
        context.when_ready(scheduler.start)  # no 0004 before the start's 0003
        log.info("a run every %.1f s against %s", config.period_seconds, settings.storage_base_url)
        try:
            yield Parts(statistics=runs)
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            await asyncio.to_thread(runs.wait_for_the_run_under_way)
            storage.close()
            state.close()

    serve_http(
        settings,
        "processor",
        config,
        create_app,
        start,
        waiting_for="announcing start on event_log",
    )
