"""The log tail's hourly files: any line goes into one, and each line read is saved once."""

from __future__ import annotations

import contextlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merchstore.tools.log_tail import LogArchive, format_log_line, hour_of


def test_a_line_goes_into_the_file_of_its_hour_in_utc() -> None:
    assert hour_of({"timestamp": "2026-11-22T06:59:59.999+01:00"}) == "20261122_05"


@pytest.mark.parametrize(
    "timestamp", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:00-00:01", "yesterday", None]
)
def test_a_timestamp_that_names_no_hour_in_utc_files_the_line_under_now(
    timestamp: str | None,
) -> None:
    before = datetime.now(UTC).strftime("%Y%m%d_%H")
    hour = hour_of({"timestamp": timestamp})
    assert hour in {before, datetime.now(UTC).strftime("%Y%m%d_%H")}


class Crash(Exception):
    """The process died here."""


class CrashingArchive(LogArchive):
    """An archive whose process dies while saving its ``crash_at``-th line, in one of three ways.

    ``torn``: halfway through writing the line; ``unrecorded``: after writing it, before
    recording it; ``switching``: (when the line starts a new hourly file) after opening that
    file, before recording it.
    """

    def __init__(self, directory: Path, topic_id: str | None, crash_at: int, how: str) -> None:
        self.lines = 0
        self.crash_at = crash_at
        self.how = how
        self.writing = False
        super().__init__(directory, topic_id)

    def save(self, hour: str, line: str, partition: int, offset: int) -> None:
        self.lines += 1
        super().save(hour, line, partition, offset)

    def _record(self) -> None:
        if self.lines == self.crash_at:
            if self.how == "switching" and not self.writing:
                raise Crash
            if self.how == "unrecorded" and self.writing:
                raise Crash
        super()._record()

    def _write(self, text: str) -> None:
        self.writing = True
        if self.lines == self.crash_at and self.how == "torn":
            super()._write(text[: len(text) // 2])
            raise Crash
        super()._write(text)

    def die(self) -> None:
        """What the kernel does for a process that died: its files close, its lock goes."""
        self._close_file()
        self._lock.close()


def saved_offsets(directory: Path) -> list[int]:
    return [
        json.loads(line)["offset"]
        for path in sorted(directory.glob("log_*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def read_all(archive: LogArchive, offsets: range, lines_per_hour: int = 1000) -> None:
    """One tail run from the beginning: every line of partition 0, in hours of so many lines."""
    for offset in offsets:
        if archive.wants(0, offset):
            if isinstance(archive, CrashingArchive):
                archive.writing = False
            hour = f"20261203_{offset // lines_per_hour:02d}"
            archive.save(hour, json.dumps({"offset": offset}), 0, offset)


def tail_run(directory: Path, topic_id: str, offsets: range, lines_per_hour: int = 1000) -> None:
    """A whole tail run that ends cleanly: opened, ``offsets`` read, closed."""
    archive = LogArchive(directory, topic_id)
    read_all(archive, offsets, lines_per_hour)
    archive.close()


def test_a_tail_run_again_from_the_beginning_saves_nothing_twice(tmp_path: Path) -> None:
    tail_run(tmp_path, "topic-a", range(5))
    tail_run(tmp_path, "topic-a", range(8))
    assert saved_offsets(tmp_path) == list(range(8))


def test_a_new_incarnation_of_the_topic_is_saved_from_its_start(tmp_path: Path) -> None:
    tail_run(tmp_path, "topic-a", range(5))
    tail_run(tmp_path, "topic-b", range(2))
    assert saved_offsets(tmp_path) == [0, 1, 2, 3, 4, 0, 1]


def test_a_log_that_restarts_under_a_running_tail_is_saved_from_its_start(tmp_path: Path) -> None:
    archive = LogArchive(tmp_path, "topic-a")
    read_all(archive, range(4))
    read_all(archive, range(2))  # the embedded broker came back empty
    archive.close()
    assert saved_offsets(tmp_path) == [0, 1, 2, 3, 0, 1]


def test_only_one_tail_saves_and_one_without_the_topic_id_saves_nothing(tmp_path: Path) -> None:
    first = LogArchive(tmp_path, "topic-a")
    second = LogArchive(tmp_path, "topic-a")
    blind = LogArchive(tmp_path / "other", None)
    assert first.saving
    assert not second.saving and "another logs tail" in str(second.why_not_saving)
    assert not blind.saving and "incarnation" in str(blind.why_not_saving)
    assert not second.wants(0, 0) and not blind.wants(0, 0)
    for archive in (first, second, blind):
        archive.close()


CRASH = st.tuples(st.integers(1, 20), st.sampled_from(["torn", "unrecorded", "switching"]))


@settings(max_examples=300)
@given(crashes=st.lists(CRASH, max_size=4), lines=st.integers(1, 20), per_hour=st.integers(1, 6))
def test_a_tail_killed_anywhere_saves_every_line_exactly_once(
    crashes: list[tuple[int, str]], lines: int, per_hour: int
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        for crash_at, how in crashes:
            archive = CrashingArchive(directory, "topic-a", crash_at, how)
            with contextlib.suppress(Crash):
                read_all(archive, range(lines), per_hour)
            archive.die()
        tail_run(directory, "topic-a", range(lines), per_hour)
        assert saved_offsets(directory) == list(range(lines))


@pytest.mark.parametrize("how", ["torn", "unrecorded", "switching"])
def test_each_way_of_dying_is_met_and_mended(tmp_path: Path, how: str) -> None:
    # Six lines, three an hour: the fourth starts the second file.
    archive = CrashingArchive(tmp_path, "topic-a", 4, how)
    with pytest.raises(Crash):
        read_all(archive, range(6), 3)
    archive.die()
    tail_run(tmp_path, "topic-a", range(6), 3)
    assert saved_offsets(tmp_path) == list(range(6))


def test_a_line_written_to_log_channel_by_anyone_prints_no_control_character() -> None:
    forged = {
        "timestamp": "2026-12-06T10:00:00Z\x1b[2J",
        "level": "INFO\x07",
        "service_name": "store-api\r",
        "message": "GET /\x1b]0;owned\x07\nFAKE ERROR",
        "trace_id": "t\x1b",
    }
    printed = format_log_line(forged, colour=False)
    assert "\\x1b]0;owned\\x07\\nFAKE ERROR" in printed
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in printed)
