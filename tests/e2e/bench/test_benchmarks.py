"""Every benchmark of ``make bench`` runs end to end at its smallest setting, then the summary.

A benchmark that only runs by hand breaks unseen. Here each one runs as ``make bench`` runs it
(``python -m bench.NAME``) with a few thousand messages (a consumer's rate needs more than one
batch) or a second of load, one turn of each measurement (``MERCHSTORE_BENCH_SMOKE``), its
results and report written to the test's own folder. What is checked is that it finishes,
prints its goals and saves them with a figure for each; at this size the figures judge
nothing, so no verdict is asserted.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import GOAL_HEADER
from tests.support.paths import REPOSITORY

pytestmark = pytest.mark.bench

SMALLEST = {
    "event_logger": ("event-logger", ["--messages", "3000", "--large-rows", "2000"]),
    "pipeline": ("pipeline", ["--seconds", "1"]),
    "store_api": ("store", ["--seconds", "1"]),
    "logging_service": ("logging", ["--lines", "300", "--seconds", "1"]),
    "log_spool": ("log_spool", ["--seconds", "1"]),
    "outage": ("outage", ["--requests", "300", "--seconds", "1"]),
    "scale": ("scale", ["--seconds", "1", "--events", "3000"]),
    "embedded_broker": ("embedded-broker", ["--seconds", "1"]),
    "brokers": ("brokers", ["--seconds", "1", "--events", "3000", "--log-messages", "3000"]),
    "tracing": ("tracing", ["--seconds", "1", "--events", "3000", "--turns", "1"]),
    "security": ("security", ["--seconds", "1", "--turns", "1"]),
}
"""Each benchmark module, the name it saves its results under, and its smallest setting."""


def run(module: str, arguments: list[str], results: Path) -> subprocess.CompletedProcess[str]:
    """``python -m bench.MODULE`` at the smallest setting, its results kept in ``results``."""
    return subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *arguments],
        cwd=REPOSITORY,
        env={
            **os.environ,
            "MERCHSTORE_BENCH_SMOKE": "1",
            "MERCHSTORE_BENCH_RESULTS": str(results),
            "MERCHSTORE_BENCH_REPORT": str(results / "report"),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.timeout(900)
@pytest.mark.parametrize("module", sorted(SMALLEST))
def test_the_benchmark_runs_end_to_end_and_the_summary_reports_it(
    module: str, tmp_path: Path
) -> None:
    name, arguments = SMALLEST[module]
    measured = run(module, arguments, tmp_path)
    assert measured.returncode == 0, measured.stdout[-3000:] + measured.stderr[-3000:]
    assert GOAL_HEADER[0] in measured.stdout, measured.stdout[-3000:]
    saved = json.loads((tmp_path / f"{name}.json").read_text())
    assert saved["goals"], saved
    for goal in saved["goals"]:
        assert math.isfinite(goal["figure"]) and goal["figure"] >= 0, goal
    summary = run("summary", [], tmp_path)
    assert summary.returncode == 0, summary.stdout[-3000:] + summary.stderr[-3000:]
    report = (tmp_path / "report" / "benchmarks.md").read_text()
    assert all(goal["path"] in report for goal in saved["goals"]), report


@pytest.mark.timeout(900)
def test_the_profiler_records_every_hot_path_on_both_brokers(tmp_path: Path) -> None:
    """``make bench-profile`` at its smallest: a flame graph and a table per path and broker."""
    recorded = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.profile",
            *("--seconds", "1", "--messages", "3000", "--lines", "20000"),
        ],
        cwd=REPOSITORY,
        env={**os.environ, "MERCHSTORE_BENCH_PROFILES": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=800,
    )
    assert recorded.returncode == 0, recorded.stdout[-3000:] + recorded.stderr[-3000:]
    for path in ("receiver", "event-logger", "logging-service", "store-api"):
        for broker in ("embedded", "kafka"):
            name = f"{path}-{broker}"
            assert (tmp_path / f"{name}.svg").read_text().startswith("<?xml"), name
            table = (tmp_path / f"{name}.txt").read_text()
            assert table.startswith(f"{name}: ") and "own samples" in table, table
    assert not list(tmp_path.glob("*.stacks"))
