"""Whatever is written to `events`, storage keeps the next good event (real PostgreSQL)."""

from __future__ import annotations

import itertools
import uuid

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.messages import EVENT_TYPES, DomainEvent
from merchstore.common.poison import handle_or_set_aside
from merchstore.common.postgres import REFUSED_BY_POSTGRES
from merchstore.storage.adapters import EventRepository
from merchstore.storage.use_cases import EventIngestor
from tests.support.hostile import hostile_messages, hostile_text, shaped_like

_offsets = itertools.count()

EVENT_SHAPED = shaped_like(
    {
        # A fresh id per draw: an id stored by an earlier example (or earlier in the batch)
        # would rightly be ignored as a redelivery, and the counts below could not tell.
        "event_id": st.builds(uuid.uuid4).map(str),
        "event_type": st.sampled_from(EVENT_TYPES),
        "user_id": hostile_text,
        "metadata": st.dictionaries(
            hostile_text, st.one_of(hostile_text, st.floats(), st.booleans()), max_size=3
        ),
        "timestamp": st.sampled_from(["2026-11-22T06:00:00Z", "2026-11-22T06:00:00", "x"]),
    }
)


def _message(value: bytes | None) -> ConsumedMessage:
    return ConsumedMessage("events", 0, next(_offsets), value, "topic-id")


def _counts(pool: ConnectionPool) -> tuple[int, int]:
    with pool.connection() as connection:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM dead_letters)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(hostile_messages(EVENT_SHAPED), min_size=1, max_size=6))
def test_any_messages_then_a_good_event_is_stored_with_counts_exact(
    pool: ConnectionPool, values: list[bytes | None]
) -> None:
    ingestor = EventIngestor(EventRepository(pool))
    good = DomainEvent.new("join_guild", "7", {"guild_name": "red", "level": 3})
    batch = [_message(value) for value in values] + [_message(good.to_json())]
    events_before, dead_before = _counts(pool)

    handle_or_set_aside(batch, ingestor.store, ingestor.set_aside, REFUSED_BY_POSTGRES)

    events_after, dead_after = _counts(pool)
    with pool.connection() as connection:
        stored = connection.execute(
            "SELECT metadata FROM events WHERE event_id = %s", (good.event_id,)
        ).fetchone()
    assert stored is not None and stored[0] == {"guild_name": "red", "level": 3}
    # Every message is either stored once or kept as a dead letter: nothing lost, nothing twice.
    assert (events_after - events_before) + (dead_after - dead_before) == len(batch)


def test_a_nul_refused_by_postgresql_is_a_dead_letter_with_the_reason(
    pool: ConnectionPool,
) -> None:
    ingestor = EventIngestor(EventRepository(pool))
    nul = DomainEvent.new("join_guild", "\u0000").to_json()
    infinite = (
        b'{"event_id": "%s", "event_type": "default", "user_id": "1",' % str(uuid.uuid4()).encode()
        + b' "metadata": {"x": Infinity}, "timestamp": "2026-11-22T06:00:00Z"}'
    )
    good = DomainEvent.new("join_guild", "7")
    batch = [_message(nul), _message(infinite), _message(good.to_json())]
    assert handle_or_set_aside(batch, ingestor.store, ingestor.set_aside, REFUSED_BY_POSTGRES) == 2
    assert _counts(pool) == (1, 2)
    with pool.connection() as connection:
        reasons = [row[0] for row in connection.execute("SELECT error FROM dead_letters")]
    assert any("NUL" in reason or "0x00" in reason for reason in reasons), reasons
    assert any("json" in reason.lower() or "Infinity" in reason for reason in reasons), reasons


def test_a_database_that_cannot_store_is_retried_never_set_aside(pool: ConnectionPool) -> None:
    ingestor = EventIngestor(EventRepository(pool))
    with pool.connection() as connection:
        # Every insert fails, as while the database is unavailable: not the message's fault.
        connection.execute("ALTER TABLE events RENAME TO events_elsewhere")
    try:
        with pytest.raises(psycopg.Error) as raised:
            handle_or_set_aside(
                [_message(DomainEvent.new("default", "1").to_json())],
                ingestor.store,
                ingestor.set_aside,
                REFUSED_BY_POSTGRES,
            )
        assert not REFUSED_BY_POSTGRES.is_permanent(raised.value)
    finally:
        with pool.connection() as connection:
            connection.execute("ALTER TABLE events_elsewhere RENAME TO events")
    assert _counts(pool) == (0, 0)
