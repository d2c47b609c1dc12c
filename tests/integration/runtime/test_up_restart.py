"""``merchstore up``, stopped and started again on one data directory, with the embedded broker.

The broker keeps messages in memory only, so the second run's topics are new and their offsets
start at 0 again: every new message must be counted, nothing old counted twice.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import httpx

from merchstore.common.domain_events import DomainEvent
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
    data_dir: Path, env: dict[str, str], ports: dict[str, int], events: int, stored_before: int
) -> tuple[Counter[str], dict[str, int]]:
    """Start up, send ``events`` events and one poison message, wait for them, stop."""
    up = UpProcess(data_dir, env)
    try:
        up.wait_for("merchstore is up", timeout_s=120)
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
        on_broker = _event_log_on_broker(ports, at_least=6)
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


def test_a_second_up_counts_every_new_message_and_nothing_twice(
    tmp_path: Path, up_env: dict[str, str], up_ports: dict[str, int]
) -> None:
    data_dir = tmp_path / "data"
    first_codes, first = _run_once(data_dir, up_env, up_ports, events=5, stored_before=0)
    stats_path = data_dir / "event-logger"
    counted_first = Counter({k: v for k, v in _stats_from_file(stats_path).items() if v})
    assert counted_first == first_codes
    assert first["dead_letters"] == 1

    second_codes, second = _run_once(data_dir, up_env, up_ports, events=7, stored_before=5)
    assert second["count"] == 12, "every new event stored, none of the old ones twice"
    assert second["dead_letters"] == 2, "a new poison message at an old offset is new"
    counted = Counter({k: v for k, v in _stats_from_file(stats_path).items() if v})
    assert counted == first_codes + second_codes
    # app.log: each stored message once, one line each.
    log_ids = re.findall(r" id=(\d+) ", (stats_path / "app.log").read_text())
    assert len(log_ids) == len(set(log_ids)) == sum(counted.values())


def _stats_from_file(folder: Path) -> dict[str, int]:
    """The event-logger's counts, read from its database after it stopped."""
    with sqlite3.connect(folder / "events.sqlite3") as connection:
        rows = connection.execute("SELECT code, count FROM code_counts").fetchall()
    return {code: int(count) for code, count in rows}
