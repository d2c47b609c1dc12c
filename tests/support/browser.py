"""A real headless Chromium for the tests that look at the dashboard as a user does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

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
