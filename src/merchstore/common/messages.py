"""The message contracts of the topics ``events``, ``event_log`` and ``log-channel``.

One model per topic, used by every producer and consumer of it; ``docs/asyncapi.yaml`` is
generated from them. Plain data and rules, no I/O.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from merchstore.common.timeutil import UtcDatetime, to_rfc3339, utc_now_rfc3339

# --- `events`: domain events --------------------------------------------------------------

EventType = Literal[
    "default", "purchase_sword", "purchase_knife", "join_guild", "order_placed", "order_cancelled"
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

METADATA_MAX_KEYS = 16
"""At most this many metadata keys per event (the contract's limit)."""

MetadataValue = bool | int | float | str
"""What a metadata value may be: a string, a number or a boolean (a flat object)."""


class InvalidDomainEvent(ValueError):
    """A message on ``events`` that is not a valid domain event."""


class DomainEvent(BaseModel):
    """One thing that happened: a player action or a store order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    event_type: EventType
    user_id: str = Field(min_length=1, max_length=64)
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    timestamp: UtcDatetime

    @classmethod
    def new(
        cls,
        event_type: EventType,
        user_id: str,
        metadata: dict[str, MetadataValue] | None = None,
    ) -> DomainEvent:
        """A new event happening now, with a fresh id (built from trusted values, not parsed)."""
        return cls.model_construct(
            event_id=uuid.uuid4(),
            event_type=event_type,
            user_id=user_id,
            metadata=metadata or {},
            timestamp=datetime.now(UTC),
        )

    def to_json(self) -> bytes:
        """The contract's JSON encoding."""
        return json.dumps(
            {
                "event_id": str(self.event_id),
                "event_type": self.event_type,
                "user_id": self.user_id,
                "metadata": self.metadata,
                "timestamp": to_rfc3339(self.timestamp),
            }
        ).encode()

    @classmethod
    def from_json(cls, value: bytes | None) -> DomainEvent:
        """Parse a message from ``events``; raise InvalidDomainEvent with the reason."""
        if not value:
            raise InvalidDomainEvent("empty message")
        try:
            return cls.model_validate_json(value)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}"
                for e in error.errors()
            )
            raise InvalidDomainEvent(problems) from None


# --- `event_log`: service lifecycle messages ---------------------------------------------------

CODE_PATTERN = re.compile(r"[0-9]{4}\Z")
"""Exactly four ASCII digits; use with ``fullmatch`` (no trailing newline slips through)."""

SEED_CODES: dict[str, str] = {
    "0001": "receiver ready to receive events",
    "0002": "storage ready to consume events",
    "0003": "processor started",
    "0004": "processor run above the event threshold",
}
"""The contract's four codes: always reported, with what each means."""

KNOWN_CODES: dict[str, str] = {
    **SEED_CODES,
    "0005": "store-api ready",
    "0006": "db-service ready",
    "0007": "logging-service ready",
}

START_ANNOUNCEMENTS: dict[str, tuple[str, str]] = {
    "receiver": (
        "0001",
        "Receiver connected to Kafka and ready to receive events on its REST API (code 0001)",
    ),
    "storage": ("0002", "Storage connected to Kafka and ready to consume events (code 0002)"),
    "processor": ("0003", "Processor started (code 0003)"),
    "store-api": ("0005", "store-api ready (code 0005)"),
    "db-service": ("0006", "db-service ready (code 0006)"),
    "logging-service": ("0007", "logging-service ready (code 0007)"),
}
"""What each service publishes on ``event_log`` once it has started: its code and text."""


class EventLogMessage(BaseModel):
    """One lifecycle message on ``event_log``; the code always appears in the text."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(pattern=r"^[0-9]{4}$", description="Four digits (0001 to 0004: the seed).")
    message: str = Field(description="Human-readable text that contains the code.")
    service: str = Field(description="The service that sent it.")
    timestamp: str = Field(description="When it was sent, RFC 3339 in UTC.")


def build_event_log_message(code: str, text: str, service: str) -> dict[str, Any]:
    """The contract's ``event_log`` message; the code is added to the text if it is missing."""
    if not CODE_PATTERN.fullmatch(code):
        raise ValueError(f"event_log code must be four digits, got {code!r}")
    if code not in text:
        text = f"{text} (code {code})"
    return {"code": code, "message": text, "service": service, "timestamp": utc_now_rfc3339()}


# --- `log-channel`: operation logs ---------------------------------------------------------------

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

LOG_LINE_MAX_BYTES = 64 * 1024
"""A published ``log-channel`` message is at most this large (the contract's limit)."""


class LogChannelMessage(BaseModel):
    """One operation log line on ``log-channel``, as logging-service publishes it."""

    model_config = ConfigDict(frozen=True)

    level: LogLevel
    service_name: str = Field(min_length=1, max_length=256)
    message: str = Field(description="The line; cut to fit 64 KiB, with a marker saying so.")
    timestamp: str = Field(max_length=64, description="When it was logged, RFC 3339 in UTC.")
    trace_id: str | None = Field(
        max_length=128,
        description="The W3C trace id (32 lowercase hex digits) of the request, if any.",
    )
    logger: str | None = Field(max_length=256, description="The logger that wrote it, if any.")
    request_id: str | None = Field(
        default=None,
        max_length=128,
        description="The X-Request-ID the client sent with the request, if it sent one.",
    )
