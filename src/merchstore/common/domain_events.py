"""Domain events on the ``events`` topic: one model for every producer and consumer."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from merchstore.common.timeutil import UtcDatetime, to_rfc3339

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
