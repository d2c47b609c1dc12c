"""Topic bootstrap against a real broker."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from merchstore.common.kafka.clients import check_broker, client_config
from merchstore.common.kafka.topics import TopicMismatch, ensure_topics
from merchstore.settings import Settings


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
    admin = AdminClient(client_config(settings))
    admin.create_topics([NewTopic(wrong, 2, 1)])[wrong].result(timeout=15)
    bad = settings.model_copy(
        update={"topics": settings.topics.model_copy(update={"event_log": wrong})}
    )
    with pytest.raises(TopicMismatch, match="exactly 1"):
        ensure_topics(bad)


def test_an_existing_topic_with_fewer_partitions_is_reported_and_used(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    narrow = f"{settings.topics.events}-narrow"
    admin = AdminClient(client_config(settings))
    admin.create_topics([NewTopic(narrow, 1, 1)])[narrow].result(timeout=15)
    configured = settings.model_copy(
        update={"topics": settings.topics.model_copy(update={"events": narrow})}
    )
    said: list[str] = []
    assert ensure_topics(configured, warn=said.append)[narrow] == 1
    assert len(said) == 1 and f"topic {narrow} has 1 partition, 3 configured" in said[0]
    assert said[0] in caplog.text
    # A service starting on it says the same in its log.
    caplog.clear()
    check_broker(configured, report_topics=True)
    assert f"topic {narrow} has 1 partition, 3 configured" in caplog.text


def test_more_copies_than_brokers_is_one_clear_error(settings: Settings, broker_kind: str) -> None:
    if broker_kind == "embedded":
        pytest.skip("the embedded broker accepts any replication factor and keeps one copy")
    suffix = "-too-many-copies"
    wanted = settings.model_copy(
        update={
            "topics": settings.topics.model_copy(
                update={
                    "events": settings.topics.events + suffix,
                    "event_log": settings.topics.event_log + suffix,
                    "log_channel": settings.topics.log_channel + suffix,
                }
            ),
            "kafka": settings.kafka.model_copy(update={"replication_factor": 5}),
        }
    )
    with pytest.raises(TopicMismatch, match="MERCHSTORE_KAFKA__REPLICATION_FACTOR"):
        ensure_topics(wanted)
