"""The ledger of ``merchstore simulate``: what the system acknowledged, one JSON line each.

``merchstore verify`` compares it with what the system stored. Every record is one line,
written whole and flushed to the kernel before the next request, so a simulation killed at any
moment leaves a ledger of everything acknowledged up to then; a last line cut short by a crash
is ignored on reading.

Record kinds (each a JSON object with ``kind``):

- ``run``: the simulation's start: its id, time, the URLs used, and the event-logger's baseline;
- ``event``: a game event the receiver acknowledged (``event_id``, ``event_type``, ``user_id``);
- ``shopper``: a user that registered (``user_id``, ``username``, ``password``);
- ``order``: an order placed (``order_id``, ``user_id``, ``product_id``, ``quantity``);
- ``cancel``: an order cancelled (``order_id``);
- ``attempt``: an order request given up without an answer (it may or may not have been placed);
- ``request``: any store-api request that was answered (``request_id``, its X-Request-ID);
- ``end``: the summary, when the simulation ended cleanly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any


class LedgerWriter:
    """Appends records to a ledger file; each one reaches the kernel before ``add`` returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: every write lands whole at the end, after a torn line of an earlier run too.
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.path = path
        if os.fstat(self._fd).st_size and not _ends_with_newline(path):
            os.write(self._fd, b"\n")  # end a line a killed run left cut short

    def add(self, kind: str, **fields: Any) -> None:
        """Record one acknowledged thing."""
        line = json.dumps({"kind": kind, **fields}, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())

    def close(self) -> None:
        """Make what was written durable and close the file."""
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every whole record of the ledger at ``path``, in order; torn or foreign lines skipped."""
    with path.open("rb") as file:
        for raw in file:
            if not raw.endswith(b"\n"):
                return  # cut short by a crash: never acknowledged to anyone
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("kind"), str):
                yield record


@dataclass
class Ledger:
    """A ledger read back, by kind: what ``verify`` checks."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    shoppers: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    cancelled: set[int] = field(default_factory=set)
    unanswered_orders: dict[int, int] = field(default_factory=dict)
    """Order requests given up without an answer, per user id."""
    request_ids: set[str] = field(default_factory=set)
    ends: list[dict[str, Any]] = field(default_factory=list)
    unreadable: int = 0
    """Records whose fields are missing or of the wrong type (not written by simulate)."""

    @classmethod
    def read(cls, path: Path) -> Ledger:
        """The ledger at ``path``."""
        ledger = cls()
        for record in read_records(path):
            ledger.add(record)
        return ledger

    def add(self, record: dict[str, Any]) -> None:
        """Take one record into account; unknown kinds are ignored, broken ones counted."""
        try:
            self._add(record)
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
            self.unreadable += 1

    def _add(self, record: dict[str, Any]) -> None:
        kind = record["kind"]
        if kind == "run":
            self.runs.append(record)
        elif kind == "event":
            self.events[str(record["event_id"])] = record
        elif kind == "shopper":
            self.shoppers[int(record["user_id"])] = record
        elif kind == "order":
            self.orders[int(record["order_id"])] = record
        elif kind == "cancel":
            self.cancelled.add(int(record["order_id"]))
        elif kind == "attempt":
            user_id = int(record["user_id"])
            self.unanswered_orders[user_id] = self.unanswered_orders.get(user_id, 0) + 1
        elif kind == "request":
            self.request_ids.add(str(record["request_id"]))
        elif kind == "end":
            self.ends.append(record)

    def status_of(self, order_id: int) -> str:
        """The status the store acknowledged last for an order of the ledger."""
        return "cancelled" if order_id in self.cancelled else "placed"
