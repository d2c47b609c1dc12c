"""The event-logger's log file: each stored message once, one line each, from what committed.

Lines are appended only after the database committed their rows, in id order, each carrying
its row id. At start the file is reconciled with the database: a line cut short by a crash is
removed, and the rows committed after the last complete line are written. So whatever instant
the process dies at, the file ends up holding every stored row exactly once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from merchstore.event_logger.domain import StoredRecord

log = logging.getLogger(__name__)


class CommittedRecords(Protocol):
    """The database's committed records, as the file catches up with them."""

    def last_id(self) -> int:
        """The id of the newest committed record (0 when there is none)."""
        ...

    def records_after(self, last_id: int, limit: int = 10_000) -> list[StoredRecord]:
        """Committed records with an id above ``last_id``, in id order."""
        ...


_LINE_ID = re.compile(rb"\S+ id=(\d+) code=")
"""A line's own id: right after the time the line starts with (`format_line`)."""
_READ_BYTES = 64 * 1024


_NEEDS_ESCAPING = re.compile('[\x00-\x1f"\\\\]')
"""What JSON string escaping (without ``ensure_ascii``) changes: controls, quotes, backslashes."""


def format_line(record: StoredRecord) -> str:
    """One line: when, id, code, service, origin, and the message, newlines escaped in both."""
    return (
        f"{record.written_at} id={record.id} code={record.code}"
        f" service={_one_line(record.service)} partition={record.partition}"
        f" offset={record.offset} message={_one_line(record.message)}\n"
    )


def _one_line(text: str | None) -> str:
    r"""``text`` as JSON string escaping writes it, so it never breaks the line.

    Every control character, newlines included, becomes an escape such as ``\n``; most texts
    have none, and are written as they are.
    """
    if text is None:
        return "None"
    if _NEEDS_ESCAPING.search(text) is None:
        return text
    return json.dumps(text, ensure_ascii=False)[1:-1]


class RecordFile:
    """Appends stored records to the log file; `reconcile` makes it agree with the database."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self._written_by_earlier_version = False
        self.last_id = self._last_complete_id()

    def _last_complete_id(self) -> int:
        """Drop a line cut short by a crash; return the id of the last complete line (0).

        The id is read where the line format puts it, after the time at the line's start: a
        message may hold `` id=N `` too (a hostile one, to stop the file), and a line may be
        longer than any fixed tail, so the whole last line is read, however long.
        """
        size = os.fstat(self._fd).st_size
        if size == 0:
            return 0
        last = os.pread(self._fd, 1, size - 1)
        if last != b"\n":
            cut = self._start_of_line_ending_at(size)
            os.ftruncate(self._fd, cut)
            log.warning("removed a line of %s cut short by a crash", self.path)
            size = cut
            if size == 0:
                return 0
        start = self._start_of_line_ending_at(size - 1)
        line = os.pread(self._fd, size - start, start)
        found = _LINE_ID.match(line)
        if found is not None:
            return int(found.group(1))
        # A line without an id: written by an earlier version, before each commit, so the file
        # holds every row committed so far (`reconcile` then starts after the newest row).
        self._written_by_earlier_version = bool(line.strip())
        return 0

    def _start_of_line_ending_at(self, end: int) -> int:
        """Where the line holding the byte before ``end`` starts (after the newline before it)."""
        position = end
        while position > 0:
            start = max(position - _READ_BYTES, 0)
            block = os.pread(self._fd, position - start, start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            position = start
        return 0

    def reconcile(self, store: CommittedRecords) -> int:
        """Write the rows committed after the file's last line; return how many."""
        if self._written_by_earlier_version:
            self.last_id = store.last_id()
            self._written_by_earlier_version = False
        written = 0
        while True:
            missing = store.records_after(self.last_id)
            if not missing:
                return written
            self.append(missing)
            written += len(missing)

    def append_committed(self, store: CommittedRecords, records: list[StoredRecord]) -> None:
        """Append a just-committed batch; first fill any gap an earlier failed write left."""
        if records and records[0].id > self.last_id + 1:
            self.reconcile(store)
        self.append(records)

    def append(self, records: Iterable[StoredRecord]) -> None:
        """Append committed records (in id order) in one write; older ids are skipped."""
        with self._lock:
            fresh = [r for r in records if r.id > self.last_id]
            if not fresh:
                return
            data = "".join(format_line(r) for r in fresh).encode("utf-8", "backslashreplace")
            end = os.fstat(self._fd).st_size
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError:
                # A write cut short (a full disk): take its fragment back, so the file still
                # ends with `last_id`'s line and the next batch writes these records once.
                os.ftruncate(self._fd, end)
                raise
            self.last_id = fresh[-1].id

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)
