"""Finding and stopping what a killed ``merchstore up`` left, on real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil

from merchstore.runtime.leftovers import running_process, stop_leftover

SLEEPER = "import signal, time; {ignore}print('ready', flush=True); time.sleep(60)"


def sleeper(marker: str, ignore_sigterm: bool = False) -> subprocess.Popen[bytes]:
    """A process that waits a minute, its command line holding ``marker``; returned once ready."""
    ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignore_sigterm else ""
    process = subprocess.Popen(
        [sys.executable, "-c", SLEEPER.format(ignore=ignore), marker], stdout=subprocess.PIPE
    )
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    return process


def test_only_the_process_its_pid_file_names_with_the_marker_is_stopped(tmp_path: Path) -> None:
    ours, theirs = sleeper("run-a"), sleeper("something-else")
    try:
        (tmp_path / "ours.pid").write_text(f"{ours.pid}\n")
        (tmp_path / "reused.pid").write_text(f"{theirs.pid}\n")  # a pid reused since
        assert stop_leftover(tmp_path / "reused.pid", "run-a", signal.SIGTERM, 5) is None
        assert theirs.poll() is None, "an unrelated process is left alone"

        assert running_process(tmp_path / "ours.pid", "run-a") is not None
        assert stop_leftover(tmp_path / "ours.pid", "run-a", signal.SIGTERM, 5) == ours.pid
        # Stopped by the signal (its exit status went to the wait inside stop_leftover).
        assert ours.wait(5) is not None and not psutil.pid_exists(ours.pid)
        assert not (tmp_path / "ours.pid").exists()
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()


def test_a_leftover_that_ignores_its_stop_signal_is_killed(tmp_path: Path) -> None:
    stubborn = sleeper("run-b", ignore_sigterm=True)
    try:
        (tmp_path / "stubborn.pid").write_text(f"{stubborn.pid}\n")
        assert stop_leftover(tmp_path / "stubborn.pid", "run-b", signal.SIGTERM, 1.0)
        assert stubborn.wait(5) == -signal.SIGKILL
    finally:
        stubborn.kill()
        stubborn.wait()
        assert stubborn.stdout is not None
        stubborn.stdout.close()


def test_no_pid_file_a_garbled_one_or_a_dead_pid_is_nothing_to_stop(tmp_path: Path) -> None:
    assert stop_leftover(tmp_path / "missing.pid", "x", signal.SIGTERM, 1) is None
    (tmp_path / "garbled.pid").write_text("not a pid\n")
    assert stop_leftover(tmp_path / "garbled.pid", "x", signal.SIGTERM, 1) is None
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "gone.pid").write_text(f"{gone.pid}\n")
    assert running_process(tmp_path / "gone.pid", "python") is None
