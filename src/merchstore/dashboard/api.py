"""HTTP API of the dashboard: the page, its static assets and the overview it refreshes from."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from merchstore.common.http.app import service_app
from merchstore.common.http.dependencies import app_parts
from merchstore.common.http.errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.serving.health import ReadinessCheck, not_started

STATIC = resources.files("merchstore.dashboard") / "static"

LatestOverview = Callable[[], Mapping[str, Any]]
"""Returns the overview built last."""


def render_page(refresh_seconds: float, trace_ui: str | None = None) -> str:
    """The page, refreshing itself every ``refresh_seconds``, linking to ``trace_ui``'s traces."""
    template = (STATIC / "index.html").read_text()
    page = template.replace("{{refresh_ms}}", str(int(refresh_seconds * 1000)))
    return page.replace("{{trace_ui}}", html.escape(trace_ui or "", quote=True))


@dataclass(frozen=True)
class Parts:
    """What the dashboard's routes use; its entry point builds them."""

    page: str
    """The page, with its refresh period filled in."""
    overview: LatestOverview


DashboardParts = Annotated[Parts, Depends(app_parts(Parts))]

router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["dashboard"])


@router.get("/", response_class=HTMLResponse, summary="The dashboard page")
async def dashboard_page(parts: DashboardParts) -> str:
    """The page; its script asks for the overview every refresh period."""
    return parts.page


@router.get("/api/overview", summary="Everything the page shows, refreshed periodically")
async def get_overview(parts: DashboardParts) -> dict[str, Any]:
    """The overview built last (the service refreshes it in the background)."""
    return dict(parts.overview())


def create_app(is_ready: ReadinessCheck = not_started, **options: Any) -> FastAPI:
    """The dashboard's application; its entry point builds its `Parts`."""
    app = service_app(
        "dashboard",
        "Processor statistics, event-log counts and service health.",
        router,
        is_ready,
        **options,
    )
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app
