"""The chaos run, short (2 minutes), as CI runs it: processes die, nothing is lost or doubled."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from merchstore.runtime.up import stop_leftovers
from merchstore.settings import load_settings
from tests.support.up import free_up_ports, up_environment

pytestmark = pytest.mark.timeout(1200)


def figure(output: str, name: str) -> str:
    """The value of one row of the run's figures table."""
    found = re.search(rf"│ {re.escape(name)}\s+│ (.+?)\s+│", output)
    assert found, (name, output[-4000:])
    return found.group(1)


@pytest.mark.parametrize(
    "broker, first", [("embedded", "db-service"), ("kafka", "kafka")], ids=["embedded", "kafka"]
)
def test_two_minutes_of_kills_lose_and_double_nothing(
    tmp_path: Path, broker: str, first: str
) -> None:
    """On Apache Kafka the broker itself is killed first (then the deck, itself again maybe)."""
    data_dir = tmp_path / "data"
    env = {**os.environ, **up_environment(free_up_ports())}
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "merchstore.tools.chaos",
                "--minutes",
                "2",
                "--broker",
                broker,
                "--first",
                first,
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=1100,
        )
    finally:
        # A run that failed half-way leaves nothing behind either.
        stop_leftovers(data_dir, load_settings())
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    kills = int(figure(output, "kills").split(":")[0])
    assert kills >= 3, output[-4000:]
    assert figure(output, "lost") == "0" and figure(output, "doubled") == "0"
    assert int(figure(output, "requests acknowledged")) > 500
    # Every kill is seen by `up` and answered by a restart; the first is the one asked for.
    assert output.count("exited unexpectedly") >= kills, output[-4000:]
    assert re.search(rf"chaos: +[0-9.]+ s  SIG[A-Z]+ {first} \(pid", output), output[-4000:]
    if broker == "kafka":
        assert "Apache Kafka ready again" in output
