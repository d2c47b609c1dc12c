"""The receiver's use case against a fake publisher: an action is answered once published."""

from __future__ import annotations

import asyncio

import pytest

from merchstore.common.kafka.delivery import DeliveryFailed
from merchstore.common.messages import DomainEvent
from merchstore.receiver.domain import ACTIONS, DEFAULT_ACTION
from merchstore.receiver.use_cases import PlayerActions
from tests.unit.receiver.fakes import RecordingPublisher

SWORD = next(action for action in ACTIONS if action.event_type == "purchase_sword")


def test_an_action_is_published_as_its_event() -> None:
    publisher = RecordingPublisher()
    event = asyncio.run(
        PlayerActions(publisher).record(SWORD, "42", {"sword_type": "katana"}, None)
    )
    assert publisher.published == [event]
    assert (event.event_type, event.user_id, event.metadata) == (
        "purchase_sword",
        "42",
        {"sword_type": "katana"},
    )


def test_retries_under_one_idempotency_key_carry_one_event_id() -> None:
    publisher = RecordingPublisher()
    actions = PlayerActions(publisher)

    async def twice() -> tuple[DomainEvent, DomainEvent, DomainEvent]:
        first = await actions.record(SWORD, "42", None, "key-1")
        again = await actions.record(SWORD, "42", None, "key-1")
        other = await actions.record(DEFAULT_ACTION, "42", None, "key-1")
        return first, again, other

    first, again, other = asyncio.run(twice())
    assert first.event_id == again.event_id
    assert other.event_id != first.event_id  # another path is another event
    assert len(publisher.published) == 3


def test_an_unpublished_event_is_not_answered() -> None:
    publisher = RecordingPublisher()
    publisher.down = True
    with pytest.raises(DeliveryFailed, match="broker unreachable"):
        asyncio.run(PlayerActions(publisher).record(SWORD, "42", None, None))
    assert publisher.published == []
