"""Domain events as read off the ``events`` topic (no I/O)."""

from __future__ import annotations

import json

import pytest

from merchstore.common.messages import DomainEvent, InvalidDomainEvent
from tests.unit.common.test_timeutil import OUT_OF_RANGE


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_an_event_whose_time_is_outside_the_years_1_to_9999_in_utc_is_invalid(text: str) -> None:
    body = json.loads(DomainEvent.new("join_guild", "7").to_json())
    with pytest.raises(InvalidDomainEvent, match="years 1 to 9999"):
        DomainEvent.from_json(json.dumps({**body, "timestamp": text}).encode())
