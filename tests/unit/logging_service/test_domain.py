"""log-channel JSON and the byte-bounded spill buffer (no network)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from merchstore.common.clean_text import escape_controls
from merchstore.logging_service.adapters import SpillBuffer
from merchstore.logging_service.domain import LEVEL_NAMES, MAX_MESSAGE_BYTES, log_channel_json
from merchstore.protos import logging_pb2


def line(text: str) -> logging_pb2.LogMessage:
    return logging_pb2.LogMessage(level=logging_pb2.INFO, service_name="s", message=text)


def test_a_line_over_64_kib_is_cut_to_fit_with_a_marker() -> None:
    encoded = log_channel_json(line("x" * 200_000))
    assert len(encoded) <= MAX_MESSAGE_BYTES
    body = json.loads(encoded)
    assert body["message"].startswith("x" * 1000)
    assert "truncated by logging-service" in body["message"]
    omitted = int(body["message"].rsplit(": ", 1)[1].split(" ")[0])
    assert omitted == 200_000 - body["message"].count("x")


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=0, max_size=30).map(lambda unit: unit * 5000))
def test_any_line_fits_the_limit(text: str) -> None:
    encoded = log_channel_json(line(text))
    assert len(encoded) <= MAX_MESSAGE_BYTES
    if len(json.dumps(text).encode()) < MAX_MESSAGE_BYTES - 200:
        assert json.loads(encoded)["message"] == escape_controls(text)


def test_the_spill_is_bounded_in_bytes_and_keeps_order(tmp_path: Path) -> None:
    spill = SpillBuffer(tmp_path / "spill.sqlite3", max_bytes=100_000)
    kept, dropped = spill.append([b"a" * 40_000, b"b" * 40_000, b"c" * 40_000, b"d"])
    assert (kept, dropped) == (2, 2), "in order: nothing may overtake a dropped line"
    assert spill.size_bytes == 80_000
    spill.set_aside(spill.oldest(1)[0][0], "refused by the broker")
    assert len(spill) == 1 and spill.size_bytes == 40_000 and spill.set_aside_count() == 1
    spill.close()
    reopened = SpillBuffer(tmp_path / "spill.sqlite3", max_bytes=100_000)
    assert len(reopened) == 1 and reopened.size_bytes == 40_000
    assert reopened.oldest(5)[0][1] == b"b" * 40_000


@settings(max_examples=300, deadline=None)
@given(
    service=st.text(min_size=1, max_size=300).filter(str.strip),
    text=st.text(max_size=200),
    timestamp=st.text(max_size=80),
    trace_id=st.text(max_size=150),
    logger=st.text(max_size=300),
    level=st.sampled_from(sorted(LEVEL_NAMES)),
)
def test_a_line_is_encoded_as_json_dumps_would(
    service: str, text: str, timestamp: str, trace_id: str, logger: str, level: int
) -> None:
    message = logging_pb2.LogMessage(
        level=level,  # type: ignore[arg-type]
        service_name=service,
        message=text,
        timestamp=timestamp,
        trace_id=trace_id,
        logger=logger,
    )
    encoded = log_channel_json(message)
    fields = json.loads(encoded)
    assert list(fields) == [
        "level",
        "service_name",
        "message",
        "timestamp",
        "trace_id",
        "logger",
        "request_id",
    ]
    assert encoded == json.dumps(fields).encode()
    # Every field as sent, control characters written as escapes.
    shown = escape_controls
    assert fields["message"] == shown(text) and fields["service_name"] == shown(service[:256])
    assert fields["trace_id"] == (shown(trace_id[:128]) or None)
    assert fields["logger"] == (shown(logger[:256]) or None)
    assert fields["timestamp"] == shown(timestamp[:64]) or (not timestamp and fields["timestamp"])


def test_control_characters_a_client_sent_are_published_as_escapes() -> None:
    hostile = logging_pb2.LogMessage(
        level=logging_pb2.INFO,
        service_name="store-api\x1b[2J",
        message="GET /\x1b]0;x\x07\nFAKE 404",
        trace_id="t\n1",
        logger="merchstore\r",
    )
    encoded = log_channel_json(hostile)
    body = json.loads(encoded)
    assert body["message"] == "GET /\\x1b]0;x\\x07\\nFAKE 404"
    assert body["service_name"] == "store-api\\x1b[2J"
    assert (body["trace_id"], body["logger"]) == ("t\\n1", "merchstore\\r")
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in json.loads(encoded)["message"])
