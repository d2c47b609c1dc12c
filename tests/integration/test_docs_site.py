"""The documentation site: built with every link and anchor checked, served by ``make docs``.

The site is MkDocs with the Material theme over ``docs/``. ``--strict`` turns every warning
(a link to a missing page, an anchor no heading makes, a page left out of the navigation) into
a failed build; a broken copy of the site shows that it does. ``make docs`` serves the site,
and Chromium with no way out of this machine draws the architecture page's two diagrams from
the Mermaid the Makefile fetched from the npm registry.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.browser import chromium
from tests.support.paths import REPOSITORY
from tests.support.processes import free_port, wait_until

MKDOCS = Path(sys.executable).parent / "mkdocs"
QUIET = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
OPEN_SHADOW_ROOTS = """
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  return attach.call(this, { ...init, mode: "open" });
};
"""
DIAGRAM_TEXTS = """
return [...document.querySelectorAll(".mermaid")]
  .map((diagram) => diagram.shadowRoot && diagram.shadowRoot.querySelector("svg"))
  .filter((svg) => svg)
  .map((svg) => svg.textContent);
"""


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the site whose ``mkdocs.yml`` is in ``root``."""
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        env=QUIET,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_site_builds_with_every_link_checked(tmp_path: Path) -> None:
    built = build(REPOSITORY, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    for page in ("index.html", "tour/index.html", "architecture/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    assert (tmp_path / "site" / "assets" / "javascripts" / "mermaid.min.js").is_file()


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        ("[the store](services/shop.md)", "services/shop.md"),
        ("[the tour](tour.md#no-such-section)", "no-such-section"),
    ],
)
def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path, breakage: str, named: str) -> None:
    copy = tmp_path / "repository"
    shutil.copytree(
        REPOSITORY / "docs", copy / "docs", ignore=shutil.ignore_patterns("node_modules")
    )
    shutil.copy(REPOSITORY / "mkdocs.yml", copy)
    with (copy / "docs" / "index.md").open("a") as index:
        index.write(f"\nRead {breakage}.\n")
    built = build(copy, tmp_path / "site")
    assert built.returncode != 0
    assert named in built.stderr


def test_make_docs_serves_the_site_and_its_diagrams_draw_offline(tmp_path: Path) -> None:
    port = free_port()
    served = subprocess.Popen(
        ["make", "--no-print-directory", "docs", f"DOCS_PORT={port}"],
        cwd=REPOSITORY,
        env=QUIET,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/architecture/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 120, "make docs to serve the site")
        with chromium(tmp_path / "profile", offline=True) as driver:
            # The theme draws each diagram in a closed shadow root; opened here to be read.
            driver.execute_cdp_cmd(
                "Page.addScriptToEvaluateOnNewDocument", {"source": OPEN_SHADOW_ROOTS}
            )
            driver.get(f"{base}/architecture/")

            def diagrams() -> list[str]:
                return list(driver.execute_script(DIAGRAM_TEXTS))

            wait_until(lambda: len(diagrams()) == 2, 60, "both architecture diagrams drawn")
            local, compose = diagrams()
            assert "store-api :8000" in local and "NGINX" not in local
            assert "NGINX" in compose and "Apache Kafka" in compose
    finally:
        os.killpg(served.pid, signal.SIGTERM)
        served.wait(30)
