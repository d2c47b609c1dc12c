"""Entry point of the dashboard: refreshes the overview on a schedule, serves the page."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from merchstore.common.lifecycle import Readiness, serve_http
from merchstore.dashboard.adapters import ServiceSources
from merchstore.dashboard.api import create_app, render_page
from merchstore.dashboard.use_cases import OverviewKeeper
from merchstore.settings import Settings

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    """The dashboard application; ready once the first overview is built."""
    config = settings.dashboard
    readiness = Readiness("building the first overview")

    async def keep_refreshing(keeper: OverviewKeeper) -> None:
        while True:
            await asyncio.sleep(config.refresh_seconds)
            try:
                await keeper.refresh()
            except Exception:
                log.exception("refreshing the overview failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sources = ServiceSources(settings)
        keeper = OverviewKeeper(sources, config.history_points)
        await keeper.refresh()
        app.state.overview = lambda: keeper.latest
        task = asyncio.create_task(keep_refreshing(keeper))
        readiness.set()
        yield
        readiness.clear()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await sources.close()

    app = create_app(readiness, lifespan=lifespan)
    app.state.page = render_page(config.refresh_seconds)
    return app


def run(settings: Settings) -> None:
    """Serve the dashboard until SIGTERM or Ctrl-C."""
    serve_http(build_app(settings), settings.dashboard, settings.http)
