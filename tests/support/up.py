"""``merchstore up`` as the tests run it: the process and its output, free ports, stopping it."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from merchstore.common.metrics import METRICS_PORT_OFFSET
from merchstore.runtime.embedded import PGDATA_DIR
from merchstore.runtime.up import stop_leftovers
from merchstore.services import SERVICES
from merchstore.settings import load_settings
from tests.support.processes import free_port, free_port_pair, stop_process, wait_until


class UpProcess:
    """``merchstore up`` in the background, its output collected line by line."""

    def __init__(
        self, data_dir: Path, env: dict[str, str], *options: str, cwd: Path | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "merchstore", "up", "--data-dir", str(data_dir), *options],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float = 200.0) -> str:
        """Wait for an output line containing ``text``."""
        found: list[str] = []

        def seen() -> bool:
            while not self._queue.empty():
                self.lines.append(self._queue.get())
            found.extend(line for line in self.lines if text in line)
            return bool(found)

        try:
            wait_until(seen, timeout_s, f"{text!r} in the output of merchstore up")
        except AssertionError:
            raise AssertionError("output so far:\n" + "\n".join(self.lines)) from None
        return found[0]


def free_up_ports() -> dict[str, int]:
    """Free ports for the broker, Prometheus, Zipkin, every service (``event_logger``, ...)."""
    taken: set[int] = set()
    ports: dict[str, int] = {}
    for name, grpc in [
        ("kafka", False),
        ("kafka_controller", False),
        ("prometheus", False),
        ("trace_backend", False),
        *((spec.name.replace("-", "_"), spec.protocol == "grpc") for spec in SERVICES),
    ]:
        while True:
            # A gRPC service also serves /metrics on its port + 100: both must be free.
            port = free_port_pair(METRICS_PORT_OFFSET) if grpc else free_port()
            uses = {port, port + METRICS_PORT_OFFSET} if grpc else {port}
            if not uses & taken:
                break
        ports[name] = port
        taken |= uses
    return ports


def up_environment(up_ports: dict[str, int]) -> dict[str, str]:
    """The environment that puts `up`'s broker, Prometheus and services on ``up_ports``."""
    env = {
        "MERCHSTORE_EMBEDDED__KAFKA_PORT": str(up_ports["kafka"]),
        "MERCHSTORE_EMBEDDED__KAFKA_CONTROLLER_PORT": str(up_ports["kafka_controller"]),
        "MERCHSTORE_PROMETHEUS__PORT": str(up_ports["prometheus"]),
        "MERCHSTORE_PROMETHEUS__SCRAPE_INTERVAL_S": "1",
        "MERCHSTORE_TRACING__BACKEND_PORT": str(up_ports["trace_backend"]),
        # A service starts in about a second on an idle machine, but the suite loads its two
        # cores with several JVMs and PostgreSQL servers at once: give each one time.
        "MERCHSTORE_SUPERVISOR__START_TIMEOUT_S": "180",
    }
    for spec in SERVICES:
        env[spec.port_setting] = str(up_ports[spec.name.replace("-", "_")])
    return env


def processes_of(up_pid: int, data_dir: Path) -> list[psutil.Process]:
    """Every process a running ``up`` started, itself included.

    PostgreSQL daemonises, so it is found through its pid file, not among the children.
    """
    up = psutil.Process(up_pid)
    found = [up, *up.children(recursive=True)]
    postmaster = postmaster_pid(data_dir)
    if postmaster is not None:
        found.append(psutil.Process(postmaster))
    return found


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the embedded PostgreSQL running under ``data_dir``, from its pid file."""
    pid_file = data_dir / PGDATA_DIR / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def still_running(processes: list[psutil.Process]) -> list[str]:
    """Those of ``processes`` still running (zombies count as gone), as readable lines."""
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{process.pid} {' '.join(process.cmdline())}")
        except psutil.Error:
            pass  # it ended (or became a zombie) while being looked at
    return left


def stop_up(process: subprocess.Popen[str], data_dir: Path) -> None:
    """Stop ``up`` as a user would (SIGTERM), then whatever it could not stop."""
    stop_process(process, 90)
    stop_leftovers(data_dir, load_settings())


def start_simulate(
    data_dir: Path, *options: str, env: dict[str, str] | None = None, quiet: bool = False
) -> subprocess.Popen[str]:
    """``merchstore simulate`` against the ``up`` on ``data_dir``, in the background.

    With no ``env``, no ``MERCHSTORE_`` setting is passed: it finds the system by its data
    directory alone, as a user's would.
    """
    environment = env or {k: v for k, v in os.environ.items() if not k.startswith("MERCHSTORE_")}
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, "-m", "merchstore", "simulate", "--data-dir", str(data_dir), *options],
        env=environment,
        stdout=output,
        stderr=output,
        text=True,
    )
