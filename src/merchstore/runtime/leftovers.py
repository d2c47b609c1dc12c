"""What a killed ``merchstore up`` left running, found through its pid files and stopped."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

import psutil


def running_process(pid_file: Path, marker: str) -> psutil.Process | None:
    """The live process ``pid_file`` names, if its command line contains ``marker``.

    A pid file outlives a process killed outright, and its pid may name an unrelated process
    by now: the marker (a configuration file, a program name) tells them apart.
    """
    try:
        process = psutil.Process(int(pid_file.read_text().split()[0]))
        if process.pid != os.getpid() and any(marker in part for part in process.cmdline()):
            return process
    except (OSError, ValueError, IndexError, psutil.Error):
        pass  # no pid file, no such process, or not one we can read
    return None


def stop_leftover(pid_file: Path, marker: str, stop_signal: int, timeout_s: float) -> int | None:
    """Stop the process ``pid_file`` names if an earlier run left it; return its pid, or None.

    A ``merchstore up`` killed outright (SIGKILL, the out-of-memory killer) cannot stop what it
    started, which then holds the ports the next run needs. The process is only taken for that
    leftover if its command line contains ``marker`` (its configuration file, say): a stale pid
    file may name an unrelated process by now. It gets ``stop_signal``, then SIGKILL with
    everything under it after ``timeout_s``.
    """
    process = running_process(pid_file, marker)
    if process is None:
        return None
    try:
        descendants = process.children(recursive=True)
    except psutil.Error:
        descendants = []
    try:
        process.send_signal(stop_signal)
        process.wait(timeout_s)
    except psutil.TimeoutExpired:
        with suppress(psutil.NoSuchProcess):
            process.kill()
    except psutil.NoSuchProcess:
        pass  # it went on its own
    for child in descendants:
        with suppress(psutil.NoSuchProcess):
            child.kill()
    pid_file.unlink(missing_ok=True)
    return process.pid
