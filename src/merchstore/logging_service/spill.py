"""The disk buffer of logging-service: messages wait here, in order, while Kafka is down."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class SpillBuffer:
    """A bounded, ordered queue of encoded messages in SQLite (survives a restart)."""

    def __init__(self, path: Path, max_messages: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS spilled (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " payload BLOB NOT NULL)"
        )
        self._max = max_messages
        self._count = int(self._connection.execute("SELECT count(*) FROM spilled").fetchone()[0])

    def __len__(self) -> int:
        return self._count

    def append(self, payloads: list[bytes]) -> tuple[int, int]:
        """Keep as many as fit; return (kept, dropped)."""
        room = max(self._max - self._count, 0)
        kept = payloads[:room]
        if kept:
            self._connection.execute("BEGIN")
            self._connection.executemany(
                "INSERT INTO spilled (payload) VALUES (?)", [(p,) for p in kept]
            )
            self._connection.execute("COMMIT")
            self._count += len(kept)
        return len(kept), len(payloads) - len(kept)

    def oldest(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` messages with their ids."""
        rows = self._connection.execute(
            "SELECT id, payload FROM spilled ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [(int(row[0]), bytes(row[1])) for row in rows]

    def remove(self, ids: list[int]) -> None:
        """Forget messages that Kafka acknowledged."""
        self._connection.execute("BEGIN")
        self._connection.executemany("DELETE FROM spilled WHERE id = ?", [(i,) for i in ids])
        self._connection.execute("COMMIT")
        self._count -= len(ids)

    def close(self) -> None:
        """Close the database."""
        self._connection.close()
