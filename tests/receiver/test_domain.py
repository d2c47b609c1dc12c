"""Player actions and their metadata (no I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from merchstore.receiver.domain import (
    DEFAULT_ACTION,
    PURCHASE_SWORD,
    GuildMetadata,
    NoMetadata,
    WeaponMetadata,
    action_event,
)


def test_a_sword_purchase_becomes_a_purchase_sword_event() -> None:
    event = action_event(PURCHASE_SWORD, "42", WeaponMetadata(kind="katana", price=Decimal("9.9")))
    assert event.event_type == "purchase_sword"
    assert event.user_id == "42"
    assert event.metadata == {"kind": "katana", "price": "9.90"}


def test_an_unknown_user_is_anonymous() -> None:
    assert action_event(DEFAULT_ACTION, None, NoMetadata()).user_id == "anonymous"


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (WeaponMetadata, {"price": "-0.01"}),
        (WeaponMetadata, {"price": "1.234"}),
        (WeaponMetadata, {"price": "cheap"}),
        (WeaponMetadata, {"kind": ""}),
        (WeaponMetadata, {"colour": "red"}),
        (GuildMetadata, {"guild_name": ""}),
    ],
)
def test_invalid_metadata_is_refused(
    model: type[WeaponMetadata | GuildMetadata], values: dict[str, str]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(values)
