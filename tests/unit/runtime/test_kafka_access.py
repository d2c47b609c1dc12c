"""The Kafka ACL table: each user is allowed what it needs, and nothing that destroys."""

from __future__ import annotations

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclOperation,
    ResourcePatternType,
    ResourceType,
)

from merchstore.common.config.sections import TopicSettings
from merchstore.runtime.kafka_access import ADMINISTRATOR, SERVICE_ACCESS, acl_bindings


def allowed(user: str) -> set[tuple[str, str, str]]:
    return {
        (str(binding.restype).split(".")[-1], binding.name, str(binding.operation).split(".")[-1])
        for binding in acl_bindings(user, SERVICE_ACCESS[user], TopicSettings())
    }


def test_storage_reads_events_in_its_group_and_writes_event_log() -> None:
    assert allowed("storage") == {
        ("TOPIC", "events", "READ"),
        ("GROUP", "storage", "READ"),
        ("TOPIC", "event_log", "WRITE"),
    }


def test_the_receiver_only_writes() -> None:
    assert allowed("receiver") == {("TOPIC", "events", "WRITE"), ("TOPIC", "event_log", "WRITE")}


def test_the_administrator_reads_log_channel_and_events_and_writes_nothing() -> None:
    rights = allowed(ADMINISTRATOR)
    assert {(kind, name) for kind, name, operation in rights if kind == "TOPIC"} == {
        ("TOPIC", "log-channel"),
        ("TOPIC", "events"),
    }
    assert {operation for _, _, operation in rights} == {"READ"}


def test_a_group_takes_the_configured_name() -> None:
    bindings = acl_bindings(
        "storage", SERVICE_ACCESS["storage"], TopicSettings(), {"storage": "s2"}
    )
    assert {b.name for b in bindings if b.restype == ResourceType.GROUP} == {"s2"}


def test_no_user_may_create_delete_alter_or_touch_the_cluster() -> None:
    for user, access in SERVICE_ACCESS.items():
        for binding in acl_bindings(user, access, TopicSettings()):
            assert binding.principal == f"User:{user}"
            assert binding.operation in {AclOperation.READ, AclOperation.WRITE}
            assert binding.restype in {ResourceType.TOPIC, ResourceType.GROUP}
            assert binding.resource_pattern_type == ResourcePatternType.LITERAL


def test_prefixed_bindings_stand_for_every_name_that_starts_so() -> None:
    bindings = acl_bindings("storage", SERVICE_ACCESS["storage"], TopicSettings(), prefixed=True)
    assert {b.resource_pattern_type for b in bindings} == {ResourcePatternType.PREFIXED}
