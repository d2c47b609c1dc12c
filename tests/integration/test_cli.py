"""The command line: fixed service names, one-line failures, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def merchstore(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERCHSTORE_")}
    return subprocess.run(
        [sys.executable, "-m", "merchstore", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_service_names_are_a_fixed_choice_listed_in_help(tmp_path: Path) -> None:
    help_text = "".join(merchstore("serve", "--help", cwd=tmp_path).stdout.split())
    assert "store-api" in help_text and "event-logger" in help_text
    for command in (["health", "badname"], ["serve", "badname"], ["openapi", "badname"]):
        result = merchstore(*command, cwd=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert "is not one of" in " ".join(result.stderr.split())


def test_status_of_a_system_that_is_not_running(tmp_path: Path) -> None:
    env_ports = {"MERCHSTORE_EVENT_LOGGER__PORT": "1"}  # nothing listens on port 1
    os.environ.update(env_ports)
    try:
        result = merchstore("status", cwd=tmp_path)
    finally:
        for key in env_ports:
            os.environ.pop(key)
    assert result.returncode == 1
    assert "NOT READY" in result.stdout and "Traceback" not in result.stderr
    assert len(result.stdout.splitlines()) == 8
