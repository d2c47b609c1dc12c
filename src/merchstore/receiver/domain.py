"""The player actions the receiver accepts and what their metadata may hold (no I/O)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from merchstore.common.clean_text import CLEAN_TEXT_SCHEMA
from merchstore.common.messages import METADATA_MAX_KEYS, DomainEvent, EventType, MetadataValue

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


IDEMPOTENT_EVENTS = uuid.UUID("6f1d3c52-7a0e-4b8e-9a43-3d2f0c1b9e57")
"""The namespace of event ids derived from an ``Idempotency-Key`` (UUID version 5)."""


def idempotent_event_id(path: str, user_id: str, key: str) -> uuid.UUID:
    """The event id of every request with this key, path and user: a retry is the same event.

    A request answered 503 (or not at all) may still have been written, so its retry must not
    make a second event; storage keeps one row per event id. Different paths or users never
    share an id, whatever keys their clients choose.
    """
    return uuid.uuid5(IDEMPOTENT_EVENTS, "\n".join((path, user_id, key)))


def action_event(
    action: PlayerAction,
    user_id: str | None,
    metadata: dict[str, MetadataValue] | None = None,
    idempotency_key: str | None = None,
) -> DomainEvent:
    """The domain event a player action produces, its metadata published as given.

    With an ``idempotency_key`` its id is derived from the key, the path and the user.
    """
    user = user_id or ANONYMOUS_USER
    event = DomainEvent.new(action.event_type, user, metadata or {})
    if idempotency_key is None:
        return event
    return event.model_copy(
        update={"event_id": idempotent_event_id(action.path, user, idempotency_key)}
    )
