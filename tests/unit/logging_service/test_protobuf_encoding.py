"""docs/protobuf-encoding.md stays true: same bytes, decoded by a hand-written wire reader."""

from __future__ import annotations

import json
import re

from merchstore.protos import logging_pb2
from tests.support.paths import REPOSITORY

DOC = (REPOSITORY / "docs" / "protobuf-encoding.md").read_text()
SAMPLE = logging_pb2.LogMessage(
    level=logging_pb2.WARNING,
    service_name="store-api",
    message="GET /products 200 3.1ms",
    timestamp="2026-11-22T06:00:00.123Z",
    trace_id="7f3a9c",
)


def block_after(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)\n```", DOC, re.S)
    assert match, f"no block after {marker}"
    return match.group(1)


def read_varint(data: bytes, position: int) -> tuple[int, int]:
    """Decode a varint at ``position``; return it and the position after it."""
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def read_fields(data: bytes) -> dict[int, tuple[int, int | bytes]]:
    """A minimal protobuf wire reader: field number -> (wire type, value)."""
    fields: dict[int, tuple[int, int | bytes]] = {}
    position = 0
    while position < len(data):
        tag, position = read_varint(data, position)
        number, wire_type = tag >> 3, tag & 0x07
        if wire_type == 0:
            value, position = read_varint(data, position)
            fields[number] = (0, value)
        elif wire_type == 2:
            length, position = read_varint(data, position)
            fields[number] = (2, data[position : position + length])
            position += length
        else:
            raise AssertionError(f"wire type {wire_type} is not used by LogMessage")
    return fields


def test_the_documented_bytes_are_what_the_code_encodes() -> None:
    documented = bytes.fromhex(block_after("encoded-bytes"))
    assert documented == SAMPLE.SerializeToString()
    assert f"## The bytes ({len(documented)})" in DOC


def test_a_hand_written_reader_decodes_every_field() -> None:
    fields = read_fields(bytes.fromhex(block_after("encoded-bytes")))
    assert fields == {
        1: (0, logging_pb2.WARNING),
        2: (2, b"store-api"),
        3: (2, b"GET /products 200 3.1ms"),
        4: (2, b"2026-11-22T06:00:00.123Z"),
        5: (2, b"7f3a9c"),
    }
    assert 6 not in fields, "an empty proto3 string is not sent"


def test_the_varint_example_and_the_json_comparison_hold() -> None:
    assert read_varint(bytes([0xAC, 0x02]), 0) == (300, 2)
    documented_json = block_after("json-form")
    body = json.loads(documented_json)
    assert body["message"] == SAMPLE.message and body["level"] == "WARNING"
    assert f"That is {len(documented_json.encode())} bytes against protobuf's" in DOC
    assert f"against protobuf's {len(SAMPLE.SerializeToString())}" in DOC
