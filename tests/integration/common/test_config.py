"""Configuration: YAML defaults, YAML file and environment overrides, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_service_does_not_start_with_a_bad_value(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "merchstore", "serve", "event-logger"],
        env={"MERCHSTORE_EVENT_LOGGER__BATCH_SIZE": "0", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "event_logger.batch_size" in result.stderr
    assert "MERCHSTORE_EVENT_LOGGER__BATCH_SIZE" in result.stderr
