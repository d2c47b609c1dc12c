"""Entry point of the dashboard: refreshes the overview on a schedule, under the lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from merchstore.common.serving.http import ServiceContext, serve_http
from merchstore.dashboard.adapters import ServiceSources
from merchstore.dashboard.api import Parts, create_app, render_page
from merchstore.dashboard.use_cases import OverviewKeeper
from merchstore.settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    """Serve the dashboard until SIGTERM or Ctrl-C; ready once the first overview is built."""
    config = settings.dashboard
    settings.grpc_tls.material()  # a bad certificate is a start-up error, before serving

    async def keep_refreshing(keeper: OverviewKeeper) -> None:
        while True:
            await asyncio.sleep(config.refresh_seconds)
            try:
                await keeper.refresh()
            except Exception:
                log.exception("refreshing the overview failed")

    @asynccontextmanager
    async def start(context: ServiceContext) -> AsyncIterator[Parts]:
        sources = ServiceSources(settings)
        keeper = OverviewKeeper(sources, config.history_points)
        await keeper.refresh()
        task = asyncio.create_task(keep_refreshing(keeper))
        try:
            page = render_page(config.refresh_seconds, settings.tracing.ui_url)
            yield Parts(page=page, overview=lambda: keeper.latest)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            await sources.close()

    serve_http(
        settings,
        "dashboard",
        config,
        create_app,
        start,
        waiting_for="building the first overview",
        uses_kafka=False,
    )
