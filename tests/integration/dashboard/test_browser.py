"""The dashboard in a real headless Chromium, over real services."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import ServiceLauncher
from tests.support.browser import chart, chromium, text_of
from tests.support.store import Store


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    with chromium(tmp_path / "chromium") as driver:
        yield driver


def service_rows(driver: WebDriver) -> list[dict[str, str]]:
    """The health table as the page shows it now: name, status text and uptime of each row."""
    return cast(
        list[dict[str, str]],
        driver.execute_script(
            "return Array.from(document.querySelectorAll('#services-body tr')).map(r => ({"
            " name: r.dataset.service,"
            " status: r.querySelector('[data-status]').innerText.trim(),"
            " uptime: r.querySelector('[data-uptime]').dataset.uptime }));"
        ),
    )


def keep_buying(receiver_url: str, until: threading.Event) -> None:
    """Steady traffic on the receiver, about 50 requests a second, until told to stop."""
    paths = ["/purchase_a_sword", "/purchase_a_knife", "/join_guild"]
    with httpx.Client(base_url=receiver_url, timeout=10) as client:
        index = 0
        while not until.wait(0.02):
            client.post(paths[index % 3], json={"user_id": f"player-{index % 7}"})
            index += 1


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
    store = Store(services.process("store-api").url)

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
    # The processor's last update reads in local time like the page's own, exact on hover.
    wait.until(lambda d: text_of(d, "#last-updated") != "not yet")
    updated = browser.execute_script(
        "const t = document.getElementById('last-updated');"
        "const d = new Date(t.dateTime);"
        "return {text: t.textContent, iso: t.dateTime, title: t.title,"
        " local: [d.getHours(), d.getMinutes(), d.getSeconds()]"
        "   .map(p => String(p).padStart(2, '0')).join(':'),"
        " status: document.getElementById('refresh-status').textContent};"
    )
    assert updated["iso"].endswith("Z") or updated["iso"].endswith("+00:00"), updated
    # Local time on a 24-hour clock, as the charts' axes read (never "5:51:50 PM").
    assert updated["text"] == updated["local"] and "T" not in updated["text"], updated
    assert re.search(r"Updated \d\d:\d\d:\d\d;", updated["status"]), updated
    assert updated["title"] == updated["iso"], updated
    wait.until(lambda d: text_of(d, "li[data-code='0003']").startswith("0003 Events Logged: 1"))
    assert text_of(browser, "li[data-code='0001']").startswith("0001 Events Logged: 1")
    assert "processor started" in text_of(browser, "li[data-code='0003']")

    # Orders placed and cancelled through the store reach the orders chart.
    shopper = store.register("dashboard")
    orders = [
        store.http.post("/orders", json={"product_id": 1, "quantity": 1}, headers=shopper.auth)
        for _ in range(3)
    ]
    assert [order.status_code for order in orders] == [201, 201, 201]
    cancelled = store.http.delete(f"/orders/{orders[0].json()['id']}", headers=shopper.auth)
    assert cancelled.status_code == 200
    wait.until(lambda d: chart(d, "orders-chart").get("last") == {"placed": 3, "cancelled": 1})

    # Under steady traffic the rate of each type rises above zero, on time and value axes.
    stop = threading.Event()
    load = threading.Thread(target=keep_buying, args=(receiver.url, stop), daemon=True)
    load.start()
    try:
        wait.until(
            lambda d: all(
                chart(d, "events-chart").get("peak", {}).get(kind, 0) >= 4
                for kind in ("purchase_sword", "purchase_knife", "join_guild")
            )
        )
        events = chart(browser, "events-chart")
        assert events["x_type"] == "time" and events["x_title"] == "time"
        assert events["x_ticks"] >= 2 and events["y_ticks"] >= 2, events
        assert events["y_title"] == "events per second"
        assert {"purchase_sword", "purchase_knife", "join_guild"} <= set(events["legend"])
        assert events["ink"] > 0.01, "axes, labels and lines are drawn on the canvas"
        consumers = chart(browser, "consumers-chart")
        assert any(label.startswith("lag: ") for label in consumers["legend"]), consumers
        assert any(label.startswith("set aside: ") for label in consumers["legend"]), consumers
        assert consumers["x_type"] == "time" and consumers["y_title"] == "messages"
        rows = service_rows(browser)
        assert {row["status"] for row in rows} == {"✓ up"}, rows
        uptimes = [row["uptime"] for row in rows]
        assert len(uptimes) == 7 and all(float(u) > 0 for u in uptimes), uptimes

        # At 1400x1000 each chart fills its card (its row may be taller than it needs), and
        # an uptime such as "1 min 17 s" keeps to one line.
        browser.set_window_size(1400, 1000)
        layout = browser.execute_script(
            "const cards = [...document.querySelectorAll('.chart-panel')].map(card => {"
            "  const box = card.querySelector('.chart-box');"
            "  const notes = [...card.children].filter(c => c !== box)"
            "    .reduce((sum, c) => { const st = getComputedStyle(c);"
            "      return sum + c.getBoundingClientRect().height"
            "        + parseFloat(st.marginTop) + parseFloat(st.marginBottom); }, 0);"
            "  return {card: card.clientHeight, chart: box.getBoundingClientRect().height,"
            "          notes: notes}; });"
            "const cell = document.querySelector('#services-body [data-uptime]');"
            "const line = parseFloat(getComputedStyle(cell).lineHeight) || 20;"
            "return {cards, uptime: cell.getBoundingClientRect().height, line};"
        )
        for card in layout["cards"]:
            # What the card does not give its text and padding (2 rem), the chart takes.
            # (Before, a chart kept 16 rem however tall its row: a third of its card.)
            assert card["chart"] >= card["card"] - card["notes"] - 40, layout
        assert layout["uptime"] < 2 * layout["line"], layout
    finally:
        stop.set()
        load.join()

    services.process("event-logger").stop()
    event_logger_status = "tr[data-service='event-logger'] [data-status]"
    wait.until(lambda d: text_of(d, event_logger_status) == "✗ down")
    # Why, in words on the page (for a stalled consumer, the detail of its 503).
    assert text_of(browser, "tr[data-service='event-logger'] [data-detail]") != ""
    assert text_of(browser, "#stat-total") != "", "the rest of the page still shows"
    # The notice follows the next refresh that finds the event-logger gone: while it stops,
    # /health already says so when its counts may still answer.
    wait.until(lambda d: "Event logger unavailable" in text_of(d, "#event-log-notice"))
    wait.until(lambda d: "event-logger" in text_of(d, "#consumers-notice"))
    assert browser.execute_script("return window.loadMarker") == "first load"

    # Readable on a phone-width screen: nothing wider than the viewport.
    browser.set_window_size(390, 844)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0
