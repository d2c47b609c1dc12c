"""Small Kafka helpers for tests: produce raw messages and read a whole topic."""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

Headers = list[tuple[str, str | bytes | None]]


def produce_all(
    bootstrap: str,
    topic: str,
    values: Iterable[bytes],
    key: bytes | None = None,
    headers: Headers | None = None,
) -> int:
    """Produce every value (each with ``headers``) until all are acknowledged; return how many."""
    return produce_messages(bootstrap, topic, ((value, headers) for value in values), key)


def produce_messages(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes, Headers | None]],
    key: bytes | None = None,
) -> int:
    """Produce every (value, headers) until all are acknowledged; return how many."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    failures: list[str] = []
    count = 0
    for value, headers in messages:
        while True:
            try:
                producer.produce(
                    topic,
                    value=value,
                    key=key,
                    headers=headers,
                    on_delivery=lambda err, msg: failures.append(str(err)) if err else None,
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        count += 1
    remaining = producer.flush(30)
    assert remaining == 0 and not failures, f"{remaining} unflushed, failures: {failures[:3]}"
    return count


def read_topic(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0, partitions: int = 1
) -> list[Message]:
    """Read ``topic`` from the beginning until ``expected`` messages arrived (or time out)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader"})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is None:
                    messages.append(message)
        return messages
    finally:
        consumer.close()


def read_to_end(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[Message]:
    """Every message of ``topic`` up to the high watermarks of its partitions when called.

    For Apache Kafka, whose high watermark is exact (the embedded broker's reads low after a
    multi-record batch: use `read_topic` there).
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader"})
    try:
        partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1]
            for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        positions = dict.fromkeys(partitions, 0)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while any(positions[p] < ends[p] for p in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: not read to its end within {timeout_s} s")
            for message in consumer.consume(500, 0.5):
                if message.error() is None:
                    messages.append(message)
                    positions[message.partition() or 0] = (message.offset() or 0) + 1
        return messages
    finally:
        consumer.close()
