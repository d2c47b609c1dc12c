"""Parsing of event_log messages (no I/O)."""

from __future__ import annotations

import json

import pytest

from merchstore.common.consumed import ConsumedMessage
from merchstore.event_logger.domain import (
    MalformedEventLogMessage,
    parse_event_log_message,
)


def consumed(value: bytes | None) -> ConsumedMessage:
    return ConsumedMessage("event_log", 0, 7, value)


def test_a_contract_message_is_parsed() -> None:
    body = {
        "code": "0002",
        "message": "Storage ready (code 0002)",
        "service": "storage",
        "timestamp": "2026-11-22T06:00:00.123Z",
    }
    record = parse_event_log_message(consumed(json.dumps(body).encode()))
    assert (record.code, record.service, record.sent_at) == ("0002", "storage", body["timestamp"])
    assert record.message == body["message"]
    assert record.source.offset == 7


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"message": "no code"}', "four digits"),
        (b'{"code": "12345"}', "four digits"),
        (b'{"code": 1}', "four digits"),
        (None, "empty"),
    ],
)
def test_malformed_messages_are_refused(value: bytes | None, reason: str) -> None:
    with pytest.raises(MalformedEventLogMessage, match=reason):
        parse_event_log_message(consumed(value))
