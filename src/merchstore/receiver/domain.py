"""The player actions the receiver accepts and what their metadata may hold (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from merchstore.common.domain_events import (
    METADATA_MAX_KEYS,
    DomainEvent,
    EventType,
    MetadataValue,
)
from merchstore.common.request_guard import CLEAN_TEXT_SCHEMA

ANONYMOUS_USER = "anonymous"

MetadataKey = Annotated[
    str, StringConstraints(min_length=1, max_length=64), Field(json_schema_extra=CLEAN_TEXT_SCHEMA)
]
"""A metadata key: 1 to 64 characters of the client's choice."""

MetadataInput = (
    StrictBool
    | StrictInt
    | Annotated[float, Field(strict=True, allow_inf_nan=False)]
    | Annotated[str, StringConstraints(max_length=256), Field(json_schema_extra=CLEAN_TEXT_SCHEMA)]
)
"""A metadata value as a client may send it: a string of at most 256 characters, a finite
number or a boolean. Strict, so ``"9.99"`` stays a string and ``true`` a boolean."""

Metadata = Annotated[
    dict[MetadataKey, MetadataInput],
    Field(
        max_length=METADATA_MAX_KEYS,
        description=f"A flat object of at most {METADATA_MAX_KEYS} keys; published as given",
        examples=[{"sword_type": "katana", "price": "9.99"}],
        # Keys are described by patternProperties: no key outside that pattern is accepted.
        json_schema_extra={"additionalProperties": False},
    ),
]


class ActionBody(BaseModel):
    """Body of a player action (optional): who did it and anything worth keeping about it."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(
        None, min_length=1, max_length=64, examples=["42"], json_schema_extra=CLEAN_TEXT_SCHEMA
    )
    metadata: Metadata = Field(default_factory=dict)


@dataclass(frozen=True)
class PlayerAction:
    """One kind of player action: where it is taken, the event it publishes, its answer."""

    path: str
    event_type: EventType
    answer: str


PURCHASE_SWORD = PlayerAction("/purchase_a_sword", "purchase_sword", "Sword Purchased!")
PURCHASE_KNIFE = PlayerAction("/purchase_a_knife", "purchase_knife", "Knife Purchased!")
JOIN_GUILD = PlayerAction("/join_guild", "join_guild", "Guild Joined!")
DEFAULT_ACTION = PlayerAction("/", "default", "This is the default response!")

ACTIONS: tuple[PlayerAction, ...] = (PURCHASE_SWORD, PURCHASE_KNIFE, JOIN_GUILD)
"""The actions taken by POST (with an optional body) or by GET (with none)."""


def action_event(
    action: PlayerAction, user_id: str | None, metadata: dict[str, MetadataValue] | None = None
) -> DomainEvent:
    """The domain event a player action produces, its metadata published as given."""
    return DomainEvent.new(action.event_type, user_id or ANONYMOUS_USER, metadata or {})
