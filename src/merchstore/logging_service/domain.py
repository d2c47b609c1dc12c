"""Operation log lines: what a valid one is and its JSON on ``log-channel`` (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from json.encoder import encode_basestring_ascii

from merchstore.common.clean_text import escape_controls
from merchstore.common.messages import LOG_LINE_MAX_BYTES
from merchstore.common.timeutil import utc_now_rfc3339
from merchstore.protos import logging_pb2

LEVEL_NAMES = {
    logging_pb2.DEBUG: "DEBUG",
    logging_pb2.INFO: "INFO",
    logging_pb2.WARNING: "WARNING",
    logging_pb2.ERROR: "ERROR",
    logging_pb2.CRITICAL: "CRITICAL",
}

MAX_MESSAGE_BYTES = LOG_LINE_MAX_BYTES
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
    # Everything but the text is bounded here; only the text may have to be cut to fit.
    # Escaped: a client's text (a request path full of terminal escapes) must not reach a
    # terminal or a line-based log as anything but what it was.
    encode = partial(
        _json,
        level,
        escape_controls(message.service_name[:256]),
        timestamp=escape_controls(message.timestamp[:64]) or utc_now_rfc3339(),
        trace_id=escape_controls(message.trace_id[:128]) or None,
        logger=escape_controls(message.logger[:256]) or None,
        request_id=escape_controls(message.request_id[:128]) or None,
    )
    text = escape_controls(message.message)
    encoded = encode(text)
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return encoded
    return _truncated(text, encode, len(encoded))


def _json(
    level: str,
    service_name: str,
    text: str,
    *,
    timestamp: str,
    trace_id: str | None,
    logger: str | None,
    request_id: str | None,
) -> bytes:
    """The line's JSON, byte for byte what ``json.dumps`` gives, 4 times faster.

    logging-service encodes every line it publishes, and json.dumps spends most of its time
    finding out what each value is, which here is known. The strings are escaped by the C
    function json.dumps uses (a property test compares the two).
    """
    return (
        f'{{"level": {_quoted(level)}, "service_name": {_quoted(service_name)}, '
        f'"message": {_quoted(text)}, "timestamp": {_quoted(timestamp)}, '
        f'"trace_id": {"null" if trace_id is None else _quoted(trace_id)}, '
        f'"logger": {"null" if logger is None else _quoted(logger)}, '
        f'"request_id": {"null" if request_id is None else _quoted(request_id)}}}'
    ).encode()


_quoted = encode_basestring_ascii


def _truncated(text: str, encode: Callable[[str], bytes], encoded_size: int) -> bytes:
    original = len(text.encode())
    # JSON escaping can grow a character up to 6 bytes ("\\uXXXX"): cut until it fits.
    keep = max(len(text) - (encoded_size - MAX_MESSAGE_BYTES) - len(TRUNCATION_MARKER) - 32, 0)
    while True:
        kept = text[:keep]
        omitted = original - len(kept.encode())
        encoded = encode(kept + TRUNCATION_MARKER.format(omitted=omitted))
        if len(encoded) <= MAX_MESSAGE_BYTES:
            return encoded
        keep = max(keep - (len(encoded) - MAX_MESSAGE_BYTES) - 1, 0)
