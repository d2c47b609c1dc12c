"""Player actions and their metadata (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from merchstore.receiver.domain import (
    DEFAULT_ACTION,
    JOIN_GUILD,
    PURCHASE_SWORD,
    ActionBody,
    action_event,
    idempotent_event_id,
)


def test_a_sword_purchase_publishes_its_metadata_as_given() -> None:
    body = ActionBody.model_validate(
        {"user_id": "42", "metadata": {"sword_type": "katana", "price": "9.99"}}
    )
    event = action_event(PURCHASE_SWORD, body.user_id, body.metadata)
    assert event.event_type == "purchase_sword"
    assert event.user_id == "42"
    assert event.metadata == {"sword_type": "katana", "price": "9.99"}


def test_values_keep_their_json_types() -> None:
    body = ActionBody.model_validate(
        {"metadata": {"a": "1", "b": 1, "c": 1.5, "d": True, "e": "", "f": "x" * 256}}
    )
    assert body.metadata == {"a": "1", "b": 1, "c": 1.5, "d": True, "e": "", "f": "x" * 256}
    assert type(body.metadata["b"]) is int and type(body.metadata["d"]) is bool


def test_an_unknown_user_is_anonymous() -> None:
    assert action_event(DEFAULT_ACTION, None).user_id == "anonymous"


@pytest.mark.parametrize(
    "body",
    [
        {"metadata": {"": "empty key"}},
        {"metadata": {"k" * 65: "key too long"}},
        {"metadata": {"v": "x" * 257}},
        {"metadata": {f"k{i}": i for i in range(17)}},
        {"metadata": {"nested": {"a": 1}}},
        {"metadata": {"list": [1]}},
        {"metadata": {"none": None}},
        {"metadata": "not an object"},
        {"user_id": ""},
        {"user_id": "u" * 65},
        {"unknown": 1},
    ],
)
def test_bodies_outside_the_limits_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ActionBody.model_validate(body)


def test_an_idempotency_key_gives_one_event_id_per_path_and_user() -> None:
    once = action_event(JOIN_GUILD, "7", {"a": 1}, idempotency_key="k")
    again = action_event(JOIN_GUILD, "7", {"b": 2}, idempotency_key="k")
    assert once.event_id == again.event_id == idempotent_event_id("/join_guild", "7", "k")
    assert once.event_id.version == 5
    others = {
        action_event(JOIN_GUILD, "8", None, idempotency_key="k").event_id,
        action_event(JOIN_GUILD, None, None, idempotency_key="k").event_id,
        action_event(PURCHASE_SWORD, "7", None, idempotency_key="k").event_id,
        action_event(JOIN_GUILD, "7", None, idempotency_key="k2").event_id,
    }
    assert once.event_id not in others and len(others) == 4
    assert action_event(JOIN_GUILD, "7").event_id != action_event(JOIN_GUILD, "7").event_id
