"""PostgreSQL adapter of storage: store batches once, read by time or as a feed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from merchstore.common.timeutil import to_rfc3339
from merchstore.storage.domain import ConsumedEvent, SetAside

_COLUMNS = "seq, tx_id::text AS tx_text, event_id, event_type, user_id, metadata, occurred_at"
_FEED_COLUMNS = f"{_COLUMNS}, traceparent"
# The text of tx_id has its own name: an ORDER BY names an output column before a table
# column, and ordering by the text would put transaction 999 after 1000.


def _row_to_fed_event(row: tuple[Any, ...]) -> dict[str, Any]:
    # The feed is the processor's: it continues each event's trace.
    return {**_row_to_event(row), "traceparent": row[7]}


def _row_to_event(row: tuple[Any, ...]) -> dict[str, Any]:
    _seq, _tx, event_id, event_type, user_id, metadata, occurred_at = row[:7]
    return {
        "event_id": str(event_id),
        "event_type": event_type,
        "user_id": user_id,
        "metadata": metadata if isinstance(metadata, dict) else json.loads(metadata),
        "timestamp": to_rfc3339(occurred_at),
    }


class EventRepository:
    """The events table, and the ``dead_letters`` table of the messages set aside."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def store_batch(self, events: list[ConsumedEvent], set_aside: list[SetAside]) -> int:
        """Store a batch in one transaction; return how many events were new.

        An event already stored (a redelivery) is left as it is: idempotent on ``event_id``.
        """
        with self._pool.connection() as connection, connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO events (event_id, event_type, user_id, metadata, occurred_at,"
                " kafka_partition, kafka_offset, traceparent)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (event_id) DO NOTHING",
                [
                    (
                        c.event.event_id,
                        c.event.event_type,
                        c.event.user_id,
                        Jsonb(c.event.metadata),
                        c.event.timestamp,
                        c.partition,
                        c.offset,
                        c.traceparent,
                    )
                    for c in events
                ],
                returning=False,
            )
            inserted = cursor.rowcount if events else 0
            self._insert_set_aside(cursor, set_aside)
        return inserted

    def set_aside(self, message: SetAside) -> None:
        """Keep one message PostgreSQL refused, in its own transaction."""
        with self._pool.connection() as connection, connection.cursor() as cursor:
            self._insert_set_aside(cursor, [message])

    @staticmethod
    def _insert_set_aside(cursor: psycopg.Cursor[Any], messages: list[SetAside]) -> None:
        # A redelivered message (same topic incarnation and offset) is kept once.
        cursor.executemany(
            "INSERT INTO dead_letters (topic, topic_id, kafka_partition, kafka_offset, payload,"
            " error) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(d.topic, d.topic_id, d.partition, d.offset, d.payload, d.error) for d in messages],
        )

    def between(self, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
        """Events with ``start <= timestamp < end``, oldest first."""
        with self._pool.connection() as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM events WHERE occurred_at >= %s AND occurred_at < %s"
                " ORDER BY events.occurred_at, events.seq LIMIT %s",
                (start, end, limit),
            ).fetchall()
        return [_row_to_event(row) for row in rows]

    def feed(self, after: str, limit: int) -> tuple[list[dict[str, Any]], str]:
        """Events stored after cursor ``after``, in commit-safe order, and the next cursor.

        Only rows of transactions older than every transaction still running are returned,
        so a row committed late by a concurrent writer is never skipped by a reader that
        already moved past it.
        """
        tx_id, seq = after.split(":")
        with self._pool.connection() as connection:
            rows = connection.execute(
                f"SELECT {_FEED_COLUMNS} FROM events"
                " WHERE (tx_id, seq) > (%s::xid8, %s)"
                " AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
                " ORDER BY events.tx_id, events.seq LIMIT %s",
                # Normalised: PostgreSQL reads xid8 text with a leading zero as octal ("0123"
                # is 83, "058" an error), and a cursor means the same however it is written.
                (str(int(tx_id)), int(seq), limit),
            ).fetchall()
        cursor = f"{rows[-1][1]}:{rows[-1][0]}" if rows else after
        return [_row_to_fed_event(row) for row in rows], cursor

    def count(self) -> int:
        """How many events are stored."""
        with self._pool.connection() as connection:
            row = connection.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0

    def set_aside_count(self) -> int:
        """How many messages were set aside."""
        with self._pool.connection() as connection:
            row = connection.execute("SELECT count(*) FROM dead_letters").fetchone()
        return int(row[0]) if row else 0
