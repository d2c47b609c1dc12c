"""A consumer's offsets: what to commit after a batch, how, and how to read a batch again."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.kafka.clients import message_position

log = logging.getLogger(__name__)


def next_offsets(batch: Sequence[ConsumedMessage]) -> list[TopicPartition]:
    """The offsets to commit after `batch`: one past the last message of each partition."""
    highest: dict[tuple[str, int], int] = {}
    for message in batch:
        key = (message.topic, message.partition)
        highest[key] = max(highest.get(key, -1), message.offset)
    return [TopicPartition(topic, part, offset + 1) for (topic, part), offset in highest.items()]


def rewind(consumer: Consumer, batch: list[Message]) -> None:
    """Move each partition of ``batch`` back to its first offset: the batch is read again."""
    lowest: dict[tuple[str, int], int] = {}
    for message in batch:
        topic, partition, offset = message_position(message)
        lowest[(topic, partition)] = min(lowest.get((topic, partition), offset), offset)
    for (topic, part), offset in lowest.items():
        try:
            consumer.seek(TopicPartition(topic, part, offset))
        except KafkaException as error:
            # The partition moved to another member during a rebalance; it resumes from
            # the last committed offset there, which is before this batch.
            log.warning("cannot rewind %s[%d]: %s", topic, part, error)


def commit(consumer: Consumer, next_offsets: list[TopicPartition]) -> None:
    """Store and commit ``next_offsets`` once their batch was handled."""
    # Not waited for: the batch's effects are durable, and a lost commit only means it is
    # seen again, which every handler tolerates (idempotent or keeping its own offsets).
    # Waiting would add a round trip to the broker to every batch.
    try:
        consumer.store_offsets(offsets=next_offsets)
        consumer.commit(offsets=next_offsets, asynchronous=True)
    except KafkaException as error:
        log.warning("offset commit failed (batch will be redelivered): %s", error)


def commit_stored_offsets(consumer: Consumer) -> None:
    """Commit what was stored, and wait for it: the way out of a consumer."""
    # On the way out, wait for the group to hold the offsets stored after handled batches.
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as error:
        if error.args[0].code() != KafkaError._NO_OFFSET:
            log.warning("final offset commit failed (redelivered at the next start): %s", error)


def report_failed_commit(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
    """Log a commit the broker refused (``on_commit``): its batch is redelivered."""
    if error is not None:
        log.warning("offset commit failed (redelivered after a restart): %s", error.str())


def commit_before_handing_over(consumer: Consumer, partitions: list[TopicPartition]) -> None:
    """Before partitions move to another member, commit what was processed of them.

    A rebalance callback: it never raises (that would end the consumer's thread).
    """
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as error:
        if error.args[0].code() != KafkaError._NO_OFFSET:
            log.warning("commit before a rebalance failed (redelivered there): %s", error)
    except Exception as error:
        log.warning("commit before a rebalance failed: %s", error)
