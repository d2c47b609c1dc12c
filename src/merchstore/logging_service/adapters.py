"""The disk buffer of logging-service: messages wait here, in order, while Kafka is down."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from merchstore.common import sqlite


class SpillBuffer:
    """A bounded, ordered queue of encoded messages in SQLite (survives a restart).

    Bounded in bytes, so a few huge lines cannot fill the disk. A message the broker refuses
    for good is moved to ``set_aside`` with the reason, so it never blocks the ones after it.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self._connection = sqlite.connect(path)
        sqlite.apply_migrations(self._connection, "merchstore.logging_service")
        self._max_bytes = max_bytes
        count, size = self._connection.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM spilled"
        ).fetchone()
        self._count, self._bytes = int(count), int(size)

    def __len__(self) -> int:
        return self._count

    @property
    def size_bytes(self) -> int:
        """Bytes of payload waiting."""
        return self._bytes

    def append(self, payloads: list[bytes]) -> tuple[int, int]:
        """Keep as many as fit, in order; return (kept, dropped)."""
        kept: list[bytes] = []
        room = self._max_bytes - self._bytes
        for payload in payloads:
            if len(payload) > room:
                break
            kept.append(payload)
            room -= len(payload)
        if kept:
            with sqlite.transaction(self._connection) as cursor:
                cursor.executemany("INSERT INTO spilled (payload) VALUES (?)", [(p,) for p in kept])
            self._count += len(kept)
            self._bytes += sum(len(p) for p in kept)
        return len(kept), len(payloads) - len(kept)

    def oldest(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` messages with their ids."""
        rows = self._connection.execute(
            "SELECT id, payload FROM spilled ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [(int(row[0]), bytes(row[1])) for row in rows]

    def remove(self, ids: list[int]) -> None:
        """Forget messages that Kafka acknowledged."""
        with sqlite.transaction(self._connection) as cursor:
            removed = self._sizes(cursor, ids)
            cursor.executemany("DELETE FROM spilled WHERE id = ?", [(i,) for i in ids])
        self._count -= len(removed)
        self._bytes -= sum(removed)

    def set_aside(self, message_id: int, reason: str) -> None:
        """Move a message the broker refuses for good out of the queue, keeping the reason."""
        with sqlite.transaction(self._connection) as cursor:
            removed = self._sizes(cursor, [message_id])
            cursor.execute(
                "INSERT OR IGNORE INTO set_aside (id, payload, reason)"
                " SELECT id, payload, ? FROM spilled WHERE id = ?",
                (reason, message_id),
            )
            cursor.execute("DELETE FROM spilled WHERE id = ?", (message_id,))
        self._count -= len(removed)
        self._bytes -= sum(removed)

    def set_aside_count(self) -> int:
        """How many messages were set aside."""
        return int(self._connection.execute("SELECT count(*) FROM set_aside").fetchone()[0])

    @staticmethod
    def _sizes(cursor: sqlite3.Cursor, ids: list[int]) -> list[int]:
        sizes: list[int] = []
        for message_id in ids:
            row = cursor.execute(
                "SELECT length(payload) FROM spilled WHERE id = ?", (message_id,)
            ).fetchone()
            if row is not None:
                sizes.append(int(row[0]))
        return sizes

    def close(self) -> None:
        """Close the database."""
        self._connection.close()
