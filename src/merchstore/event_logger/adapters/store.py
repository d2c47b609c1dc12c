"""SQLite adapter of the event-logger: rows, per-code counts, set-aside messages, positions.

A batch's rows, the counts, the messages set aside and the next offsets are written in one
transaction, so after a crash at any instant the database and its resume position agree:
nothing lost, nothing twice. Positions are kept per incarnation of the topic (its broker-given
id), so a topic created again (a memory-only broker started again) is read from its beginning.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from merchstore.common import sqlite
from merchstore.common.consumed import ConsumedMessage
from merchstore.common.messages import SEED_CODES
from merchstore.common.timeutil import utc_now_rfc3339
from merchstore.event_logger.domain import EventLogRecord, SetAsideMessage, StoredRecord

_SELECT_POSITION = (
    "SELECT next_offset FROM topic_positions"
    " WHERE topic = ? AND topic_id = ? AND kafka_partition = ?"
)
_RECORD_COLUMNS = "id, code, message, service, sent_at, written_at, kafka_partition, kafka_offset"


class EventLogStore:
    """The event-logger's database: one writer connection, one reader connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = sqlite.connect(path)
        sqlite.apply_migrations(self._writer, "merchstore.event_logger")
        self._reader = sqlite.connect(path)
        self._reader_lock = threading.Lock()
        self._writer_lock = threading.Lock()

    def close(self) -> None:
        """Close both connections."""
        self._writer.close()
        self._reader.close()

    def next_offset(self, topic: str, topic_id: str, partition: int) -> int | None:
        """Where consumption of this incarnation of ``topic[partition]`` resumes, or None."""
        with self._reader_lock:
            row = self._reader.execute(_SELECT_POSITION, (topic, topic_id, partition)).fetchone()
        return None if row is None else int(row[0])

    def move_position(self, topic: str, topic_id: str, partition: int, offset: int) -> None:
        """Resume this incarnation of ``topic[partition]`` at ``offset``, lower than stored.

        Only for a log that restarted below the stored position: the offsets below the old
        position hold new messages now, which would otherwise be taken for redeliveries. The
        rows read from the old log at those offsets are kept, marked with the restart in their
        topic id, so that the new messages there are stored beside them.
        """
        old_log = f"{topic_id}~before-restart-at-{offset}-{utc_now_rfc3339()}"
        with self._writer_lock, sqlite.transaction(self._writer) as cursor:
            for table in ("event_log_messages", "set_aside_messages"):
                cursor.execute(
                    f"UPDATE {table} SET topic_id = ?"
                    " WHERE topic = ? AND topic_id = ? AND kafka_partition = ?"
                    " AND kafka_offset >= ?",
                    (old_log, topic, topic_id, partition, offset),
                )
            cursor.execute(
                "INSERT INTO topic_positions (topic, topic_id, kafka_partition, next_offset)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (topic, topic_id, kafka_partition)"
                " DO UPDATE SET next_offset = excluded.next_offset",
                (topic, topic_id, partition, offset),
            )

    def store_batch(
        self,
        records: Iterable[EventLogRecord],
        consumed: Iterable[ConsumedMessage],
        set_aside: Sequence[SetAsideMessage] = (),
    ) -> list[StoredRecord]:
        """Store ``records`` and ``set_aside``, advance positions past ``consumed``, atomically.

        Records at or past the stored position of their partition are new; older ones were
        stored before (a redelivery) and are left out. Returns the rows actually stored, with
        their ids, in id order.
        """
        spans = _offset_spans(consumed)
        with self._writer_lock, sqlite.transaction(self._writer) as cursor:
            positions = self._positions(cursor, spans)

            def is_new(source: ConsumedMessage) -> bool:
                key = (source.topic, source.topic_id, source.partition)
                return source.offset >= positions.get(key, 0)

            if all(lowest >= positions.get(key, 0) for key, (lowest, _) in spans.items()):
                fresh = list(records)  # the usual case: nothing in the batch was seen before
            else:
                fresh = [r for r in records if is_new(r.source)]
            written_at = utc_now_rfc3339()
            # One writer in an IMMEDIATE transaction: AUTOINCREMENT ids follow insertion order.
            row = cursor.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'event_log_messages'"
            ).fetchone()
            first_id = (int(row[0]) if row else 0) + 1
            cursor.executemany(
                "INSERT INTO event_log_messages (code, message, service, sent_at,"
                " written_at, topic, topic_id, kafka_partition, kafka_offset)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.code,
                        r.message,
                        r.service,
                        r.sent_at,
                        written_at,
                        r.source.topic,
                        r.source.topic_id,
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
                "INSERT INTO set_aside_messages (topic, topic_id, kafka_partition, kafka_offset,"
                " payload, reason, set_aside_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [
                    (
                        s.source.topic,
                        s.source.topic_id,
                        s.source.partition,
                        s.source.offset,
                        s.source.value,
                        s.reason,
                        written_at,
                    )
                    for s in set_aside
                    if is_new(s.source)
                ],
            )
            cursor.executemany(
                "INSERT INTO topic_positions (topic, topic_id, kafka_partition, next_offset)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (topic, topic_id, kafka_partition)"
                " DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)",
                [(*key, highest + 1) for key, (_, highest) in spans.items()],
            )
        return [
            StoredRecord(
                first_id + index,
                r.code,
                r.message,
                r.service,
                r.sent_at,
                written_at,
                r.source.partition,
                r.source.offset,
            )
            for index, r in enumerate(fresh)
        ]

    def set_aside(self, message: ConsumedMessage, reason: str) -> None:
        """Keep one message this database refused, with the reason, and move past it."""
        self.store_batch([], [message], [SetAsideMessage(message, reason)])

    @staticmethod
    def _positions(
        cursor: sqlite3.Cursor, partitions: Iterable[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], int]:
        positions: dict[tuple[str, str, int], int] = {}
        for key in partitions:
            row = cursor.execute(_SELECT_POSITION, key).fetchone()
            if row is not None:
                positions[key] = int(row[0])
        return positions

    def counts(self) -> dict[str, int]:
        """Messages stored per code; the contract's four seed codes are always present."""
        with self._reader_lock:
            rows = self._reader.execute("SELECT code, count FROM code_counts").fetchall()
        counts = dict.fromkeys(SEED_CODES, 0)
        counts.update({code: int(count) for code, count in rows})
        return dict(sorted(counts.items()))

    def set_aside_count(self) -> int:
        """How many messages were set aside."""
        with self._reader_lock:
            row = self._reader.execute("SELECT count(*) FROM set_aside_messages").fetchone()
        return int(row[0])

    def last_id(self) -> int:
        """The id of the newest stored row (0 when there is none)."""
        with self._reader_lock:
            row = self._reader.execute("SELECT max(id) FROM event_log_messages").fetchone()
        return int(row[0] or 0)

    def records_after(self, last_id: int, limit: int = 10_000) -> list[StoredRecord]:
        """Stored rows with an id above ``last_id``, in id order."""
        with self._reader_lock:
            rows = self._reader.execute(
                f"SELECT {_RECORD_COLUMNS} FROM event_log_messages WHERE id > ?"
                " ORDER BY id LIMIT ?",
                (last_id, limit),
            ).fetchall()
        return [StoredRecord(*row) for row in rows]

    def recent(self, code: str | None, limit: int) -> list[dict[str, Any]]:
        """The most recently written messages, newest first, optionally of one code."""
        query = f"SELECT {_RECORD_COLUMNS} FROM event_log_messages"
        parameters: tuple[Any, ...] = ()
        if code is not None:
            query += " WHERE code = ?"
            parameters = (code,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._reader_lock:
            rows = self._reader.execute(query, (*parameters, limit)).fetchall()
        keys = ("id", "code", "message", "service", "sent_at", "written_at", "partition", "offset")
        return [dict(zip(keys, row, strict=True)) for row in rows]


def _offset_spans(
    consumed: Iterable[ConsumedMessage],
) -> dict[tuple[str, str, int], tuple[int, int]]:
    """The lowest and highest offset of each partition (of each topic incarnation)."""
    spans: dict[tuple[str, str, int], tuple[int, int]] = {}
    for message in consumed:
        key = (message.topic, message.topic_id, message.partition)
        span = spans.get(key)
        offset = message.offset
        if span is None:
            spans[key] = (offset, offset)
        elif offset < span[0] or offset > span[1]:
            spans[key] = (min(span[0], offset), max(span[1], offset))
    return spans
