"""What a killed ``merchstore up`` would leave running, and how it is stopped all the same.

Where the system allows it (Linux), the kernel asks supervisord and the broker to stop when
``up`` dies. Otherwise, and for PostgreSQL (which detaches from ``up``), the next run finds
them through their pid files and stops them. Stopping a process and what it started is one
function here, for leftovers and for ``up``'s own supervisord alike.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from contextlib import suppress
from pathlib import Path

import psutil


def stopped_with_parent(command: list[str], stop_signal: signal.Signals) -> list[str]:
    """``command`` run so that it is sent ``stop_signal`` when its parent dies (Linux).

    ``merchstore up`` killed outright cannot stop supervisord or the broker; the kernel then
    asks them to stop as ``up`` would have. util-linux's ``setpriv`` asks for the signal and
    execs the command in place (same pid): a ``preexec_fn`` would run Python in the forked
    child, where the fork handlers of libraries such as gRPC's C core can abort it before
    exec. Where ``setpriv`` is missing the command runs as is and the next run stops leftovers.
    """
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        return command
    return [setpriv, f"--pdeathsig={stop_signal.name}", "--", *command]


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
    stop_process_tree(process, stop_signal, timeout_s)
    pid_file.unlink(missing_ok=True)
    return process.pid


def stop_process_tree(process: psutil.Process, stop_signal: int, timeout_s: float) -> None:
    """Send ``process`` ``stop_signal``; SIGKILL it after ``timeout_s``, and anything it started.

    What it started is looked up first: once it has exited, its children can no longer be
    found through it.
    """
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
