"""What an ``event_log`` message is, and how a consumed one is checked (no I/O here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import NamedTuple

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.messages import CODE_PATTERN


class MalformedEventLogMessage(ValueError):
    """A message on ``event_log`` that is not JSON, has no code, or a code not four digits."""


class EventLogRecord(NamedTuple):
    """A valid ``event_log`` message, ready to be stored once (one built per message)."""

    code: str
    message: str
    service: str | None
    sent_at: str | None
    source: ConsumedMessage


def parse_event_log_message(consumed: ConsumedMessage) -> EventLogRecord:
    """Check one consumed message against the contract; raise MalformedEventLogMessage if bad."""
    if consumed.value is None:
        raise MalformedEventLogMessage("empty message")
    try:
        # Decoded here: json.loads would first guess the encoding of bytes.
        body = json.loads(consumed.value.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEventLogMessage(f"not JSON: {error}") from None
    except RecursionError:
        raise MalformedEventLogMessage("nested too deep to parse") from None
    if not isinstance(body, dict):
        raise MalformedEventLogMessage("not a JSON object")
    code = body.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        raise MalformedEventLogMessage(f"code must be a string of four digits, got {code!r}")
    text = body.get("message")
    service = body.get("service")
    sent_at = body.get("timestamp")
    return EventLogRecord(
        code,
        text if isinstance(text, str) else json.dumps(body),
        service if isinstance(service, str) else None,
        sent_at if isinstance(sent_at, str) else None,
        consumed,
    )


class StoredRecord(NamedTuple):
    """A row of ``event_log_messages``: what the log file and the API show.

    A named tuple: one is built per stored message, and a tuple is the cheapest to build.
    """

    id: int
    code: str
    message: str
    service: str | None
    sent_at: str | None
    written_at: str
    partition: int
    offset: int


@dataclass(frozen=True)
class SetAsideMessage:
    """A consumed message that can never be stored, and why."""

    source: ConsumedMessage
    reason: str
