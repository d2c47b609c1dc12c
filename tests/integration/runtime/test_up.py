"""``merchstore up`` end to end: real PostgreSQL, real broker, supervised service processes."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from confluent_kafka.admin import AdminClient

from merchstore.common.run_folder import BROKER_ADDRESS_FILE
from merchstore.services import SERVICES
from tests.integration.runtime.conftest import (
    UpProcess,
    postmaster_pid,
    processes_of,
    still_running,
    stop_up,
)
from tests.support.processes import service_ready, wait_until


def first_steps(lines: list[str]) -> list[str]:
    """The commands ``up`` printed under "Try it", their comments left out."""
    start = next(i for i, line in enumerate(lines) if line.startswith("Try it"))
    steps = []
    for line in lines[start + 1 :]:
        if not line.startswith("  ") or line.strip().startswith("and the dashboard"):
            break
        steps.append(line.split("  #")[0].strip())
    return steps


def the_first_steps_run_as_printed(up: UpProcess, env: dict[str, str]) -> None:
    """Each of the three commands ``up`` prints does what its comment says, typed as printed."""
    products, sword, tail = first_steps(up.lines)

    def shell(command: str) -> str:
        ran = subprocess.run(
            ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60
        )
        assert ran.returncode == 0, f"{command}: {ran.stderr}"
        return ran.stdout

    assert [p["id"] for p in json.loads(shell(products))] == [1, 2, 3]
    assert "event_id" in json.loads(shell(sword))
    printed: list[str] = []
    with subprocess.Popen(
        ["bash", "-c", tail], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as following:
        assert following.stdout is not None
        reader = threading.Thread(target=lambda: printed.extend(following.stdout or []))
        reader.start()

        def shown() -> bool:
            shell(products)
            return any("[store-api]" in line and "/products" in line for line in printed)

        try:
            wait_until(shown, 60, f"{tail!r} to show the store's request")
        finally:
            following.send_signal(signal.SIGINT)
            assert following.wait(30) == 0
            reader.join(10)


def test_up_runs_restarts_and_stops_cleanly(
    running_up: UpProcess, tmp_path: Path, up_ports: dict[str, int], up_env: dict[str, str]
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
    assert service_ready(event_logger_url)

    status = subprocess.run(
        [sys.executable, "-m", "merchstore", "status"],
        env={**os.environ, **up_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stdout
    assert status.stdout.count(" ready ") == 8

    # The real Prometheus `up --prometheus` runs scrapes every service, and answers a request
    # rate through its HTTP query API.
    prometheus = f"http://127.0.0.1:{up_ports['prometheus']}"
    receiver_url = f"http://127.0.0.1:{up_ports['receiver']}"

    def query(promql: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["data"]["result"])

    def every_target_up() -> bool:
        return {r["metric"]["job"] for r in query("up == 1")} == {s.name for s in SERVICES}

    wait_until(every_target_up, 60, "Prometheus to scrape every service")

    def receiver_rate() -> float:
        for _ in range(20):
            httpx.post(f"{receiver_url}/join_guild", json={"user_id": "7"}, timeout=10)
        result = query('sum(rate(http_requests_total{job="receiver",route="/join_guild"}[5s]))')
        return float(result[0]["value"][1]) if result else 0.0

    wait_until(lambda: receiver_rate() > 0, 60, "a request rate read back from Prometheus")

    # The tails find this broker from the data directory alone, with no other setting.
    tail_env = {k: v for k, v in os.environ.items() if not k.startswith("MERCHSTORE_")}
    the_first_steps_run_as_printed(up, tail_env)
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "merchstore",
            "events",
            "tail",
            "--topic",
            "event_log",
            "--from-beginning",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=tail_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as tail_process:
        try:
            assert tail_process.stdout is not None
            first = tail_process.stdout.readline()
            # The first message of event_log, the receiver's or another service's announcement.
            assert re.search(r"\b000[1-9]\b", first), first
        finally:
            tail_process.send_signal(signal.SIGTERM)
            tail_process.wait(30)

    started = processes_of(up.process.pid, tmp_path / "data")
    service = next(p for p in started if "serve" in p.cmdline() and "event-logger" in p.cmdline())

    # A child killed with SIGKILL is restarted, and says so.
    service.send_signal(signal.SIGKILL)
    up.wait_for("restarted as pid", timeout_s=60)
    wait_until(lambda: service_ready(event_logger_url), 60, "event-logger back")
    started.extend(psutil.Process(up.process.pid).children(True))

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0
    assert still_running(started) == []

    # Stopped in the reverse of the start order: each service before the ones it relies on.
    start_order = [m[1] for line in up.lines if (m := re.fullmatch(r"starting (\S+) \.\.\.", line))]
    logs = tmp_path / "data/logs"
    stop_order = re.findall(r"stopped: (\S+) ", (logs / "supervisord.log").read_text())
    assert stop_order == start_order[::-1]
    # So logging-service was still there to take db-service's last lines.
    assert " lost" not in (logs / "db-service.log").read_text()


def test_up_fails_fast_when_a_port_is_taken(
    tmp_path: Path, up_env: dict[str, str], up_ports: dict[str, int]
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", up_ports["processor"]))
        squatter.listen()
        result = subprocess.run(
            [sys.executable, "-m", "merchstore", "up", "--data-dir", str(tmp_path / "data")],
            env={**os.environ, **up_env},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"processor: port {up_ports['processor']}" in result.stdout
    assert "set MERCHSTORE_PROCESSOR__PORT" in result.stdout


def test_up_reports_a_service_that_cannot_start(tmp_path: Path, up_env: dict[str, str]) -> None:
    # A database path that cannot be created makes the event-logger exit at once, every time.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {
        **up_env,
        "MERCHSTORE_EVENT_LOGGER__DATABASE_FILE": str(blocker / "events.sqlite3"),
        # No retry: the second start already proves it, however slowly the machine runs.
        "MERCHSTORE_SUPERVISOR__START_RETRIES": "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "merchstore", "up", "--data-dir", str(tmp_path / "data")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 1
    assert "event-logger could not start" in result.stdout
    assert "event-logger.log" in result.stdout


def test_a_killed_up_leaves_nothing_the_next_run_does_not_stop(
    tmp_path: Path, up_env: dict[str, str]
) -> None:
    data_dir = tmp_path / "data"
    first = UpProcess(data_dir, up_env)
    try:
        first.wait_for("merchstore is up")
        # Each service is timed from supervisord's start of them all, so the times only grow.
        ready_after = [
            float(m.group(1))
            for line in first.lines
            if (m := re.search(r"ready, ([\d.]+) s after the services were started", line))
        ]
        assert len(ready_after) == len(SERVICES) and ready_after == sorted(ready_after)
        assert ready_after[-1] > 0
        started = processes_of(first.process.pid, data_dir)
        postmaster = postmaster_pid(data_dir)
        first.process.kill()  # killed outright: it cannot stop anything it started
        first.process.wait()
        # The kernel asks supervisord (which stops every service) and the broker to stop.
        children = [process for process in started if process.pid != postmaster]
        wait_until(lambda: still_running(children) == [], 60, "up's children to stop")
        assert len(still_running(started)) == 1, "PostgreSQL detached: the next run stops it"

        second = UpProcess(data_dir, up_env)
        try:
            second.wait_for("merchstore is up")
            assert any(
                "PostgreSQL" in line and "killed earlier run" in line for line in second.lines
            )
            assert still_running(started) == []

            # While it runs, the data directory is its own.
            third = UpProcess(data_dir, up_env)
            assert third.process.wait(60) == 1
            refusal = third.wait_for("another")
            assert "another `merchstore up`" in refusal and "other ports" in refusal
            # Refused, it started and stops nothing: the running one's files stay as they are.
            time.sleep(0.5)  # its last lines reach the reader thread
            third.wait_for("another")
            assert not any(line.strip() == "stopped." for line in third.lines), third.lines
            assert (data_dir / BROKER_ADDRESS_FILE).read_text()

            restarted = processes_of(second.process.pid, data_dir)
            second.process.send_signal(signal.SIGTERM)
            assert second.process.wait(90) == 0
            assert still_running(restarted) == []
        finally:
            stop_up(second.process, data_dir)
    finally:
        stop_up(first.process, data_dir)


def test_a_closed_terminal_stops_up_and_everything_it_started(
    tmp_path: Path, up_env: dict[str, str]
) -> None:
    data_dir = tmp_path / "data"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "merchstore", "up", "--data-dir", str(data_dir)],
        env={**os.environ, **up_env},
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    try:
        output = ""

        def up_says_so() -> bool:
            nonlocal output
            if select.select([controller], [], [], 0.2)[0]:
                output += os.read(controller, 65536).decode(errors="replace")
            return "merchstore is up" in output

        wait_until(up_says_so, 90, "merchstore up to be up")
        started = processes_of(process.pid, data_dir)
        # The window closes: the terminal is gone (every later write fails) and SIGHUP comes.
        os.close(controller)
        controller = -1
        process.send_signal(signal.SIGHUP)
        assert process.wait(90) == 0
        assert still_running(started) == []
    finally:
        if controller != -1:
            os.close(controller)
        stop_up(process, data_dir)
