"""HTTP API of the dashboard: the page, its static assets and the overview it refreshes from."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from merchstore.common.health import ReadinessCheck
from merchstore.common.http_errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.http_service import add_routes, service_app

STATIC = resources.files("merchstore.dashboard") / "static"


def create_app(
    overview: Any, refresh_seconds: float, is_ready: ReadinessCheck, **options: Any
) -> FastAPI:
    """The dashboard application; ``overview()`` returns the latest overview."""
    app = service_app(
        "dashboard",
        "Processor statistics, event-log counts and service health.",
        is_ready,
        **options,
    )
    page = (
        (STATIC / "index.html")
        .read_text()
        .replace("{{refresh_ms}}", str(int(refresh_seconds * 1000)))
    )
    router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["dashboard"])

    @router.get("/", response_class=HTMLResponse, summary="The dashboard page")
    async def dashboard_page() -> str:
        return page

    @router.get("/api/overview", summary="Everything the page shows, refreshed periodically")
    async def get_overview() -> dict[str, Any]:
        return dict(overview())

    add_routes(app, router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


def documentation_app() -> FastAPI:
    """The dashboard's routes with nothing behind them, to render the OpenAPI document."""
    return create_app(dict, 3.0, lambda: None)
