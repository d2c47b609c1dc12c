"""Topic bootstrap: create ``events``, ``event_log`` and ``log-channel`` when missing."""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from merchstore.common.config import Settings
from merchstore.common.kafka import client_config

log = logging.getLogger(__name__)


class TopicMismatch(Exception):
    """A topic exists with a layout the contract forbids (``event_log`` must have 1 partition)."""


def required_topics(settings: Settings) -> list[NewTopic]:
    """The topics of the contract with their partition counts and replication factors."""
    topics = settings.topics
    return [
        NewTopic(topics.events, topics.events_partitions, topics.replication_factor),
        # One partition keeps lifecycle messages in one total order; the contract fixes it.
        NewTopic(topics.event_log, 1, 1),
        NewTopic(topics.log_channel, topics.log_channel_partitions, topics.replication_factor),
    ]


def ensure_topics(settings: Settings, timeout_s: float = 15.0) -> dict[str, int]:
    """Create the missing topics and return each topic's partition count.

    Safe to run any number of times, from several processes at once.
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
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    partitions = _partition_counts(admin, [topic.topic for topic in wanted], timeout_s)
    event_log = settings.topics.event_log
    if partitions[event_log] != 1:
        raise TopicMismatch(
            f"topic {event_log} has {partitions[event_log]} partitions; it must have exactly 1. "
            "Delete and recreate it, or point topics.event_log at another topic."
        )
    return partitions


def _partition_counts(admin: AdminClient, names: list[str], timeout_s: float) -> dict[str, int]:
    # Metadata can lag a creation by a moment; wait until every topic is visible.
    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=timeout_s).topics
        counts = {name: len(topics[name].partitions) for name in names if name in topics}
        if len(counts) == len(names) and all(counts.values()):
            return counts
        if time.monotonic() > deadline:
            missing = sorted(set(names) - set(counts))
            raise TimeoutError(f"topics not visible after creation: {missing}")
        time.sleep(0.2)
