"""Whatever is written to `event_log`, the event-logger counts the next good message once."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.poison import handle_or_set_aside
from merchstore.common.sqlite import REFUSED_BY_SQLITE
from merchstore.event_logger.adapters.record_file import RecordFile
from merchstore.event_logger.adapters.store import EventLogStore
from merchstore.event_logger.use_cases import EventLogIngestor
from tests.support.hostile import hostile_messages, hostile_text, shaped_like

_offsets = itertools.count()

EVENT_LOG_SHAPED = shaped_like(
    {
        "code": st.one_of(
            st.sampled_from(["0001", "0002", "0003", "0004", "0009", "0001\n", "١٢٣٤", "12345"]),
            hostile_text,
        ),
        "message": hostile_text,
        "service": hostile_text,
        "timestamp": hostile_text,
    }
)


def _message(value: bytes | None) -> ConsumedMessage:
    return ConsumedMessage("event_log", 0, next(_offsets), value, "topic-id")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(hostile_messages(EVENT_LOG_SHAPED), min_size=1, max_size=6))
def test_any_messages_then_a_good_one_is_counted_with_counts_exact(
    tmp_path: Path, values: list[bytes | None]
) -> None:
    store = EventLogStore(tmp_path / "events.sqlite3")
    record_file = RecordFile(tmp_path / "app.log")
    ingestor = EventLogIngestor(store, record_file)
    try:
        good = json.dumps({"code": "0003", "message": "Processor started (code 0003)"}).encode()
        batch = [_message(value) for value in values] + [_message(good)]
        counted_before, aside_before = sum(store.counts().values()), store.set_aside_count()
        zeros_before = store.counts()["0003"]

        handle_or_set_aside(batch, ingestor.ingest, ingestor.set_aside, REFUSED_BY_SQLITE)

        counted = sum(store.counts().values()) - counted_before
        aside = store.set_aside_count() - aside_before
        assert store.counts()["0003"] >= zeros_before + 1
        assert counted + aside == len(batch)
        assert all(len(code) == 4 and code.isascii() and code.isdigit() for code in store.counts())
        # The log file holds each stored row once, one line each.
        lines = (tmp_path / "app.log").read_bytes().split(b"\n")
        assert lines[-1] == b""
        assert len(lines) - 1 == sum(store.counts().values())
    finally:
        store.close()
        record_file.close()


def test_text_sqlite_refuses_and_deep_nesting_are_set_aside(tmp_path: Path) -> None:
    store = EventLogStore(tmp_path / "events.sqlite3")
    ingestor = EventLogIngestor(store, RecordFile(tmp_path / "app.log"))
    batch = [
        _message(b'{"code": "0001", "message": "lone \\ud800 surrogate"}'),
        _message(b'{"code": "0001\\n", "message": "newline after the code"}'),
        _message(b"[" * 5000 + b"]" * 5000),
        _message(b'{"code": "0002", "message": "good"}'),
    ]
    set_aside = handle_or_set_aside(batch, ingestor.ingest, ingestor.set_aside, REFUSED_BY_SQLITE)
    assert set_aside == 1  # the surrogate, refused by SQLite; the other two are malformed
    assert store.counts()["0002"] == 1 and store.counts()["0001"] == 0
    assert store.set_aside_count() == 3
