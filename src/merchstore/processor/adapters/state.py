"""SQLite adapter of the processor: statistics, feed position and pending alerts, together.

A run's statistics, the position it reached and its 0004 alert (if any) are written in one
transaction, so a crash never counts events twice or loses them; the alert is sent after the
commit and removed once the broker acknowledged it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from merchstore.common import sqlite
from merchstore.common.feed import FEED_START
from merchstore.processor.domain import Statistics

log = logging.getLogger(__name__)


def _encode(statistics: Statistics) -> str:
    body = asdict(statistics)
    body["counts"] = dict(statistics.counts)
    body["revenue"] = str(statistics.revenue)
    body["last_updated"] = statistics.last_updated.isoformat() if statistics.last_updated else None
    return json.dumps(body)


def _decode(text: str) -> Statistics:
    body = json.loads(text)
    return Statistics(
        total_events=body["total_events"],
        counts=body["counts"],
        orders_placed=body["orders_placed"],
        orders_cancelled=body["orders_cancelled"],
        revenue=_finite(Decimal(body["revenue"])),
        last_updated=datetime.fromisoformat(body["last_updated"]) if body["last_updated"] else None,
    )


def _finite(revenue: Decimal) -> Decimal:
    """The saved revenue, or 0 if it is NaN or infinite.

    A forged price saved before prices were checked: nothing added to it would ever show, so
    the revenue starts over rather than stay poisoned.
    """
    if revenue.is_finite():
        return revenue
    log.error("the saved revenue was %s (a forged price); counting it again from 0.00", revenue)
    return Decimal("0.00")


class ProcessorState:
    """The processor's durable state in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._connection = sqlite.connect(path)
        sqlite.apply_migrations(self._connection, "merchstore.processor")
        self._lock = threading.Lock()

    def load(self) -> tuple[Statistics, str]:
        """The statistics so far and the feed position they include."""
        with self._lock:
            row = self._connection.execute(
                "SELECT body, feed_cursor FROM statistics WHERE id = 1"
            ).fetchone()
        if row is None:
            return Statistics(), FEED_START
        return _decode(row[0]), str(row[1])

    def save_run(self, statistics: Statistics, cursor: str, alert: tuple[int, int] | None) -> None:
        """Record one run atomically: statistics, position, and its alert if it has one."""
        with self._lock, sqlite.transaction(self._connection) as transaction:
            transaction.execute(
                "INSERT INTO statistics (id, body, feed_cursor) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET body = excluded.body,"
                " feed_cursor = excluded.feed_cursor",
                (_encode(statistics), cursor),
            )
            if alert is not None:
                transaction.execute(
                    "INSERT INTO pending_alerts (new_events, threshold) VALUES (?, ?)", alert
                )

    def pending_alerts(self) -> list[tuple[int, int, int]]:
        """Alerts recorded but not yet acknowledged by the broker: (id, new_events, threshold)."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT id, new_events, threshold FROM pending_alerts ORDER BY id"
            ).fetchall()
        return [(int(a), int(b), int(c)) for a, b, c in rows]

    def alert_sent(self, alert_id: int) -> None:
        """Forget an alert the broker acknowledged."""
        with self._lock:
            self._connection.execute("DELETE FROM pending_alerts WHERE id = ?", (alert_id,))

    def close(self) -> None:
        """Close the database."""
        self._connection.close()
