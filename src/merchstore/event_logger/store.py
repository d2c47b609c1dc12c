"""SQLite adapter of the event-logger: rows, per-code counts and consumer positions.

A batch's rows, the counts and the next offsets are written in one transaction, so after a
crash at any instant the database and its resume position agree: nothing lost, nothing twice.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.event_log import SEED_CODES
from merchstore.common.timeutil import utc_now_rfc3339
from merchstore.event_logger.domain import EventLogRecord

_SELECT_POSITION = (
    "SELECT next_offset FROM consumer_positions WHERE topic = ? AND kafka_partition = ?"
)


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL survives any process crash; only an OS crash could lose the last commit.
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


class EventLogStore:
    """The event-logger's database: one writer connection, one reader connection."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer = _connect(path)
        self._writer.executescript(
            (resources.files("merchstore.event_logger") / "schema.sql").read_text()
        )
        self._reader = _connect(path)
        self._reader_lock = threading.Lock()
        self._writer_lock = threading.Lock()

    def close(self) -> None:
        """Close both connections."""
        self._writer.close()
        self._reader.close()

    def next_offset(self, topic: str, partition: int) -> int | None:
        """Where consumption of ``topic[partition]`` resumes, or None if never consumed."""
        with self._reader_lock:
            row = self._reader.execute(
                _SELECT_POSITION,
                (topic, partition),
            ).fetchone()
        return None if row is None else int(row[0])

    def store_batch(
        self, records: Iterable[EventLogRecord], consumed: Iterable[ConsumedMessage]
    ) -> list[EventLogRecord]:
        """Store ``records`` and advance positions past every ``consumed`` message, atomically.

        Records at or past the stored position of their partition are new; older ones were
        stored before (a redelivery) and are left out. Returns the records actually stored.
        """
        consumed = list(consumed)
        with self._writer_lock:
            cursor = self._writer.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                positions = self._positions(cursor, {(m.topic, m.partition) for m in consumed})
                fresh = [
                    r
                    for r in records
                    if r.source.offset >= positions.get((r.source.topic, r.source.partition), 0)
                ]
                written_at = utc_now_rfc3339()
                cursor.executemany(
                    "INSERT INTO event_log_messages (code, message, service, sent_at,"
                    " written_at, topic, kafka_partition, kafka_offset)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            r.code,
                            r.message,
                            r.service,
                            r.sent_at,
                            written_at,
                            r.source.topic,
                            r.source.partition,
                            r.source.offset,
                        )
                        for r in fresh
                    ],
                )
                cursor.executemany(
                    "INSERT INTO code_counts (code, count) VALUES (?, ?)"
                    " ON CONFLICT (code) DO UPDATE SET count = count + excluded.count",
                    Counter(r.code for r in fresh).items(),
                )
                cursor.executemany(
                    "INSERT INTO consumer_positions (topic, kafka_partition, next_offset)"
                    " VALUES (?, ?, ?) ON CONFLICT (topic, kafka_partition)"
                    " DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)",
                    [
                        (topic, partition, offset + 1)
                        for (topic, partition), offset in _highest_offsets(consumed).items()
                    ],
                )
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        return fresh

    @staticmethod
    def _positions(
        cursor: sqlite3.Cursor, partitions: set[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        positions: dict[tuple[str, int], int] = {}
        for topic, partition in partitions:
            row = cursor.execute(
                _SELECT_POSITION,
                (topic, partition),
            ).fetchone()
            if row is not None:
                positions[(topic, partition)] = int(row[0])
        return positions

    def counts(self) -> dict[str, int]:
        """Messages stored per code; the contract's four seed codes are always present."""
        with self._reader_lock:
            rows = self._reader.execute("SELECT code, count FROM code_counts").fetchall()
        counts = dict.fromkeys(SEED_CODES, 0)
        counts.update({code: int(count) for code, count in rows})
        return dict(sorted(counts.items()))

    def recent(self, code: str | None, limit: int) -> list[dict[str, Any]]:
        """The most recently written messages, newest first, optionally of one code."""
        query = (
            "SELECT id, code, message, service, sent_at, written_at, kafka_partition, kafka_offset"
            " FROM event_log_messages"
        )
        parameters: tuple[Any, ...] = ()
        if code is not None:
            query += " WHERE code = ?"
            parameters = (code,)
        query += " ORDER BY written_at DESC, kafka_offset DESC LIMIT ?"
        with self._reader_lock:
            rows = self._reader.execute(query, (*parameters, limit)).fetchall()
        keys = ("id", "code", "message", "service", "sent_at", "written_at", "partition", "offset")
        return [dict(zip(keys, row, strict=True)) for row in rows]


def _highest_offsets(consumed: list[ConsumedMessage]) -> dict[tuple[str, int], int]:
    highest: dict[tuple[str, int], int] = {}
    for message in consumed:
        key = (message.topic, message.partition)
        highest[key] = max(highest.get(key, -1), message.offset)
    return highest
