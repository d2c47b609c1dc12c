"""Topic bootstrap against a real broker."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from merchstore.common.config import Settings
from merchstore.common.topics import TopicMismatch, ensure_topics


def test_creates_the_three_topics_with_contract_partitions(settings: Settings) -> None:
    fresh = settings.model_copy(
        update={
            "topics": settings.topics.model_copy(
                update={
                    name: f"{value}-fresh"
                    for name, value in {
                        "events": settings.topics.events,
                        "event_log": settings.topics.event_log,
                        "log_channel": settings.topics.log_channel,
                    }.items()
                }
            )
        }
    )
    counts = ensure_topics(fresh)
    assert counts == {
        fresh.topics.events: 3,
        fresh.topics.event_log: 1,
        fresh.topics.log_channel: 1,
    }


def test_is_idempotent(settings: Settings) -> None:
    first = ensure_topics(settings)
    assert ensure_topics(settings) == first


def test_refuses_an_event_log_with_several_partitions(settings: Settings) -> None:
    wrong = f"{settings.topics.event_log}-wrong"
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    admin.create_topics([NewTopic(wrong, 2, 1)])[wrong].result(timeout=15)
    bad = settings.model_copy(
        update={"topics": settings.topics.model_copy(update={"event_log": wrong})}
    )
    with pytest.raises(TopicMismatch, match="exactly 1"):
        ensure_topics(bad)
