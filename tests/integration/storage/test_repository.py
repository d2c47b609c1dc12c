"""storage's PostgreSQL adapter on a real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from psycopg_pool import ConnectionPool

from merchstore.common.feed import FEED_START
from merchstore.common.messages import DomainEvent
from merchstore.common.postgres import apply_migrations
from merchstore.storage.adapters import EventRepository
from merchstore.storage.domain import ConsumedEvent, SetAside

BASE = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def consumed(minutes: int, event_type: str = "join_guild") -> ConsumedEvent:
    event = DomainEvent(
        event_id=uuid.uuid4(),
        event_type=event_type,
        user_id="7",
        metadata={"guild_name": "red"},
        timestamp=BASE + timedelta(minutes=minutes),
    )
    return ConsumedEvent(event, 0, minutes)


def test_migrations_apply_once(pool: ConnectionPool) -> None:
    with pool.connection() as connection:
        assert apply_migrations(connection, "merchstore.storage", "storage") == []


def test_a_redelivered_event_is_stored_once(pool: ConnectionPool) -> None:
    repository = EventRepository(pool)
    events = [consumed(i) for i in range(5)]
    assert repository.store_batch(events, []) == 5
    assert repository.store_batch([*events[3:], consumed(9)], []) == 1
    assert repository.count() == 6


def test_between_is_half_open_and_ordered(pool: ConnectionPool) -> None:
    repository = EventRepository(pool)
    repository.store_batch([consumed(i) for i in (3, 1, 2, 0)], [])
    rows = repository.between(BASE + timedelta(minutes=1), BASE + timedelta(minutes=3), 100)
    assert [row["timestamp"] for row in rows] == [
        "2026-11-22T06:01:00.000Z",
        "2026-11-22T06:02:00.000Z",
    ]
    assert rows[0]["metadata"] == {"guild_name": "red"}


def test_feed_pages_through_everything_once(pool: ConnectionPool) -> None:
    repository = EventRepository(pool)
    for start in range(0, 25, 5):
        repository.store_batch([consumed(i) for i in range(start, start + 5)], [])
    seen: list[str] = []
    cursor = FEED_START
    while True:
        page, cursor = repository.feed(cursor, 7)
        seen.extend(row["event_id"] for row in page)
        if not page:
            break
    assert len(seen) == len(set(seen)) == 25
    assert repository.feed(cursor, 7) == ([], cursor)


def test_feed_orders_transaction_ids_as_numbers(pool: ConnectionPool) -> None:
    # Transaction 9 committed before 10 (ids far below any running one, so the feed may
    # return both): read as text, "10" sorted first and the feed skipped 9 for good.
    repository = EventRepository(pool)
    for tx_id, minutes in ((8, 1), (9, 2), (10, 3), (11, 4), (99, 5), (100, 6)):
        event = consumed(minutes).event
        with pool.connection() as connection:
            connection.execute(
                "INSERT INTO events (event_id, event_type, user_id, occurred_at, tx_id,"
                " kafka_partition, kafka_offset) VALUES (%s, %s, %s, %s, %s::text::xid8, 0, %s)",
                (event.event_id, event.event_type, event.user_id, event.timestamp, tx_id, minutes),
            )
    seen: list[str] = []
    cursors: list[str] = []
    cursor = FEED_START
    while True:
        page, cursor = repository.feed(cursor, 1)
        if not page:
            break
        seen.extend(row["timestamp"][14:16] for row in page)
        cursors.append(cursor.split(":")[0])
    assert seen == ["01", "02", "03", "04", "05", "06"]
    assert cursors == ["8", "9", "10", "11", "99", "100"]


def test_a_cursor_written_with_leading_zeros_means_the_same_position(pool: ConnectionPool) -> None:
    repository = EventRepository(pool)
    repository.store_batch([consumed(i) for i in range(4)], [])
    first, cursor = repository.feed(FEED_START, 2)
    tx_id, seq = cursor.split(":")
    padded = f"{int(tx_id):019d}:{int(seq):019d}"  # e.g. 0000000000000000765:0000000000000000002
    assert repository.feed(padded, 10) == repository.feed(cursor, 10)
    assert len(first) + len(repository.feed(padded, 10)[0]) == 4
    # Digits an octal reading would refuse ("8" and "9") are fine too.
    assert repository.feed("0989:0989", 10)[0] == repository.feed("989:989", 10)[0]


def test_feed_waits_for_transactions_still_running(pool: ConnectionPool, database_url: str) -> None:
    repository = EventRepository(pool)
    repository.store_batch([consumed(0)], [])
    with ConnectionPool(database_url, min_size=1, max_size=1) as other, other.connection() as slow:
        # A writer that started earlier commits later: the feed must not move past it.
        slow.execute("SELECT pg_current_xact_id()")
        repository.store_batch([consumed(1)], [])
        page, cursor = repository.feed(FEED_START, 100)
        assert len(page) == 1
        slow.rollback()
    page, _ = repository.feed(cursor, 100)
    assert len(page) == 1


def test_dead_letters_are_kept_once(pool: ConnectionPool) -> None:
    repository = EventRepository(pool)
    letter = SetAside("events", 2, 17, b"garbage", "not JSON")
    repository.store_batch([], [letter])
    repository.store_batch([], [letter])
    assert repository.set_aside_count() == 1
