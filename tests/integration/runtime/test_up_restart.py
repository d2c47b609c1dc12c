"""``merchstore up``, stopped and started again on one data directory, on either broker.

The embedded broker keeps messages in memory only, so the second run's topics are new and their
offsets start at 0 again; Apache Kafka (``--broker kafka``) keeps its log under the data
directory, so the second run finds the first one's topics and messages. On both, every new
message must be counted and nothing old counted twice.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from merchstore.common.messages import DomainEvent
from tests.integration.runtime.conftest import UpProcess
from tests.support.kafka import produce_all, read_topic
from tests.support.processes import wait_until


def _url(ports: dict[str, int], service: str) -> str:
    return f"http://127.0.0.1:{ports[service]}"


def _event_log_on_broker(ports: dict[str, int], at_least: int) -> Counter[str]:
    """Codes of every message on this broker's event_log (read from the beginning)."""
    bootstrap = f"127.0.0.1:{ports['kafka']}"
    messages = read_topic(bootstrap, "event_log", at_least, timeout_s=60)
    return Counter(json.loads(m.value() or b"")["code"] for m in messages)


def _run_once(
    data_dir: Path,
    env: dict[str, str],
    ports: dict[str, int],
    events: int,
    stored_before: int,
    broker: str,
) -> tuple[Counter[str], dict[str, int]]:
    """Start up, send ``events`` events and one poison message, wait for them, stop.

    Returns the codes on the broker's event_log (all of them, earlier runs' included, where
    the broker kept them) and storage's counts.
    """
    up = UpProcess(data_dir, env, "--broker", broker)
    try:
        up.wait_for("merchstore is up")
        receiver, storage = _url(ports, "receiver"), _url(ports, "storage")
        for i in range(events):
            answer = httpx.post(f"{receiver}/join_guild", json={"user_id": str(i)}, timeout=10)
            assert answer.status_code == 201
        # A message storage cannot store, at a low offset of the new topic incarnation.
        poison = DomainEvent.new("join_guild", "\u0000").to_json()
        produce_all(f"127.0.0.1:{ports['kafka']}", "events", [poison], key=b"0")

        def stored() -> dict[str, int]:
            return dict(httpx.get(f"{storage}/events/count", timeout=5).json())

        wait_until(lambda: stored()["count"] == stored_before + events, 60, "events stored")
        # Lifecycle codes of this run: receiver, storage, processor, store-api, db-service, ...
        on_broker = _event_log_on_broker(ports, at_least=6 + stored_before // 5 * 6)
        wait_until(
            lambda: (
                httpx.get(f"{_url(ports, 'processor')}/stats", timeout=5).json()["total_events"]
                == stored_before + events
            ),
            60,
            "the processor to count every stored event",
        )
        counts = stored()
        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(60) == 0
        return on_broker, counts
    finally:
        if up.process.poll() is None:
            up.process.kill()
            up.process.wait()


# Two whole starts of the system, each given up's own 180 s a service on a loaded machine.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("broker", ["embedded", "kafka"])
def test_a_second_up_counts_every_new_message_and_nothing_twice(
    tmp_path: Path, up_env: dict[str, str], up_ports: dict[str, int], broker: str
) -> None:
    data_dir = tmp_path / "data"
    first_codes, first = _run_once(data_dir, up_env, up_ports, 5, 0, broker)
    stats_path = data_dir / "event-logger"
    counted_first = Counter({k: v for k, v in _stats_from_file(stats_path).items() if v})
    assert counted_first == first_codes
    assert first["dead_letters"] == 1

    on_broker, second = _run_once(data_dir, up_env, up_ports, 7, 5, broker)
    assert second["count"] == 12, "every new event stored, none of the old ones twice"
    assert second["dead_letters"] == 2, "a new poison message is new, at whatever offset"
    counted = Counter({k: v for k, v in _stats_from_file(stats_path).items() if v})
    if broker == "kafka":
        # Apache Kafka kept the first run's messages: event_log holds both runs' codes.
        assert counted == on_broker
        assert on_broker - first_codes != Counter(), "the second run announced itself"
    else:
        assert counted == first_codes + on_broker
    # app.log: each stored message once, one line each.
    log_ids = re.findall(r" id=(\d+) ", (stats_path / "app.log").read_text())
    assert len(log_ids) == len(set(log_ids)) == sum(counted.values())
    if broker == "kafka":
        first_events = _events_from_the_beginning(data_dir, up_env, up_ports, at_least=12)
        assert {str(i) for i in range(5)} <= first_events, "the first run's events are kept"


def _events_from_the_beginning(
    data_dir: Path, env: dict[str, str], ports: dict[str, int], at_least: int
) -> set[str]:
    """The user ids of ``events tail --from-beginning`` while a third ``up`` runs."""
    up = UpProcess(data_dir, env, "--broker", "kafka")
    try:
        up.wait_for("merchstore is up")
        tail = subprocess.run(
            [
                *(sys.executable, "-m", "merchstore", "events", "tail", "--from-beginning"),
                *("--json", "--max-messages", str(at_least)),
            ],
            env={**os.environ, **env, "MERCHSTORE_DATA_DIR": str(data_dir)},
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert tail.returncode == 0, tail.stderr
        return set(re.findall(r'"user_id": ?"(\d+)"', tail.stdout))
    finally:
        up.process.send_signal(signal.SIGTERM)
        up.process.wait(90)


def _stats_from_file(folder: Path) -> dict[str, int]:
    """The event-logger's counts, read from its database after it stopped."""
    with sqlite3.connect(folder / "events.sqlite3") as connection:
        rows = connection.execute("SELECT code, count FROM code_counts").fetchall()
    return {code: int(count) for code, count in rows}


def _acknowledged(receiver: str, user_id: str) -> None:
    """One event, retried with its Idempotency-Key until the receiver acknowledges it."""
    key = f"retry-{user_id}"

    def sent() -> bool:
        try:
            answer = httpx.post(
                f"{receiver}/join_guild",
                json={"user_id": user_id},
                headers={"Idempotency-Key": key},
                timeout=10,
            )
        except httpx.HTTPError:
            return False
        return answer.status_code == 201

    wait_until(sent, 120, f"event of {user_id} acknowledged", interval_s=0.5)


def test_a_killed_kafka_node_is_started_again_and_keeps_what_it_acknowledged(
    tmp_path: Path, up_env: dict[str, str], up_ports: dict[str, int]
) -> None:
    data_dir = tmp_path / "data"
    up = UpProcess(data_dir, up_env, "--broker", "kafka")
    try:
        up.wait_for("merchstore is up")
        receiver, storage = _url(up_ports, "receiver"), _url(up_ports, "storage")
        for i in range(5):
            _acknowledged(receiver, f"before-{i}")
        pid = int((data_dir / "run" / "kafka.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        up.wait_for(f"Apache Kafka (pid {pid}) exited unexpectedly")
        up.wait_for("Apache Kafka ready again")
        assert int((data_dir / "run" / "kafka.pid").read_text().split()[0]) != pid
        for i in range(5):
            _acknowledged(receiver, f"after-{i}")
        wait_until(
            lambda: httpx.get(f"{storage}/events/count", timeout=10).json()["count"] == 10,
            120,
            "the ten events stored, once each",
        )
        stored = httpx.get(
            f"{storage}/events",
            params={"start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"},
            timeout=10,
        ).json()
        assert sorted(event["user_id"] for event in stored) == sorted(
            [f"before-{i}" for i in range(5)] + [f"after-{i}" for i in range(5)]
        )
        assert up.process.poll() is None, "up goes on"
    finally:
        up.process.send_signal(signal.SIGTERM)
        up.process.wait(120)
