"""The log lines a service wrote and logging-service has not acknowledged yet, kept on disk.

A line is copied into a memory-mapped file before the service goes on: the kernel holds it
from then on, so it outlives a crash of the service (though not of the machine), and the copy
costs no system call (a ``write`` per line would hand the interpreter's lock to other threads
on every request, which costs a fast service a sixth of its throughput). The part of the file
past the last line is zeros. Beside the spool, a small file says up to which sequence number
logging-service acknowledged; a service started again on the same spool sends what is past it
first. Once the spool is half full, it is rewritten without its acknowledged lines (a new file,
renamed over the old one, so a crash at any moment leaves one whole spool). A full spool
refuses new lines: the lines already waiting keep their place.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

CAPACITY_BYTES = 8 << 20
"""The spool's size: a line that finds it full is refused (and counted)."""


class SpoolInUse(Exception):
    """Another process holds this spool (a second instance on the same data and port)."""


def _parse(data: bytes) -> list[list[Any]]:
    """Every whole line of spool contents, as its JSON list; torn or foreign lines skipped."""
    found = []
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is torn
        try:
            fields = json.loads(line)
        except ValueError:
            continue
        if isinstance(fields, list) and fields and isinstance(fields[0], int):
            found.append(fields)
    return found


_FALLBACK_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _encode(line: Sequence[Any]) -> bytes:
    """One spool line: the JSON list and its newline.

    orjson encodes a line in a twentieth of the standard library's time, on the request's own
    path; a message it cannot take (a lone surrogate, which is not UTF-8) goes through the
    standard encoder, which escapes it.
    """
    try:
        return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return (_FALLBACK_ENCODER.encode(line) + "\n").encode()


class LogSpool:
    """A memory-mapped file of ``[seq, *fields]`` lines, and the acknowledged position.

    The work per line is bounded whatever the spool holds: a line is copied in when it fits
    and refused when it does not (`append` returns 0; the caller drops it), and the file is
    rewritten only when acknowledged lines free a good part of it, by copying the rest as it
    is (no line is parsed again). So a long outage of logging-service fills the spool and then
    costs each new line a comparison, never a rewrite.
    """

    def __init__(self, path: Path, capacity_bytes: int = CAPACITY_BYTES) -> None:
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
        self._capacity = capacity_bytes
        self.lock = threading.Lock()
        """Held while a line is appended and queued, and while the position is taken."""
        self.overflowed = 0
        """Lines refused because the spool was full."""
        self.rewrites = 0
        """How often the file was rewritten without its acknowledged lines."""
        self._acknowledged = self._read_position()
        contents = path.read_bytes().split(b"\0", 1)[0] if path.exists() else b""
        # A line cut short by a crash was never copied whole: the caller never went on.
        contents = contents[: contents.rfind(b"\n") + 1]
        lines = _parse(contents)
        self.recovered: list[list[Any]] = [line for line in lines if line[0] > self._acknowledged]
        """Lines a previous run wrote and never had acknowledged, oldest first."""
        self.last_seq: int = int(max([self._acknowledged, *(line[0] for line in lines)]))
        # Where each line in the map ends, oldest first, as (seq, offset past its newline);
        # offsets count from the first byte ever kept in this map (`_base` is the first one
        # still in the file), so a rewrite shifts nothing.
        self._ends: deque[tuple[int, int]] = deque()
        self._base = 0
        kept = bytearray()
        for line in self.recovered:
            kept += _encode(line)
            self._ends.append((line[0], len(kept)))
        self._map, self._end = self._fresh(bytes(kept))

    def _fresh(self, contents: bytes) -> tuple[mmap.mmap, int]:
        """A new spool file holding ``contents``, renamed over the old one, and mapped."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("wb") as file:
            file.write(contents)
            file.truncate(max(self._capacity, len(contents) + 1))
        os.replace(temporary, self.path)
        with self.path.open("r+b") as file:
            mapped = mmap.mmap(file.fileno(), 0)
        return mapped, len(contents)

    def _read_position(self) -> int:
        try:
            return int(self._position.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def append(self, fields: Sequence[Any], then: Callable[[int], None]) -> int:
        """Copy one line with the next sequence number in, then call ``then(seq)``, atomically.

        Return its sequence number, or 0 when the spool has no room for it: then nothing is
        copied, ``then`` is not called and the line is counted in :attr:`overflowed`. Call it
        without holding :attr:`lock`.
        """
        with self.lock:
            data = _encode([self.last_seq + 1, *fields])
            if self._end + len(data) >= len(self._map):
                self.overflowed += 1
                return 0
            self.last_seq += 1
            self._map[self._end : self._end + len(data)] = data
            self._end += len(data)
            self._ends.append((self.last_seq, self._base + self._end))
            then(self.last_seq)
            return self.last_seq

    def acknowledge(self, through: int) -> None:
        """Every line up to sequence number ``through`` is acknowledged."""
        temporary = self._position.with_name(self._position.name + ".tmp")
        temporary.write_text(f"{through}\n")
        os.replace(temporary, self._position)
        with self.lock:
            self._acknowledged = max(self._acknowledged, through)
            freed_to = self._base
            while self._ends and self._ends[0][0] <= self._acknowledged:
                freed_to = self._ends.popleft()[1]
            freed = freed_to - self._base
            # Rewritten once the spool is half full and at least a quarter of what it holds
            # is acknowledged: each rewrite copies at most three bytes per byte it frees.
            if self._end >= len(self._map) // 2 and freed * 4 >= self._end:
                self._drop_front(freed)

    def _drop_front(self, freed: int) -> None:
        """Rewrite the spool without its first ``freed`` bytes (the lock is held)."""
        kept = self._map[freed : self._end]
        self._map.close()
        self._map, self._end = self._fresh(kept)
        self._base += freed
        self.rewrites += 1

    def close(self) -> None:
        """Unmap the file (what it holds stays for the next run)."""
        with self.lock:
            if not self._map.closed:
                self._map.close()
                self._holder.close()
