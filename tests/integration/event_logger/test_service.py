"""The event-logger as a real process on a real broker: exactly once, whatever happens."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from merchstore.settings import Settings
from tests.support.broker import members_that_leave_for_good
from tests.support.kafka import produce_all
from tests.support.processes import ServiceProcess, free_port, holds_for, wait_until

CODES = ["0001", "0002", "0003", "0004", "0005", "0042"]


def event_log_values(count: int, seed: int = 7) -> tuple[list[bytes], Counter[str]]:
    chooser = random.Random(seed)
    values, counts = [], Counter[str]()
    for index in range(count):
        code = chooser.choice(CODES)
        counts[code] += 1
        body = {
            "code": code,
            "message": f"message {index} (code {code})",
            "service": "test",
            "timestamp": "2026-11-22T06:00:00.000Z",
        }
        values.append(json.dumps(body).encode())
    return values, counts


@pytest.fixture
def event_logger(settings: Settings, service_env: dict[str, str]) -> Iterator[ServiceProcess]:
    port = free_port()
    service = ServiceProcess(
        "event-logger",
        {**service_env, "MERCHSTORE_EVENT_LOGGER__PORT": str(port)},
        port,
        settings.data_dir / "event-logger.out",
    )
    yield service
    service.stop()


def stats(service: ServiceProcess) -> dict[str, int]:
    return dict(httpx.get(f"{service.url}/events_stats", timeout=5).json())


def expected_stats(counts: Counter[str]) -> dict[str, int]:
    return {**dict.fromkeys(["0001", "0002", "0003", "0004"], 0), **counts}


def stored_messages(settings: Settings) -> Counter[str]:
    """How often each message text is stored (every text the tests send is unique)."""
    path = settings.data_path(settings.event_logger.database_file)
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT message FROM event_log_messages").fetchall()
    return Counter(message for (message,) in rows)


def stored_count(settings: Settings) -> int:
    path = settings.data_path(settings.event_logger.database_file)
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if ("event_log_messages",) not in tables.fetchall():
            return 0  # a process starting for the first time has not made its schema yet
        (total,) = connection.execute("SELECT count(*) FROM event_log_messages").fetchone()
    return int(total)


def sent_messages(values: list[bytes]) -> Counter[str]:
    return Counter(json.loads(value)["message"] for value in values)


def logged_offsets(settings: Settings) -> list[int]:
    text = (settings.data_dir / "event-logger" / "app.log").read_text()
    return [int(match) for match in re.findall(r" offset=(\d+) ", text)]


def wait_for_total(service: ServiceProcess, total: int, timeout_s: float = 120) -> None:
    wait_until(lambda: sum(stats(service).values()) >= total, timeout_s, f"{total} counted")


def test_ten_thousand_messages_counted_exactly(
    event_logger: ServiceProcess, settings: Settings
) -> None:
    values, counts = event_log_values(10_000)
    produce_all(settings.bootstrap_servers, settings.topics.event_log, values)
    event_logger.start()
    wait_for_total(event_logger, 10_000)
    assert stats(event_logger) == expected_stats(counts)
    assert stored_messages(settings) == sent_messages(values)
    # Every consumed message is in the log file, once.
    assert sorted(logged_offsets(settings)) == list(range(10_000))
    assert event_logger.terminate() == 0

    # A restart after everything was consumed consumes nothing again.
    event_logger.start()
    holds_for(
        lambda: stats(event_logger) == expected_stats(counts) and stored_count(settings) == 10_000,
        3,
        "a restart consumes nothing again",
    )
    assert stored_messages(settings) == sent_messages(values)
    assert sorted(logged_offsets(settings)) == list(range(10_000))
    for code in ("0001", "0042"):
        answer = httpx.get(f"{event_logger.url}/events", params={"code": code, "limit": 3})
        assert answer.status_code == 200
        assert [entry["code"] for entry in answer.json()] == [code] * 3
    assert httpx.get(f"{event_logger.url}/event_stats").json() == stats(event_logger)


def test_a_database_started_afresh_counts_the_topic_from_its_start(
    event_logger: ServiceProcess, settings: Settings, service_env: dict[str, str], broker_kind: str
) -> None:
    values, counts = event_log_values(300)
    produce_all(settings.bootstrap_servers, settings.topics.event_log, values)
    event_logger.env.update(members_that_leave_for_good(broker_kind))  # it never comes back
    event_logger.start()
    wait_for_total(event_logger, 300)
    assert event_logger.terminate() == 0
    # Same consumer group, which committed past every message, but another data directory.
    fresh_dir = settings.data_dir / "afresh"
    port = free_port()
    afresh = ServiceProcess(
        "event-logger",
        {
            **service_env,
            "MERCHSTORE_EVENT_LOGGER__PORT": str(port),
            "MERCHSTORE_DATA_DIR": str(fresh_dir),
        },
        port,
        settings.data_dir / "event-logger-afresh.out",
    )
    try:
        afresh.start()
        wait_for_total(afresh, 300, timeout_s=60)
        assert stats(afresh) == expected_stats(counts)
    finally:
        afresh.stop()


def test_repeated_sigkill_loses_and_duplicates_nothing(
    event_logger: ServiceProcess, settings: Settings
) -> None:
    values, counts = event_log_values(10_000, seed=11)
    # All of it waits on the topic: each process started has a backlog to work through, so
    # every kill lands while it is consuming, however fast it is and however long a restart
    # takes on the broker.
    produce_all(settings.bootstrap_servers, settings.topics.event_log, values)
    chooser = random.Random(3)
    stored_at_kills: list[int] = []
    # Small transactions: a process stores a few hundred messages between its first row and
    # its kill, so six kills all land with a backlog left, however fast this machine is (with
    # the default 500 a fast one stored the whole topic before the last kill).
    event_logger.env["MERCHSTORE_EVENT_LOGGER__BATCH_SIZE"] = "50"
    event_logger.start(wait=False)
    for _ in range(6):
        before = stored_count(settings)
        wait_until(
            lambda: stored_count(settings) > before,  # noqa: B023
            120,
            "the started process storing",
            interval_s=0.005,
        )
        time.sleep(chooser.uniform(0, 0.05))  # a crash at a random instant of its work
        event_logger.kill()
        stored_at_kills.append(stored_count(settings))
        event_logger.start(wait=False)
    # Each kill hit a process with more to consume.
    assert stored_at_kills[-1] < 10_000, stored_at_kills
    event_logger.wait_healthy()
    wait_for_total(event_logger, 10_000)
    holds_for(lambda: stats(event_logger) == expected_stats(counts), 1, "each message counted once")
    assert stored_messages(settings) == sent_messages(values)
    # Whatever instant each kill hit, the log file holds each stored message once.
    assert sorted(logged_offsets(settings)) == list(range(10_000))


def test_malformed_messages_are_skipped_and_consumption_goes_on(
    event_logger: ServiceProcess, settings: Settings
) -> None:
    good = json.dumps({"code": "0003", "message": "processor started"}).encode()
    values = [
        good,
        b"not json at all",
        json.dumps({"message": "no code"}).encode(),
        json.dumps({"code": "3"}).encode(),
        good,
        b"",
        good,
    ]
    produce_all(settings.bootstrap_servers, settings.topics.event_log, values)
    event_logger.start()
    wait_for_total(event_logger, 3)
    holds_for(
        lambda: stats(event_logger) == {"0001": 0, "0002": 0, "0003": 3, "0004": 0},
        1,
        "only the good messages counted",
    )
    output = event_logger.log_tail(200)
    for offset in (1, 2, 3, 5):
        assert (
            f"set aside malformed event_log message at {settings.topics.event_log}[0]@{offset}"
            in output
        )
    assert stored_messages(settings) == Counter({"processor started": 3})


def test_a_log_restarted_below_the_stored_position_is_reported_and_new_messages_counted(
    event_logger: ServiceProcess, settings: Settings, broker_kind: str
) -> None:
    if broker_kind == "embedded":
        pytest.skip("the embedded broker's high watermark reads low, so the check is off there")
    first, first_counts = event_log_values(3, seed=1)
    produce_all(settings.bootstrap_servers, settings.topics.event_log, first)
    event_logger.start()
    wait_for_total(event_logger, 3)
    assert event_logger.terminate() == 0
    # As after an unclean leader election or a replaced disk: the partition, same topic id,
    # now ends far below where the event-logger stored it had read to.
    path = settings.data_path(settings.event_logger.database_file)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE topic_positions SET next_offset = next_offset + 100")
    event_logger.start()
    second, second_counts = event_log_values(4, seed=2)
    produce_all(settings.bootstrap_servers, settings.topics.event_log, second)
    wait_for_total(event_logger, 7, timeout_s=60)
    assert stats(event_logger) == expected_stats(first_counts + second_counts)
    assert stored_messages(settings) == sent_messages(first) + sent_messages(second)
    log = (settings.data_dir / "event-logger.out").read_text()
    assert "below the stored position 103" in log
    metrics = httpx.get(f"{event_logger.url}/metrics").text
    assert re.search(r"consumer_log_restarts_total\{[^}]*\} 1\.0", metrics), metrics[-2000:]
