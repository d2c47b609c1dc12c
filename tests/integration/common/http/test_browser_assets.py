"""Swagger UI at ``/docs`` works without internet: its files come from the service itself."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import httpx
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import ServiceLauncher
from tests.support.browser import chromium


def test_swagger_ui_lists_the_operations_offline(services: ServiceLauncher, tmp_path: Path) -> None:
    services.start("db-service")
    store_api = services.start("store-api")
    page = httpx.get(f"{store_api.url}/docs").text
    assert "cdn." not in page and "https://" not in page, page

    with chromium(tmp_path / "chromium", offline=True) as driver:
        driver.get(f"{store_api.url}/docs")
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.querySelectorAll('.opblock').length")
        )
        operations = cast(
            list[str],
            driver.execute_script(
                "return Array.from(document.querySelectorAll('.opblock-summary')).map(e =>"
                " e.querySelector('.opblock-summary-method').innerText + ' ' +"
                " e.querySelector('.opblock-summary-path').innerText.replace(/\\u200b/g, ''));"
            ),
        )
        loaded = cast(
            list[str],
            driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name);"
            ),
        )
    served = httpx.get(f"{store_api.url}/openapi.json").json()["paths"]
    documented = {f"{method.upper()} {path}" for path, item in served.items() for method in item}
    assert set(operations) == documented
    assert {"POST /orders", "GET /products", "POST /users/login"} <= set(operations)
    assert loaded and all(url.startswith(store_api.url) for url in loaded), loaded
