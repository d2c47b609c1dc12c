"""The topics the services need, and what an existing topic's layout lacks."""

from __future__ import annotations

from merchstore.common.kafka.topics import layout_warnings, required_topics
from merchstore.settings import load_settings


def test_every_topic_takes_the_one_replication_factor_setting() -> None:
    settings = load_settings(kafka={"replication_factor": 3})
    layout = {t.topic: (t.num_partitions, t.replication_factor) for t in required_topics(settings)}
    assert layout == {"events": (3, 3), "event_log": (1, 3), "log-channel": (1, 3)}


def test_only_shortfalls_of_existing_topics_are_reported() -> None:
    wanted = required_topics(load_settings(kafka={"replication_factor": 3}))
    found = {"events": (3, 1), "event_log": (1, 3), "log-channel": (4, 5)}
    warnings = layout_warnings(wanted, found)
    assert len(warnings) == 1
    assert warnings[0].startswith("topic events has 1 copy of a partition")
    assert "kafka.replication_factor is 3" in warnings[0]
    assert layout_warnings(wanted, {"events": (1, 3)}) == [
        "topic events has 1 partition, 3 configured: it is used as it is (adding partitions "
        "would move users' events to other partitions); recreate it to change that"
    ]
    assert layout_warnings(wanted, {}) == []
