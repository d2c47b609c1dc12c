"""Topic bootstrap: create ``events``, ``event_log`` and ``log-channel`` when missing.

Topics that already exist are checked against the settings: fewer partitions or replicas than
configured are reported (a cluster with too few copies loses acknowledged messages with a
broker, too few partitions limit consumers), never silently used as they are. They are not
changed: adding partitions moves keys to other partitions, which breaks per-user order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ClusterMetadata,
    NewTopic,
)

from merchstore.common.config.base import CommonSettings
from merchstore.common.kafka.clients import client_config

log = logging.getLogger(__name__)


class TopicMismatch(Exception):
    """A topic exists with a layout the contract forbids (``event_log`` must have 1 partition)."""


def required_topics(settings: CommonSettings) -> list[NewTopic]:
    """The topics of the contract with their partition counts and replication factors."""
    topics, copies = settings.topics, settings.kafka.replication_factor
    return [
        NewTopic(topics.events, topics.events_partitions, copies),
        # One partition keeps lifecycle messages in one total order; the contract fixes it.
        NewTopic(topics.event_log, 1, copies),
        NewTopic(topics.log_channel, topics.log_channel_partitions, copies),
    ]


def layout_warnings(wanted: list[NewTopic], found: dict[str, tuple[int, int]]) -> list[str]:
    """What differs between the wanted topics and those ``found`` (partitions, fewest replicas).

    Only shortfalls count: more partitions or copies than configured are an operator's choice.
    """
    warnings = []
    for topic in wanted:
        if topic.topic not in found:
            continue
        partitions, replicas = found[topic.topic]
        if partitions < topic.num_partitions:
            warnings.append(
                f"topic {topic.topic} has {partitions} partition{'' if partitions == 1 else 's'}"
                f", {topic.num_partitions} configured: it is used as it is (adding partitions "
                "would move users' events to other partitions); recreate it to change that"
            )
        if replicas < topic.replication_factor:
            warnings.append(
                f"topic {topic.topic} has {replicas} cop{'y' if replicas == 1 else 'ies'} of a "
                f"partition, kafka.replication_factor is {topic.replication_factor}: losing a "
                "broker can lose acknowledged messages; raise it with kafka-reassign-partitions"
            )
    return warnings


def ensure_topics(
    settings: CommonSettings, timeout_s: float = 15.0, warn: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Create the missing topics and return each topic's partition count.

    Existing topics with fewer partitions or replicas than configured are logged as warnings
    and passed to ``warn`` (``merchstore up`` prints them). Safe to run any number of times,
    from several processes at once.
    """
    admin = AdminClient(client_config(settings))
    wanted = required_topics(settings)
    existing = admin.list_topics(timeout=timeout_s).topics
    missing = [topic for topic in wanted if topic.topic not in existing]
    if missing:
        futures = admin.create_topics(missing, operation_timeout=timeout_s)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
                log.info("created topic %s", name)
            except KafkaException as error:
                if error.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR:
                    raise TopicMismatch(
                        f"topic {name} cannot have {settings.kafka.replication_factor} copies: "
                        f"{error.args[0].str()}. Set kafka.replication_factor "
                        "(MERCHSTORE_KAFKA__REPLICATION_FACTOR) to at most the number of brokers"
                    ) from None
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    layouts = _layouts(admin, [topic.topic for topic in wanted], timeout_s)
    event_log = settings.topics.event_log
    if layouts[event_log][0] != 1:
        raise TopicMismatch(
            f"topic {event_log} has {layouts[event_log][0]} partitions; it must have exactly 1. "
            "Delete and recreate it, or point topics.event_log at another topic."
        )
    for warning in layout_warnings(wanted, layouts):
        log.warning("%s", warning)
        if warn is not None:
            warn(warning)
    return {name: partitions for name, (partitions, _) in layouts.items()}


def layouts_of(metadata: ClusterMetadata) -> dict[str, tuple[int, int]]:
    """Each topic's partition count and the fewest replicas any of its partitions has."""
    return {
        name: (
            len(topic.partitions),
            min((len(p.replicas) for p in topic.partitions.values()), default=0),
        )
        for name, topic in metadata.topics.items()
    }


def _layouts(admin: AdminClient, names: list[str], timeout_s: float) -> dict[str, tuple[int, int]]:
    """Each topic's partition count and the fewest replicas any of its partitions has."""
    # Metadata can lag a creation by a moment; wait until every topic is visible.
    deadline = time.monotonic() + timeout_s
    while True:
        layouts = {
            name: layout
            for name, layout in layouts_of(admin.list_topics(timeout=timeout_s)).items()
            if name in names
        }
        if len(layouts) == len(names) and all(count for count, _ in layouts.values()):
            return layouts
        if time.monotonic() > deadline:
            missing = sorted(set(names) - set(layouts))
            raise TimeoutError(f"topics not visible after creation: {missing}")
        time.sleep(0.2)
