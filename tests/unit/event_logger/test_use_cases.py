"""The event-logger's use case against fakes: store once, set aside the malformed, then log."""

from __future__ import annotations

import json
from collections.abc import Sequence

from merchstore.common.consumed import ConsumedMessage
from merchstore.event_logger.domain import EventLogRecord, SetAsideMessage, StoredRecord
from merchstore.event_logger.use_cases import EventLogIngestor, RecordStore


class MemoryRecordStore:
    """Rows by id, a position per partition (redeliveries below it are left out), set-asides."""

    def __init__(self) -> None:
        self.rows: list[StoredRecord] = []
        self.set_aside_messages: list[tuple[int, str]] = []
        self.position = 0
        self.calls: list[str] = []

    def store_batch(
        self,
        records: Sequence[EventLogRecord],
        batch: Sequence[ConsumedMessage],
        set_aside: Sequence[SetAsideMessage],
    ) -> list[StoredRecord]:
        self.calls.append("store")
        fresh = [record for record in records if record.source.offset >= self.position]
        stored = [
            StoredRecord(
                len(self.rows) + index + 1,
                record.code,
                record.message,
                record.service,
                record.sent_at,
                "2026-12-06T10:00:00.000Z",
                record.source.partition,
                record.source.offset,
            )
            for index, record in enumerate(fresh)
        ]
        self.rows += stored
        self.set_aside_messages += [(m.source.offset, m.reason) for m in set_aside]
        self.position = max([self.position, *(message.offset + 1 for message in batch)])
        return stored

    def set_aside(self, message: ConsumedMessage, reason: str) -> None:
        self.set_aside_messages.append((message.offset, reason))
        self.position = max(self.position, message.offset + 1)

    def last_id(self) -> int:
        return len(self.rows)

    def records_after(self, last_id: int, limit: int = 10_000) -> list[StoredRecord]:
        return self.rows[last_id : last_id + limit]


class MemoryRecordLog:
    """The log file's lines, each a stored record, appended after the store's commit."""

    def __init__(self, store: MemoryRecordStore) -> None:
        self.lines: list[StoredRecord] = []
        self._store = store

    def append_committed(self, store: RecordStore, records: list[StoredRecord]) -> None:
        assert self._store.calls[-1] == "store", "a line is written only after its commit"
        self.lines += records


def message(offset: int, code: str = "0001") -> ConsumedMessage:
    body = {"code": code, "message": f"m{offset} (code {code})", "service": "receiver"}
    return ConsumedMessage("event_log", 0, offset, json.dumps(body).encode(), "id-1")


def ingestor_with_fakes() -> tuple[EventLogIngestor, MemoryRecordStore, MemoryRecordLog]:
    store = MemoryRecordStore()
    record_log = MemoryRecordLog(store)
    return EventLogIngestor(store, record_log), store, record_log


def test_a_batch_is_stored_then_logged_once_each() -> None:
    ingestor, store, record_log = ingestor_with_fakes()
    stored = ingestor.ingest([message(0), message(1, "0004")])
    assert [row.code for row in stored] == ["0001", "0004"]
    assert record_log.lines == store.rows == stored
    assert ingestor.stored == 2


def test_malformed_messages_are_set_aside_in_the_same_batch_and_the_rest_stored() -> None:
    ingestor, store, record_log = ingestor_with_fakes()
    bad = [
        ConsumedMessage("event_log", 0, 1, b"not json", "id-1"),
        ConsumedMessage("event_log", 0, 2, json.dumps({"code": "12"}).encode(), "id-1"),
    ]
    ingestor.ingest([message(0), *bad, message(3)])
    assert [row.offset for row in record_log.lines] == [0, 3]
    assert [offset for offset, _ in store.set_aside_messages] == [1, 2]
    assert all(reason for _, reason in store.set_aside_messages)
    assert (ingestor.stored, ingestor.set_aside_count) == (2, 2)


def test_a_redelivered_batch_is_neither_stored_nor_logged_again() -> None:
    ingestor, store, record_log = ingestor_with_fakes()
    batch = [message(0), message(1)]
    ingestor.ingest(batch)
    assert ingestor.ingest(batch) == []
    assert len(store.rows) == len(record_log.lines) == 2


def test_a_message_the_database_refused_is_set_aside_and_consumption_moves_past_it() -> None:
    ingestor, store, _ = ingestor_with_fakes()
    ingestor.set_aside(message(7), "IntegrityError: CHECK constraint failed")
    assert store.set_aside_messages == [(7, "IntegrityError: CHECK constraint failed")]
    assert store.position == 8
    assert ingestor.set_aside_count == 1
