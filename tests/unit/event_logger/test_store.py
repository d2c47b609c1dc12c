"""The SQLite adapter: rows, counts and positions move together."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from merchstore.common.consumed import ConsumedMessage
from merchstore.event_logger.adapters.store import EventLogStore
from merchstore.event_logger.domain import parse_event_log_message


def batch(start: int, stop: int, code: str = "0001") -> list[ConsumedMessage]:
    return [
        ConsumedMessage("event_log", 0, offset, f'{{"code": "{code}", "message": "m"}}'.encode())
        for offset in range(start, stop)
    ]


def store_all(store: EventLogStore, messages: list[ConsumedMessage]) -> int:
    records = [parse_event_log_message(m) for m in messages]
    return len(store.store_batch(records, messages))


def test_seed_codes_are_always_counted(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    assert store.counts() == {"0001": 0, "0002": 0, "0003": 0, "0004": 0}


def test_a_redelivered_batch_is_not_stored_twice(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    assert store_all(store, batch(0, 10)) == 10
    assert store_all(store, batch(5, 15)) == 5
    assert store.counts()["0001"] == 15
    assert store.next_offset("event_log", "", 0) == 15
    rows = sqlite3.connect(tmp_path / "db.sqlite3").execute(
        "SELECT count(*), count(DISTINCT id), count(DISTINCT kafka_offset) FROM event_log_messages"
    )
    assert rows.fetchone() == (15, 15, 15)


def test_other_codes_are_counted_too(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    store_all(store, batch(0, 3, code="0007"))
    assert store.counts()["0007"] == 3
    assert [row["code"] for row in store.recent("0007", 2)] == ["0007", "0007"]


def test_a_failed_batch_changes_nothing(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    store_all(store, batch(0, 2))
    messages = batch(2, 4)
    records = [parse_event_log_message(m) for m in messages]
    # The same offset twice breaks the unique constraint in the middle of the transaction.
    with pytest.raises(sqlite3.IntegrityError):
        store.store_batch([*records, records[0]], messages)
    assert store.counts()["0001"] == 2
    assert store.next_offset("event_log", "", 0) == 2


def test_a_version_1_database_is_migrated_with_its_rows_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    old = sqlite3.connect(path)
    old.executescript((Path(__file__).parent / "schema_v1.sql").read_text())
    old.execute(
        "INSERT INTO event_log_messages (code, message, written_at, topic, kafka_partition,"
        " kafka_offset) VALUES ('0001', 'old', '2026-11-20T00:00:00Z', 'event_log', 0, 0)"
    )
    old.execute("INSERT INTO code_counts VALUES ('0001', 1)")
    old.execute("INSERT INTO consumer_positions VALUES ('event_log', 0, 1)")
    old.commit()
    old.close()

    store = EventLogStore(path)
    assert store.counts()["0001"] == 1
    assert [row["message"] for row in store.recent(None, 5)] == ["old"]
    # The old position names no topic incarnation: kept for brokers without topic ids, while
    # a topic with an id is read from its start.
    assert store.next_offset("event_log", "", 0) == 1
    assert store.next_offset("event_log", "id-1", 0) is None
    new_topic = [
        ConsumedMessage(m.topic, m.partition, m.offset, m.value, "id-1") for m in batch(0, 2)
    ]
    assert store_all(store, new_topic) == 2
    assert store_all(store, batch(0, 2)) == 1, "offset 0 of the old log was stored before"
    assert store.counts()["0001"] == 4
    store.close()
    assert EventLogStore(path).counts()["0001"] == 4, "opening again changes nothing"
