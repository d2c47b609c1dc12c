"""One way to make a service's FastAPI application: title, error answers, health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from merchstore.common.http.browser_assets import add_browser_assets
from merchstore.common.http.errors import install_error_handlers
from merchstore.common.http.request_guard import RequestGuard
from merchstore.common.http.tracing import native_telemetry
from merchstore.common.metrics import add_metrics
from merchstore.common.serving.health import ReadinessCheck, health_router, not_started


def service_app(
    name: str,
    description: str,
    router: APIRouter,
    is_ready: ReadinessCheck = not_started,
    **options: Any,
) -> FastAPI:
    """Service ``name``'s FastAPI application: ``router``'s routes, ``/health`` and ``/metrics``.

    Swagger UI at ``/docs`` and the files it loads are served by the service itself. Errors
    are answered as JSON, and every request passes the shared edge check first (413 for
    large bodies, 422 for control characters and unpaired surrogates). The routes reach the
    parts the service's entry point builds through one typed dependency (`app_parts`);
    ``/health`` answers from ``is_ready``. Built without an entry point, the same application
    renders the service's OpenAPI document.
    """
    app = FastAPI(
        title=f"merchstore {name}",
        description=description,
        version="1.0.0",
        # The spans of sampled requests (common/http/tracing.py); no others.
        telemetry=native_telemetry(),
        # Swagger UI from the vendored files (add_browser_assets): FastAPI's own loads it,
        # and ReDoc, from a CDN, a blank page without internet.
        docs_url=None,
        redoc_url=None,
        **options,
    )
    app.state.is_ready = is_ready
    app.add_middleware(RequestGuard)
    add_metrics(app)
    install_error_handlers(app)
    add_routes(app, health_router)
    add_routes(app, router, first=True)
    add_browser_assets(app)
    return app


def add_routes(app: FastAPI, router: APIRouter, *, first: bool = False) -> None:
    """Serve ``router``'s routes from ``app``'s own route table (``first``: ahead of the rest).

    Unlike ``include_router``, which FastAPI matches through a wrapper on every request (a
    fifth of a small route's cost), the routes join the application's table as they are:
    paths, tags and documented answers unchanged. Routes are tried in order, each one before
    the right one costing the request a pattern match, so a service's own routes, which carry
    its traffic, go ahead of the documentation, ``/metrics`` and ``/health``.
    """
    if first:
        app.router.routes[:0] = router.routes
    else:
        app.router.routes.extend(router.routes)
