"""``merchstore up`` end to end: real PostgreSQL, real broker, supervised service processes."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from confluent_kafka.admin import AdminClient

from tests.support.processes import free_port, http_ok, wait_until


class UpProcess:
    """``merchstore up`` in the background, its output collected line by line."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "merchstore", "up", "--data-dir", str(data_dir)],
            env={**os.environ, **env},
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

    def wait_for(self, text: str, timeout_s: float = 90.0) -> str:
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


SERVICES = (
    "event_logger",
    "storage",
    "receiver",
    "processor",
    "db_service",
    "store_api",
    "dashboard",
)


@pytest.fixture
def up_ports() -> dict[str, int]:
    return {name: free_port() for name in ("kafka", *SERVICES)}


@pytest.fixture
def up_env(up_ports: dict[str, int]) -> dict[str, str]:
    env = {"MERCHSTORE_EMBEDDED__KAFKA_PORT": str(up_ports["kafka"])}
    for name in SERVICES:
        env[f"MERCHSTORE_{name.upper()}__PORT"] = str(up_ports[name])
    return env


@pytest.fixture
def running_up(tmp_path: Path, up_env: dict[str, str]) -> Iterator[UpProcess]:
    up = UpProcess(tmp_path / "data", up_env)
    yield up
    if up.process.poll() is None:
        up.process.kill()
        up.process.wait()


def test_up_runs_restarts_and_stops_cleanly(
    running_up: UpProcess, tmp_path: Path, up_ports: dict[str, int]
) -> None:
    up = running_up
    up.wait_for("merchstore is up")
    assert any("memory only" in line for line in up.lines), "the broker's caveat is shown"

    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{up_ports['kafka']}"})
    topics = admin.list_topics(timeout=10).topics
    assert {
        name: len(topics[name].partitions) for name in ("events", "event_log", "log-channel")
    } == {
        "events": 3,
        "event_log": 1,
        "log-channel": 1,
    }

    event_logger_url = f"http://127.0.0.1:{up_ports['event_logger']}"
    assert http_ok(f"{event_logger_url}/health")

    # Every process `up` started, including PostgreSQL (daemonised, so not a child).
    postmaster_pid = int((tmp_path / "data/postgres/postmaster.pid").read_text().split()[0])
    started = [psutil.Process(up.process.pid), *psutil.Process(up.process.pid).children(True)]
    started.append(psutil.Process(postmaster_pid))
    service = next(p for p in started if "serve" in p.cmdline() and "event-logger" in p.cmdline())

    # A child killed with SIGKILL is restarted, and says so.
    service.send_signal(signal.SIGKILL)
    up.wait_for("restarted as pid", timeout_s=60)
    wait_until(lambda: http_ok(f"{event_logger_url}/health"), 60, "event-logger back")
    started.extend(psutil.Process(up.process.pid).children(True))

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0
    for process in started:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE, (
            f"left behind: {process.pid} {process.cmdline()}"
        )


def test_up_fails_fast_when_a_port_is_taken(
    tmp_path: Path, up_env: dict[str, str], up_ports: dict[str, int]
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", up_ports["event_logger"]))
        squatter.listen()
        result = subprocess.run(
            [sys.executable, "-m", "merchstore", "up", "--data-dir", str(tmp_path / "data")],
            env={**os.environ, **up_env},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"event-logger: port {up_ports['event_logger']}" in result.stdout
    assert "MERCHSTORE_EVENT_LOGGER__PORT" in result.stdout


def test_up_reports_a_service_that_cannot_start(tmp_path: Path, up_env: dict[str, str]) -> None:
    # A database path that cannot be created makes the event-logger exit at once, every time.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {
        **up_env,
        "MERCHSTORE_EVENT_LOGGER__DATABASE_FILE": str(blocker / "events.sqlite3"),
        "MERCHSTORE_SUPERVISOR__START_RETRIES": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "merchstore", "up", "--data-dir", str(tmp_path / "data")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "event-logger could not start" in result.stdout
    assert "event-logger.log" in result.stdout
