"""The dashboard in a real headless Chromium, over real services."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import ServiceLauncher

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    assert os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), (
        "install Debian's chromium and chromium-driver (make test does)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1280,1400",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def text_of(driver: WebDriver, css: str) -> str:
    elements = driver.find_elements(By.CSS_SELECTOR, css)
    return elements[0].text if elements else ""


def test_numbers_change_live_and_a_down_service_shows_as_down(
    services: ServiceLauncher, browser: WebDriver, tmp_path: Path
) -> None:
    fast = {
        "MERCHSTORE_PROCESSOR__PERIOD_SECONDS": "1",
        "MERCHSTORE_DASHBOARD__REFRESH_SECONDS": "1",
    }
    services.start("logging-service")
    for name in ("event-logger", "storage", "receiver", "processor", "db-service", "store-api"):
        services.start(name, **fast)
    dashboard = services.start("dashboard", **fast)
    receiver = services.process("receiver")

    browser.get(dashboard.url)
    wait = WebDriverWait(browser, 60, poll_frequency=0.25)
    wait.until(lambda d: text_of(d, "#stat-total") == "0")
    browser.execute_script("window.loadMarker = 'first load';")

    sent = {"/purchase_a_sword": 3, "/purchase_a_knife": 2, "/join_guild": 1}
    for path, times in sent.items():
        for _ in range(times):
            assert httpx.post(f"{receiver.url}{path}").status_code == 201
    wait.until(lambda d: text_of(d, "#stat-total") == "6")
    assert text_of(browser, "#count-purchase_sword") == "3"
    assert text_of(browser, "#count-purchase_knife") == "2"
    assert text_of(browser, "#count-join_guild") == "1"
    assert browser.execute_script("return window.loadMarker") == "first load", "no reload"
    wait.until(lambda d: text_of(d, "li[data-code='0003']").startswith("0003 Events Logged: 1"))
    assert text_of(browser, "li[data-code='0001']").startswith("0001 Events Logged: 1")
    assert "processor started" in text_of(browser, "li[data-code='0003']")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "polyline")) >= 3)
    statuses = {
        row.get_attribute("data-service"): row.find_element(By.CSS_SELECTOR, "[data-status]").text
        for row in browser.find_elements(By.CSS_SELECTOR, "#services-body tr")
    }
    assert set(statuses.values()) == {"✓ up"}, statuses
    screenshot = tmp_path / "dashboard.png"
    browser.save_screenshot(str(screenshot))
    if os.environ.get("MERCHSTORE_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(os.environ["MERCHSTORE_SCREENSHOT_DIR"]) / "dashboard.png")

    services.process("event-logger").stop()
    event_logger_status = "tr[data-service='event-logger'] [data-status]"
    wait.until(lambda d: text_of(d, event_logger_status) == "✗ down")
    assert text_of(browser, "#stat-total") == "6", "the rest of the page still shows"
    assert "Event logger unavailable" in text_of(browser, "#event-log-notice")
    assert browser.execute_script("return window.loadMarker") == "first load"

    # Readable on a phone-width screen: nothing wider than the viewport.
    browser.set_window_size(390, 844)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0
