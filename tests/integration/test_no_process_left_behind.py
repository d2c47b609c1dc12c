"""The suite itself fails when a process a test started outlives it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from tests.support.paths import REPOSITORY


def test_a_leaked_process_fails_the_suite_and_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_sessionfinish\n")
    (tmp_path / "test_leaky.py").write_text(
        "import subprocess, pathlib\n"
        "def test_starts_and_forgets():\n"
        "    process = subprocess.Popen(['sleep', '300'])\n"
        "    pathlib.Path('leaked.pid').write_text(str(process.pid))\n"
    )
    # Its own session mark, so the inner check never touches this session's processes.
    monkeypatch.setenv("MERCHSTORE_TEST_SESSION", uuid.uuid4().hex)
    monkeypatch.setenv("PYTHONPATH", str(REPOSITORY))
    # Run from a parallel worker, the inner suite is a whole session of its own, not a worker.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "outlived the suite" in result.stdout
    pid = int((tmp_path / "leaked.pid").read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
