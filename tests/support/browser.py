"""A real headless Chromium for the tests that look at the dashboard as a user does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@contextmanager
def chromium(profile: Path, *, offline: bool = False) -> Iterator[WebDriver]:
    """Debian's Chromium, headless, with a new profile in ``profile``; quit at the end.

    ``offline``: every name but this machine's fails to resolve and no proxy is used, as on a
    machine without internet (a page that loads anything from a CDN shows what it lacks).
    """
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
        f"--user-data-dir={profile}",
        "--window-size=1280,1400",
    ):
        options.add_argument(argument)
    if offline:
        options.add_argument("--no-proxy-server")
        options.add_argument(
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
        )
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def text_of(driver: WebDriver, css: str) -> str:
    """The text of the first element matching ``css``, read in the page in one step.

    The page rebuilds its tables on every refresh, so an element found first and read after
    may already be gone.
    """
    return cast(
        str,
        driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';",
            css,
        ),
    )


def chart(driver: WebDriver, canvas_id: str) -> dict[str, Any]:
    """What Chart.js drew on a canvas: axes, legend, series and how much of the canvas is ink."""
    return cast(
        dict[str, Any],
        driver.execute_script(
            """
            const chart = Chart.getChart(arguments[0]);
            if (!chart) return null;
            const canvas = chart.canvas;
            const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let ink = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) ink++;
            return {
                x_type: chart.scales.x.type,
                x_title: chart.options.scales.x.title.text,
                x_ticks: chart.scales.x.ticks.length,
                y_title: chart.options.scales.y.title.text,
                y_ticks: chart.scales.y.ticks.length,
                legend: chart.legend.legendItems.map((item) => item.text),
                last: Object.fromEntries(chart.data.datasets.map((d) => {
                    const values = d.data.filter((p) => p.y !== null);
                    return [d.label, values.length ? values[values.length - 1].y : null];
                })),
                peak: Object.fromEntries(chart.data.datasets.map(
                    (d) => [d.label, Math.max(0, ...d.data.map((p) => p.y || 0))])),
                ink: ink / (canvas.width * canvas.height),
            };
            """,
            canvas_id,
        )
        or {},
    )
