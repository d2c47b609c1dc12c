"""``merchstore logs tail``: follow ``log-channel``, print each line, keep hourly files."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from merchstore.common.clean_text import escape_controls
from merchstore.common.kafka.clients import TopicIdsUnavailable, topic_ids
from merchstore.common.timeutil import in_utc
from merchstore.settings import Settings
from merchstore.tools.topic_tail import follow_topic

LEVEL_COLOURS = {
    "DEBUG": "bright_black",
    "INFO": "green",
    "WARNING": "yellow",
    "ERROR": "red",
    "CRITICAL": "magenta",
}


def hour_of(body: dict[str, Any]) -> str:
    """``YYYYMMDD_HH`` of the message's timestamp (UTC), or of now if it has none."""
    try:
        # in_utc refuses a moment a time zone puts past year 9999 or before year 1.
        moment = in_utc(datetime.fromisoformat(str(body["timestamp"]).replace("Z", "+00:00")))
    except (KeyError, ValueError):
        moment = datetime.now(UTC)
    return moment.strftime("%Y%m%d_%H")


def format_log_line(body: dict[str, Any], colour: bool) -> str:
    """One readable line: time, level, service, message, trace id (and request id)."""
    level = _shown(body.get("level", "?"))
    shown_level = f"{level:<8}"
    if colour:
        shown_level = click.style(shown_level, fg=LEVEL_COLOURS.get(level, "white"), bold=True)
    trace = f"  trace={_shown(body['trace_id'])}" if body.get("trace_id") else ""
    if body.get("request_id"):
        trace += f" request={_shown(body['request_id'])}"
    service = _shown(body.get("service_name", "?"))
    # Whoever wrote to log-channel, nothing it holds reaches the terminal as a control.
    return (
        f"{_shown(body.get('timestamp', '-'))} {shown_level} [{service}] "
        f"{_shown(body.get('message', ''))}{trace}"
    )


def _shown(value: object) -> str:
    return escape_controls(str(value))


class LogArchive:
    """Every ``log-channel`` line a tail read, once each, in ``<dir>/log_YYYYMMDD_HH.jsonl``.

    What is saved is kept apart from what is printed: the filters choose the printed lines
    only. Beside the files, ``.archive-position.json`` says, per partition of the topic's
    current incarnation (its broker-given id), the next offset to save, and how long the file
    being written was after its last saved line. A tail run again (``--from-beginning``
    included) saves only what is past those positions, so no line is saved twice; a tail that
    died between writing a line and recording it finds the file longer than recorded, cuts it
    back and saves that line again, once. One tail at a time saves (a lock on the folder); a
    second one only prints, and so does one that could not learn the topic's id
    (``topic_id`` None): without it, positions of an earlier incarnation could not be told
    from this one's.
    """

    POSITION_FILE = ".archive-position.json"

    def __init__(self, directory: Path, topic_id: str | None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._lock = (directory / ".archive.lock").open("a")
        self.why_not_saving: str | None = None
        if topic_id is None:
            self.why_not_saving = "the broker did not say which incarnation of the topic this is"
        else:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.why_not_saving = "another logs tail is saving to the hourly files"
        self._topic_id = topic_id
        self._next: dict[int, int] = {}
        self._last_seen: dict[int, int] = {}
        self._file: TextIO | None = None
        self._name: str | None = None
        if self.saving:
            self._recover()

    @property
    def saving(self) -> bool:
        """Whether this tail saves what it reads (see ``why_not_saving`` when not)."""
        return self.why_not_saving is None

    @property
    def _position_path(self) -> Path:
        return self._directory / self.POSITION_FILE

    def _recover(self) -> None:
        try:
            state = json.loads(self._position_path.read_text())
        except (FileNotFoundError, ValueError):
            return
        if state.get("topic_id") == self._topic_id:
            self._next = {int(p): int(o) for p, o in state.get("next", {}).items()}
        name, size = state.get("file"), state.get("size")
        path = self._directory / str(name)
        if name and isinstance(size, int) and path.exists() and path.stat().st_size > size:
            # Written but not recorded: it is read and saved again.
            with path.open("r+b") as cut:
                cut.truncate(size)

    def _record(self) -> None:
        state = {
            "topic_id": self._topic_id,
            "next": {str(p): o for p, o in sorted(self._next.items())},
            "file": self._name,
            "size": self._file.tell() if self._file is not None else None,
        }
        scratch = self._position_path.with_suffix(".tmp")
        scratch.write_text(json.dumps(state))
        os.replace(scratch, self._position_path)

    def wants(self, partition: int, offset: int) -> bool:
        """Whether the line at ``offset`` is not saved yet (and this tail saves)."""
        if not self.saving:
            return False
        if offset < self._last_seen.get(partition, -1):
            # The log restarted under this tail (an embedded broker that came back empty):
            # what it holds now is new.
            self._next[partition] = offset
        self._last_seen[partition] = offset
        return offset >= self._next.get(partition, 0)

    def save(self, hour: str, line: str, partition: int, offset: int) -> None:
        """Append the line at ``offset`` to the file of ``hour`` and record that it is saved."""
        name = f"log_{hour}.jsonl"
        if name != self._name:
            self._close_file()
            self._file = (self._directory / name).open("a", encoding="utf-8")
            self._name = name
            self._record()  # the new file's length before any line of this run
        self._write(line + "\n")
        self._next[partition] = offset + 1
        self._record()

    def _write(self, text: str) -> None:
        assert self._file is not None
        self._file.write(text)
        self._file.flush()

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        """Close the current file and let another tail save."""
        self._close_file()
        self._lock.close()


LEVEL_ORDER = {name: rank for rank, name in enumerate(LEVEL_COLOURS)}


def wanted(
    body: dict[str, Any], service: str | None, min_level: str | None, trace: str | None
) -> bool:
    """Whether a log line passes the filters (service, lowest level, trace or request id)."""
    if service and body.get("service_name") != service:
        return False
    if trace and trace not in (body.get("trace_id"), body.get("request_id")):
        return False
    if min_level:
        rank = LEVEL_ORDER.get(str(body.get("level")), len(LEVEL_ORDER))
        return rank >= LEVEL_ORDER[min_level]
    return True


def tail_logs(
    settings: Settings,
    *,
    from_beginning: bool,
    service: str | None,
    stop: threading.Event,
    echo: Callable[[str], None],
    colour: bool,
    min_level: str | None = None,
    trace: str | None = None,
    max_messages: int | None = None,
    as_json: bool = False,
    note: Callable[[str], None] | None = None,
) -> None:
    """Print every ``log-channel`` message until ``stop`` is set (or ``max_messages``).

    The filters choose what is printed; every line read is saved to the hourly files once
    (:class:`LogArchive`). ``note`` hears when the tail is following.
    """
    shown = 0
    topic = settings.topics.log_channel
    try:
        topic_id: str | None = topic_ids(settings, [topic], strict=True).get(topic, "")
    except TopicIdsUnavailable:
        topic_id = None
    archive = LogArchive(settings.data_path("logs"), topic_id)
    if archive.why_not_saving is not None and note is not None:
        note(f"{archive.why_not_saving}; this tail only prints")
    try:
        for message in follow_topic(
            settings, topic, from_beginning=from_beginning, stop=stop, note=note
        ):
            raw = (message.value() or b"").decode("utf-8", errors="replace")
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                echo(f"(not JSON at offset {message.offset()}: {raw[:200]!r})")
                continue
            if not isinstance(body, dict):
                echo(f"(not a JSON object at offset {message.offset()}: {raw[:200]!r})")
                continue
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            if archive.wants(partition, offset):
                archive.save(hour_of(body), raw, partition, offset)
            if not wanted(body, service, min_level, trace):
                continue
            echo(raw if as_json else format_log_line(body, colour))
            shown += 1
            if max_messages is not None and shown >= max_messages:
                return
    finally:
        archive.close()
