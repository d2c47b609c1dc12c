"""``merchstore logs tail``: follow ``log-channel``, print each line, keep hourly files."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from merchstore.common.config import Settings
from merchstore.common.timeutil import in_utc
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
    """One readable line: time, level, service, message, trace id."""
    level = str(body.get("level", "?"))
    shown_level = f"{level:<8}"
    if colour:
        shown_level = click.style(shown_level, fg=LEVEL_COLOURS.get(level, "white"), bold=True)
    trace = f"  trace={body['trace_id']}" if body.get("trace_id") else ""
    service = body.get("service_name", "?")
    return (
        f"{body.get('timestamp', '-')} {shown_level} [{service}] {body.get('message', '')}{trace}"
    )


class HourlyFiles:
    """Appends JSON lines to ``<dir>/log_YYYYMMDD_HH.jsonl``, one file per hour."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._hour: str | None = None
        self._file: TextIO | None = None

    def append(self, hour: str, line: str) -> None:
        """Append one line to the file of ``hour``."""
        if hour != self._hour:
            self.close()
            self._file = (self._directory / f"log_{hour}.jsonl").open("a", encoding="utf-8")
            self._hour = hour
        assert self._file is not None
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the current file."""
        if self._file is not None:
            self._file.close()
            self._file = None


LEVEL_ORDER = {name: rank for rank, name in enumerate(LEVEL_COLOURS)}


def wanted(
    body: dict[str, Any], service: str | None, min_level: str | None, trace: str | None
) -> bool:
    """Whether a log line passes the filters (service, lowest level, trace id)."""
    if service and body.get("service_name") != service:
        return False
    if trace and body.get("trace_id") != trace:
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
    """Print and save every ``log-channel`` message until ``stop`` is set (or ``max_messages``).

    The filters choose what is printed and saved; ``note`` hears when the tail is following.
    """
    shown = 0
    files = HourlyFiles(settings.data_path("logs"))
    try:
        for message in follow_topic(
            settings,
            settings.topics.log_channel,
            from_beginning=from_beginning,
            stop=stop,
            note=note,
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
            if not wanted(body, service, min_level, trace):
                continue
            files.append(hour_of(body), raw)
            echo(raw if as_json else format_log_line(body, colour))
            shown += 1
            if max_messages is not None and shown >= max_messages:
                return
    finally:
        files.close()
