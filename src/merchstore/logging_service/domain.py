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


class InvalidLogMessage(ValueError):
    """A log message that cannot be published (no service name, unknown level)."""


def log_channel_json(message: logging_pb2.LogMessage) -> bytes:
    """The contract's ``log-channel`` JSON for a valid message; InvalidLogMessage otherwise."""
    level = LEVEL_NAMES.get(message.level)
    if level is None:
        raise InvalidLogMessage(f"unknown level {message.level}")
    if not message.service_name.strip():
        raise InvalidLogMessage("service_name is required")
    return json.dumps(
        {
            "level": level,
            "service_name": message.service_name,
            "message": message.message,
            "timestamp": message.timestamp or utc_now_rfc3339(),
            "trace_id": message.trace_id or None,
            "logger": message.logger or None,
        }
    ).encode()
