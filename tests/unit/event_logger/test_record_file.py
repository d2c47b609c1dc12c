"""app.log: each stored message once, one line each, written from what committed."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merchstore.common.consumed import ConsumedMessage
from merchstore.event_logger.adapters.record_file import RecordFile, format_line
from merchstore.event_logger.adapters.store import EventLogStore
from merchstore.event_logger.domain import StoredRecord, parse_event_log_message
from merchstore.event_logger.use_cases import EventLogIngestor


def messages(start: int, stop: int, text: str = "m") -> list[ConsumedMessage]:
    return [
        ConsumedMessage(
            "event_log", 0, offset, json.dumps({"code": "0001", "message": text}).encode(), "t1"
        )
        for offset in range(start, stop)
    ]


def logged_ids(path: Path) -> list[int]:
    return [int(i) for i in re.findall(r" id=(\d+) ", path.read_text())]


def test_lines_follow_the_commit_and_escape_newlines(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    record_file = RecordFile(tmp_path / "app.log")
    EventLogIngestor(store, record_file).ingest(messages(0, 3, text="two\nlines\r\tand tab"))
    lines = (tmp_path / "app.log").read_text().split("\n")
    assert len(lines) == 4 and lines[-1] == ""
    assert "message=two\\nlines\\r\\tand tab" in lines[0]
    assert logged_ids(tmp_path / "app.log") == [1, 2, 3]


def test_a_crash_between_commit_and_write_is_made_good_at_start(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    record_file = RecordFile(tmp_path / "app.log")
    EventLogIngestor(store, record_file).ingest(messages(0, 2))
    # Committed, then the process died before writing its lines.
    batch = messages(2, 5)
    store.store_batch([parse_event_log_message(m) for m in batch], batch)
    record_file.close()

    restarted = RecordFile(tmp_path / "app.log")
    assert restarted.reconcile(store) == 3
    assert logged_ids(tmp_path / "app.log") == [1, 2, 3, 4, 5]
    assert RecordFile(tmp_path / "app.log").reconcile(store) == 0


def test_a_line_cut_short_by_a_crash_is_rewritten_once(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    record_file = RecordFile(tmp_path / "app.log")
    EventLogIngestor(store, record_file).ingest(messages(0, 3))
    record_file.close()
    text = (tmp_path / "app.log").read_bytes()
    (tmp_path / "app.log").write_bytes(text[:-10])  # the last write stopped mid-line

    restarted = RecordFile(tmp_path / "app.log")
    assert restarted.reconcile(store) == 1
    assert logged_ids(tmp_path / "app.log") == [1, 2, 3]
    assert (tmp_path / "app.log").read_bytes() == text


def test_a_new_topic_incarnation_is_counted_from_offset_0(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    ingestor = EventLogIngestor(store, RecordFile(tmp_path / "app.log"))
    ingestor.ingest(messages(0, 5))
    assert store.next_offset("event_log", "t1", 0) == 5
    assert store.next_offset("event_log", "t2", 0) is None
    again = [ConsumedMessage(m.topic, m.partition, m.offset, m.value, "t2") for m in messages(0, 3)]
    assert len(ingestor.ingest(again)) == 3
    assert store.counts()["0001"] == 8
    assert logged_ids(tmp_path / "app.log") == list(range(1, 9))


def test_a_log_file_of_an_earlier_version_is_not_written_again(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    batch = messages(0, 3)
    store.store_batch([parse_event_log_message(m) for m in batch], batch)
    # The earlier version wrote its lines (without ids) before each commit.
    old_lines = "".join(f"2026-11-20T00:00:00Z code=0001 offset={i} message=m\n" for i in range(3))
    (tmp_path / "app.log").write_text(old_lines)
    record_file = RecordFile(tmp_path / "app.log")
    assert record_file.reconcile(store) == 0
    EventLogIngestor(store, record_file).ingest(messages(3, 4))
    text = (tmp_path / "app.log").read_text()
    assert text.startswith(old_lines) and logged_ids(tmp_path / "app.log") == [4]


@given(st.text(), st.text())
def test_message_and_service_are_written_as_their_json_string_escaping(
    text: str, service: str
) -> None:
    record = StoredRecord(7, "0001", text, service, None, "2026-11-30T00:00:00.000Z", 0, 6)
    line = format_line(record)
    assert line.endswith(f" message={json.dumps(text, ensure_ascii=False)[1:-1]}\n")
    assert f" service={json.dumps(service, ensure_ascii=False)[1:-1]} " in line
    assert line.count("\n") == 1


def test_a_full_disk_part_way_through_a_write_leaves_each_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    record_file = RecordFile(tmp_path / "app.log")
    ingestor = EventLogIngestor(store, record_file)
    ingestor.ingest(messages(0, 2))
    real_write = os.write

    def half_then_no_space(fd: int, data: bytes | memoryview) -> int:
        # The kernel takes part of the batch, then the disk is full.
        monkeypatch.setattr(os, "write", no_space)
        return real_write(fd, bytes(data[: len(data) // 2]))

    def no_space(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_no_space)
    with pytest.raises(OSError):
        ingestor.ingest(messages(2, 5))  # committed, then the file write failed
    monkeypatch.setattr(os, "write", real_write)  # room again

    ingestor.ingest(messages(5, 6))
    text = (tmp_path / "app.log").read_text()
    assert logged_ids(tmp_path / "app.log") == [1, 2, 3, 4, 5, 6]
    assert all(re.fullmatch(r"\S+ id=\d+ code=0001 .*", line) for line in text.splitlines())


def test_a_message_that_imitates_an_id_does_not_stop_the_file(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "db.sqlite3")
    record_file = RecordFile(tmp_path / "app.log")
    ingestor = EventLogIngestor(store, record_file)
    # Longer than any fixed tail, and ending in what a line's id looks like.
    ingestor.ingest(messages(0, 1, text="x" * 70_000 + " id=999999999 "))
    record_file.close()

    restarted = RecordFile(tmp_path / "app.log")
    assert restarted.last_id == 1
    EventLogIngestor(store, restarted).ingest(messages(1, 3))
    assert logged_ids(tmp_path / "app.log")[-2:] == [2, 3]
    assert len((tmp_path / "app.log").read_text().splitlines()) == 3
