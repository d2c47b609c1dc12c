"""The log lines a service wrote and logging-service has not acknowledged yet, kept on disk.

A line is appended here (one ``write``, no fsync) before the service goes on, so it outlives a
crash of the service (the kernel has it) though not of the machine. Beside the spool, a small
file says up to which sequence number logging-service acknowledged; a service started again on
the same spool sends what is past it first. The spool is rewritten without its acknowledged
lines once it grows past a bound.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class SpoolInUse(Exception):
    """Another process holds this spool (a second instance on the same data and port)."""


COMPACT_BYTES = 1 << 20
"""The spool is rewritten without its acknowledged lines once it is this large."""


def _lines(path: Path) -> list[list[Any]]:
    """Every whole line of a spool, as its JSON list; torn or foreign lines skipped."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    found = []
    for line in raw.split(b"\n")[:-1]:  # the part after the last newline is torn
        try:
            fields = json.loads(line)
        except ValueError:
            continue
        if isinstance(fields, list) and fields and isinstance(fields[0], int):
            found.append(fields)
    return found


class LogSpool:
    """An append-only file of ``[seq, *fields]`` lines, and the acknowledged position."""

    def __init__(self, path: Path, compact_bytes: int = COMPACT_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One process per spool: the kernel frees the lock however the holder ends.
        self._holder = path.with_name(path.name + ".lock").open("a")
        try:
            fcntl.flock(self._holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._holder.close()
            raise SpoolInUse(f"{path} is in use by another process") from None
        self.path = path
        self._position = path.with_name(path.name + ".acknowledged")
        self._compact_bytes = compact_bytes
        self.lock = threading.Lock()
        """Held while a line is appended and queued, and while the position is taken."""
        acknowledged = self._read_position()
        if path.exists():
            # A line cut short by a crash was never written whole: the caller never went on.
            whole = path.read_bytes()
            os.truncate(path, whole.rfind(b"\n") + 1)
        lines = _lines(path)
        self.recovered: list[list[Any]] = [line for line in lines if line[0] > acknowledged]
        """Lines a previous run wrote and never had acknowledged, oldest first."""
        self.last_seq: int = int(max([acknowledged, *(line[0] for line in lines)]))
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size

    def _read_position(self) -> int:
        try:
            return int(self._position.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def append(self, fields: Sequence[Any], then: Callable[[int], None]) -> int:
        """Write one line with the next sequence number, then call ``then(seq)``, atomically.

        Call it without holding :attr:`lock`.
        """
        with self.lock:
            self.last_seq += 1
            data = (json.dumps([self.last_seq, *fields], separators=(",", ":")) + "\n").encode()
            self._size += os.write(self._fd, data)
            then(self.last_seq)
            return self.last_seq

    def acknowledge(self, through: int) -> None:
        """Every line up to sequence number ``through`` is acknowledged."""
        temporary = self._position.with_name(self._position.name + ".tmp")
        temporary.write_text(f"{through}\n")
        os.replace(temporary, self._position)
        if self._size >= self._compact_bytes:
            self._compact(through)

    def _compact(self, through: int) -> None:
        with self.lock:
            kept = [line for line in _lines(self.path) if line[0] > through]
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_bytes(
                b"".join((json.dumps(line, separators=(",", ":")) + "\n").encode() for line in kept)
            )
            os.replace(temporary, self.path)
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            self._size = os.fstat(self._fd).st_size

    def close(self) -> None:
        """Close the file (what it holds stays for the next run)."""
        with self.lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                self._holder.close()
