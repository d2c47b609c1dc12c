"""Operation log lines: what a valid one is and its JSON on ``log-channel`` (no I/O)."""

from __future__ import annotations

import json

from merchstore.common.timeutil import utc_now_rfc3339
from merchstore.protos import logging_pb2

LEVEL_NAMES = {
    logging_pb2.DEBUG: "DEBUG",
    logging_pb2.INFO: "INFO",
    logging_pb2.WARNING: "WARNING",
    logging_pb2.ERROR: "ERROR",
    logging_pb2.CRITICAL: "CRITICAL",
}

MAX_MESSAGE_BYTES = 64 * 1024
"""A published ``log-channel`` message is at most this large (the contract's limit)."""

TRUNCATION_MARKER = " …[truncated by logging-service: {omitted} bytes omitted]"
"""Appended to a line cut to fit, saying how much was cut."""


class InvalidLogMessage(ValueError):
    """A log message that cannot be published (no service name, unknown level)."""


def log_channel_json(message: logging_pb2.LogMessage) -> bytes:
    """The contract's ``log-channel`` JSON for a valid message; InvalidLogMessage otherwise.

    A message whose JSON would exceed `MAX_MESSAGE_BYTES` has its text cut to fit, with a
    marker saying how much was cut: no line, however large, is refused by the broker.
    """
    level = LEVEL_NAMES.get(message.level)
    if level is None:
        raise InvalidLogMessage(f"unknown level {message.level}")
    if not message.service_name.strip():
        raise InvalidLogMessage("service_name is required")
    fields = {
        "level": level,
        "service_name": message.service_name[:256],
        "message": message.message,
        "timestamp": message.timestamp[:64] or utc_now_rfc3339(),
        "trace_id": message.trace_id[:128] or None,
        "logger": message.logger[:256] or None,
    }
    encoded = json.dumps(fields).encode()
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return encoded
    return _truncated(fields, len(encoded))


def _truncated(fields: dict[str, str | None], encoded_size: int) -> bytes:
    text = str(fields["message"])
    original = len(text.encode())
    # JSON escaping can grow a character up to 6 bytes ("\\uXXXX"): cut until it fits.
    keep = max(len(text) - (encoded_size - MAX_MESSAGE_BYTES) - len(TRUNCATION_MARKER) - 32, 0)
    while True:
        kept = text[:keep]
        omitted = original - len(kept.encode())
        fields["message"] = kept + TRUNCATION_MARKER.format(omitted=omitted)
        encoded = json.dumps(fields).encode()
        if len(encoded) <= MAX_MESSAGE_BYTES:
            return encoded
        keep = max(keep - (len(encoded) - MAX_MESSAGE_BYTES) - 1, 0)
