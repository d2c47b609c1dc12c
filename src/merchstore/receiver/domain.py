"""The player actions the receiver accepts and what their metadata may hold (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from merchstore.common.domain_events import DomainEvent, EventType

ANONYMOUS_USER = "anonymous"


class ActionMetadata(BaseModel):
    """Validated metadata of a player action."""

    model_config = ConfigDict(extra="forbid")

    def as_strings(self) -> dict[str, str]:
        """Metadata as the string map events carry (money with two decimals)."""
        values = self.model_dump(exclude_none=True)
        return {
            key: f"{value:.2f}" if isinstance(value, Decimal) else str(value)
            for key, value in values.items()
        }


class NoMetadata(ActionMetadata):
    """The default event carries no metadata."""


class WeaponMetadata(ActionMetadata):
    """A sword or knife purchase: which kind and at what price."""

    kind: str | None = Field(None, min_length=1, max_length=64, description="e.g. katana")
    price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)


class GuildMetadata(ActionMetadata):
    """Joining a guild: which one."""

    guild_name: str | None = Field(None, min_length=1, max_length=64)


@dataclass(frozen=True)
class PlayerAction:
    """One kind of player action: the event it publishes and the answer it gives."""

    event_type: EventType
    answer: str


PURCHASE_SWORD = PlayerAction("purchase_sword", "Sword Purchased!")
PURCHASE_KNIFE = PlayerAction("purchase_knife", "Knife Purchased!")
JOIN_GUILD = PlayerAction("join_guild", "Guild Joined!")
DEFAULT_ACTION = PlayerAction("default", "This is the default response!")


def action_event(
    action: PlayerAction, user_id: str | None, metadata: ActionMetadata
) -> DomainEvent:
    """The domain event a player action produces."""
    return DomainEvent.new(action.event_type, user_id or ANONYMOUS_USER, metadata.as_strings())
