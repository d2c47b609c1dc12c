"""The dashboard while ``merchstore simulate`` runs: every chart moves (the README's picture).

``MERCHSTORE_SCREENSHOT_DIR=docs .venv/bin/pytest tests/e2e/test_dashboard_under_simulation.py``
takes the README's ``docs/dashboard.png`` again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.browser import chart, chromium, text_of
from tests.support.processes import stop_process
from tests.support.up import UpProcess, free_up_ports, start_simulate, stop_up, up_environment

pytestmark = pytest.mark.timeout(900)
PLAYER_TYPES = ("purchase_sword", "purchase_knife", "join_guild", "default")


def test_under_simulated_traffic_every_chart_of_the_dashboard_moves(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ports = free_up_ports()
    env = up_environment(ports)
    up = UpProcess(data_dir, env)
    simulate: subprocess.Popen[str] | None = None
    try:
        up.wait_for("merchstore is up")
        simulate = start_simulate(data_dir, "--duration", "0", "--rate", "30", quiet=True)
        with chromium(tmp_path / "chromium") as browser:
            browser.get(f"http://127.0.0.1:{ports['dashboard']}/")
            wait = WebDriverWait(browser, 240, poll_frequency=0.5)
            wait.until(
                lambda d: all(
                    chart(d, "events-chart").get("peak", {}).get(kind, 0) > 0
                    for kind in PLAYER_TYPES
                )
            )
            wait.until(
                lambda d: (chart(d, "orders-chart").get("last") or {}).get("cancelled", 0) > 0
            )
            orders = chart(browser, "orders-chart")["last"]
            assert orders["placed"] > orders["cancelled"] > 0, orders
            assert int(text_of(browser, "#stat-total")) > 0
            assert float(text_of(browser, "#revenue")) > 0
            if os.environ.get("MERCHSTORE_SCREENSHOT_DIR"):
                time.sleep(45)  # the README's picture: a minute of steady traffic on the charts
            screenshot = tmp_path / "dashboard.png"
            browser.save_screenshot(str(screenshot))
        assert simulate.poll() is None, "simulate runs until stopped"
    finally:
        if simulate is not None:
            stop_process(simulate, 60)
        stop_up(up.process, data_dir)
    if os.environ.get("MERCHSTORE_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(os.environ["MERCHSTORE_SCREENSHOT_DIR"]) / "dashboard.png")
