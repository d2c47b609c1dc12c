"""``merchstore up --tracing``: Zipkin from its pinned jar, and one order's whole path in it.

``MERCHSTORE_SCREENSHOT_DIR=docs .venv/bin/pytest tests/e2e/test_up_tracing.py`` takes
``docs/tracing.png``, the order's trace in Zipkin's UI, again.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.browser import chromium
from tests.support.processes import wait_until
from tests.support.store import Store
from tests.support.up import UpProcess, free_up_ports, stop_up, up_environment
from tests.support.zipkin import ORDER_PATH, services_in

pytestmark = pytest.mark.timeout(900)


def test_an_order_placed_through_store_api_is_one_trace_of_five_services_in_zipkin(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    ports = free_up_ports()
    env = {
        **up_environment(ports),
        "MERCHSTORE_PROCESSOR__PERIOD_SECONDS": "1",
        "OTEL_BSP_SCHEDULE_DELAY": "500",
    }
    up = UpProcess(data_dir, env, "--tracing")
    try:
        up.wait_for("merchstore is up", 400)
        [row] = [line for line in up.lines if line.strip().startswith("traces ")]
        ui = re.search(r"http://\S+/zipkin/", row)
        assert ui is not None, row
        zipkin = ui.group(0).removesuffix("/zipkin/")
        assert zipkin == f"http://127.0.0.1:{ports['trace_backend']}"
        assert "Zipkin 3." in row and "5% of new requests traced" in row

        shopper = Store(f"http://127.0.0.1:{ports['store_api']}").register("tracer")
        trace_id = secrets.token_hex(16)
        placed = httpx.post(
            f"http://127.0.0.1:{ports['store_api']}/orders",
            json={"product_id": 2, "quantity": 1},
            headers={**shopper.auth, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
            timeout=30,
        )
        assert placed.status_code == 201, placed.text
        wait_until(
            lambda: services_in(zipkin, trace_id) >= ORDER_PATH,
            180,
            f"spans of {sorted(ORDER_PATH)} in the order's trace in Zipkin",
        )
        stats = httpx.get(f"http://127.0.0.1:{ports['processor']}/stats", timeout=10).json()
        assert trace_id in [order["trace_id"] for order in stats["recent_orders"]]

        with chromium(tmp_path / "chromium") as browser:
            browser.set_window_size(1400, 1000)
            # The dashboard links the order to its trace; the link opens it in Zipkin's UI.
            browser.get(f"http://127.0.0.1:{ports['dashboard']}/")
            link = f"#recent-orders-body a[data-trace='{trace_id}']"
            WebDriverWait(browser, 60, poll_frequency=0.5).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, link)
            )
            href = browser.find_element(By.CSS_SELECTOR, link).get_attribute("href")
            assert href == f"{zipkin}/zipkin/traces/{trace_id}"
            browser.get(href)
            WebDriverWait(browser, 120, poll_frequency=0.5).until(
                lambda d: all(name in d.page_source for name in ORDER_PATH)
            )
            screenshot = tmp_path / "tracing.png"
            browser.save_screenshot(str(screenshot))
    finally:
        stop_up(up.process, data_dir)
    if os.environ.get("MERCHSTORE_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(os.environ["MERCHSTORE_SCREENSHOT_DIR"]) / "tracing.png")
