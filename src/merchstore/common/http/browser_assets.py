"""The browser libraries every HTTP service serves itself, so that its pages work offline.

Chart.js (the dashboard's charts) and Swagger UI (every service's ``/docs``) come from the npm
registry at the versions ``common/web/package-lock.json`` pins: ``make`` (and the image's build
stage) runs ``npm ci && npm run vendor`` there, which copies them into ``common/web/vendor/``.
Nothing is loaded from a CDN: a machine without internet shows the same pages.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

VENDOR = resources.files("merchstore.common") / "web" / "vendor"
VENDOR_PATH = "/vendor"
"""Where every HTTP service serves the vendored files."""


def add_browser_assets(app: FastAPI) -> None:
    """Serve the vendored files at ``/vendor`` and Swagger UI, built on them, at ``/docs``."""
    # check_dir off: an application built only to render its OpenAPI document needs no assets.
    app.mount(VENDOR_PATH, StaticFiles(directory=str(VENDOR), check_dir=False), name="vendor")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{VENDOR_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{VENDOR_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{VENDOR_PATH}/favicon-32x32.png",
        )
