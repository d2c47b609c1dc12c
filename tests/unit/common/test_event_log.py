"""The event_log publisher sends the contract's message format."""

from __future__ import annotations

import re

import pytest

from merchstore.common.messages import build_event_log_message

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_message_has_the_contract_fields() -> None:
    message = build_event_log_message("0001", "Receiver ready (code 0001)", "receiver")
    assert set(message) == {"code", "message", "service", "timestamp"}
    assert message["code"] == "0001"
    assert message["service"] == "receiver"
    assert TIMESTAMP.match(message["timestamp"])


def test_code_is_added_to_the_text_when_missing() -> None:
    message = build_event_log_message("0003", "Processor started", "processor")
    assert "0003" in message["message"]


@pytest.mark.parametrize("code", ["1", "00001", "abcd", ""])
def test_invalid_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="four digits"):
        build_event_log_message(code, "text", "svc")
