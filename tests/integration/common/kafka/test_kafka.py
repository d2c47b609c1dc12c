"""Kafka helpers against a real broker: delivery reports and commits after processing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

import merchstore.common.kafka.clients as clients_module
import merchstore.common.kafka.positions as positions_module
from merchstore.common.consumed import ConsumedMessage
from merchstore.common.kafka.clients import TopicIdsUnavailable
from merchstore.common.kafka.consumer import BatchConsumer, BatchHandler
from merchstore.common.kafka.delivery import DeliveryFailed
from merchstore.common.kafka.positions import StartOffsets
from merchstore.common.kafka.producer import LOOP_SERVES_FROM, KafkaProducer
from merchstore.settings import Settings
from tests.support.broker import PrivateBroker
from tests.support.kafka import produce_all
from tests.support.paths import REPOSITORY


def test_send_and_wait_returns_once_acknowledged(settings: Settings) -> None:
    producer = KafkaProducer(settings, client_id="test")
    message = producer.send_and_wait(settings.topics.events, b"hello", key=b"42")
    offset = message.offset()
    assert offset is not None and offset >= 0
    assert producer.close() == 0


def test_delivery_to_a_stopped_broker_fails_instead_of_hanging(
    private_broker: PrivateBroker,
) -> None:
    broker, settings = private_broker, private_broker.settings
    producer = KafkaProducer(settings, client_id="test")
    producer.send_and_wait(settings.topics.events, b"before")
    broker.stop()
    started = time.monotonic()
    with pytest.raises(DeliveryFailed):
        producer.send_and_wait(settings.topics.events, b"after the broker stopped")
    assert time.monotonic() - started < 10
    producer.close(timeout_s=1)


def _consume(
    settings: Settings, group: str, handler: BatchHandler, batch_size: int = 1
) -> BatchConsumer:
    consumer = BatchConsumer(
        settings,
        group_id=group,
        topics=[settings.topics.events],
        handle_batch=handler,
        batch_size=batch_size,
    )
    return consumer


def test_restarted_consumer_continues_after_what_was_processed(settings: Settings) -> None:
    total, processed_first = 10, 4
    # One partition makes "the next message" well defined.
    topic = settings.topics.log_channel
    settings = settings.model_copy(
        update={"topics": settings.topics.model_copy(update={"events": topic})}
    )
    produce_all(settings.bootstrap_servers, topic, (f"m{i}".encode() for i in range(total)))

    first_run: list[bytes] = []
    first: BatchConsumer

    def process_four_then_fail(batch: Sequence[ConsumedMessage]) -> None:
        for message in batch:
            if len(first_run) == processed_first:
                first.stop()
                raise RuntimeError("crash before processing message 5")
            first_run.append(message.value or b"")

    first = _consume(settings, f"group-a-{settings.topics.events}", process_four_then_fail)
    thread = first.run_in_thread("first")
    thread.join(timeout=60)
    assert first_run == [f"m{i}".encode() for i in range(processed_first)]

    second_run: list[bytes] = []
    done = threading.Event()

    def record(batch: Sequence[ConsumedMessage]) -> None:
        second_run.extend(message.value or b"" for message in batch)
        if len(second_run) >= total - processed_first:
            done.set()

    second = _consume(settings, f"group-a-{settings.topics.events}", record, batch_size=100)
    thread = second.run_in_thread("second")
    assert done.wait(60), f"got only {second_run}"
    second.stop()
    thread.join(timeout=30)
    assert second_run == [f"m{i}".encode() for i in range(processed_first, total)]


def test_a_failing_batch_is_retried_not_skipped(settings: Settings) -> None:
    produce_all(settings.bootstrap_servers, settings.topics.log_channel, [b"a", b"b", b"c"])
    settings = settings.model_copy(
        update={
            "topics": settings.topics.model_copy(update={"events": settings.topics.log_channel})
        }
    )
    seen: list[bytes] = []
    failures = 0
    done = threading.Event()

    def flaky(batch: Sequence[ConsumedMessage]) -> None:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise RuntimeError("temporary failure")
        seen.extend(message.value or b"" for message in batch)
        if len(seen) >= 3:
            done.set()

    consumer = BatchConsumer(
        settings,
        group_id=f"group-retry-{settings.topics.events}",
        topics=[settings.topics.events],
        handle_batch=flaky,
        retry_backoff_s=0.1,
    )
    thread = consumer.run_in_thread("retry")
    assert done.wait(60)
    consumer.stop()
    thread.join(timeout=30)
    assert seen == [b"a", b"b", b"c"]
    assert failures == 2


def test_producer_recovers_after_the_broker_lost_its_state(
    private_broker: PrivateBroker,
) -> None:
    broker, settings = private_broker, private_broker.settings
    producer = KafkaProducer(settings, client_id="test")
    producer.send_and_wait(settings.topics.events, b"before")
    broker.stop()
    with pytest.raises(DeliveryFailed):
        producer.send_and_wait(settings.topics.events, b"during the outage")
    # The memory-only broker comes back empty: topics and producer ids are gone (Apache Kafka
    # comes back with both, and the same producer goes on).
    broker.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                producer.send_and_wait(settings.topics.event_log, b"after")
                break
            except DeliveryFailed:
                assert time.monotonic() < deadline, "the producer never recovered"
        if not broker.keeps_messages:
            assert producer.replacements >= 1
    finally:
        producer.close(timeout_s=1)


def _thread_serving_a_report(producer: KafkaProducer, topic: str, in_flight: int) -> str:
    """The thread that serves a callback's report while ``in_flight`` sends keep awaiting."""
    served_on: list[str] = []

    async def main() -> None:
        noted = asyncio.Event()
        loop = asyncio.get_running_loop()

        def note(error: object, message: object) -> None:
            served_on.append(threading.current_thread().name)
            loop.call_soon_threadsafe(noted.set)

        async def keep_sending() -> None:
            while not noted.is_set():
                await producer.send_async(topic, b"awaited")

        sending = asyncio.gather(*(keep_sending() for _ in range(in_flight)))
        # Longer than the delivery thread's own wait, so whoever serves has taken over.
        await asyncio.sleep(0.3)
        producer.send_with_callback(topic, b"noted", note)
        await sending

    asyncio.run(main())
    assert len(served_on) == 1
    return served_on[0]


def test_a_busy_event_loop_serves_its_acknowledgements_itself(settings: Settings) -> None:
    producer = KafkaProducer(settings, client_id="test")
    topic = settings.topics.events
    thread_sends: list[int | None] = []

    def send_from_another_thread() -> None:
        for value in range(20):
            acknowledged = producer.send_and_wait(topic, b"%d" % value)
            thread_sends.append(acknowledged.offset())

    try:
        # Many sends awaiting: the loop serves every report, a thread's sends included.
        other = threading.Thread(target=send_from_another_thread)
        other.start()
        busy = _thread_serving_a_report(producer, topic, in_flight=2 * LOOP_SERVES_FROM)
        other.join(timeout=30)
        assert busy == threading.current_thread().name
        assert len(thread_sends) == 20 and all(offset is not None for offset in thread_sends)
        # One send awaiting: the delivery thread answers it as soon as its report arrives.
        assert _thread_serving_a_report(producer, topic, in_flight=1) == "test-delivery"
        # With no loop awaiting at all, the delivery thread serves reports.
        started = time.monotonic()
        producer.send_and_wait(topic, b"after the loop")
        assert time.monotonic() - started < 5
    finally:
        assert producer.close() == 0


def test_awaited_sends_fail_during_an_outage_and_succeed_after_it(
    private_broker: PrivateBroker,
) -> None:
    broker, settings = private_broker, private_broker.settings
    producer = KafkaProducer(settings, client_id="test", **{"message.timeout.ms": 2000})
    topic = settings.topics.events

    async def send() -> None:
        await producer.send_async(topic, b"awaited")

    try:
        asyncio.run(send())
        broker.stop()
        with pytest.raises(DeliveryFailed):
            asyncio.run(send())
        broker.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(send())
                break
            except DeliveryFailed:
                assert time.monotonic() < deadline, "awaited sends never recovered"
    finally:
        producer.close(timeout_s=1)


def first_two_from(
    settings: Settings, topic: str, start_offsets: StartOffsets, **options: Any
) -> list[bytes]:
    """The first two messages a new consumer group reads, resuming at ``start_offsets``."""
    seen: list[bytes] = []
    done = threading.Event()

    def record(batch: Sequence[ConsumedMessage]) -> None:
        seen.extend(message.value or b"" for message in batch)
        if len(seen) >= 2:
            done.set()

    consumer = BatchConsumer(
        settings,
        group_id=f"group-{topic}",
        topics=[topic],
        handle_batch=record,
        start_offsets=start_offsets,
        **options,
    )
    thread = consumer.run_in_thread("assign")
    try:
        done.wait(60)
    finally:
        consumer.stop()
        thread.join(timeout=30)
    return seen


def test_a_failing_assignment_is_retried_and_resumes_where_stored(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = settings.topics.log_channel  # one partition
    produce_all(settings.bootstrap_servers, topic, (f"m{i}".encode() for i in range(6)))
    real_topic_ids = clients_module.topic_ids
    lookups: list[str] = []

    def lookup_timing_out_once(*args: Any, **kwargs: Any) -> dict[str, str]:
        lookups.append("tried")
        if len(lookups) == 1:  # as describe_topics does while the controller moves
            raise TopicIdsUnavailable("describe_topics timed out")
        return real_topic_ids(*args, **kwargs)

    monkeypatch.setattr(positions_module, "topic_ids", lookup_timing_out_once)
    asked: list[str] = []

    def stored_position(topic: str, topic_id: str, partition: int) -> int | None:
        asked.append(topic_id)
        if len(asked) == 1:
            raise sqlite3.OperationalError("database is locked")  # the handler's own store
        return 4

    seen = first_two_from(settings, topic, stored_position, retry_backoff_s=0.05)
    assert seen == [b"m4", b"m5"], "resumed at the stored position, nothing re-read"
    assert len(lookups) >= 2 and all(asked), "the id was known whenever a position was asked"


def test_a_timed_out_message_fails_alone_and_the_producer_goes_on(
    settings: Settings, broker_kind: str
) -> None:
    if broker_kind == "embedded":
        pytest.skip(
            "on the embedded broker a timeout replaces the producer on purpose: after a restart "
            "it forgets producer ids without a fatal error (kafka.replace_producer_on_timeout)"
        )
    producer = KafkaProducer(settings, client_id="test", **{"message.timeout.ms": 1500})
    try:
        # A message that cannot be delivered in time (its topic does not exist), while others
        # keep flowing to a healthy topic.
        lost = producer.send(f"{settings.topics.events}-never-created", b"times out")
        sent = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            sent.append(producer.send(settings.topics.events, b"flows"))
            time.sleep(0.01)
        with pytest.raises(DeliveryFailed):
            lost.result(timeout=15)
        failed = [future for future in sent if future.exception(timeout=30) is not None]
        assert not failed, f"{len(failed)} of {len(sent)} healthy sends failed with the timeout"
        assert producer.replacements == 0
    finally:
        producer.close(timeout_s=5)


ASSIGNED_AT_A_STORED_POSITION = """
import sys
from merchstore.settings import load_settings
from tests.integration.common.kafka.test_kafka import first_two_from

# Client log lines right after the assignment, in the same poll: the ones that found the
# consumer's call state gone and aborted the process.
seen = first_two_from(load_settings(), sys.argv[1], lambda *_: 4, debug="cgrp,topic,fetch")
print("consumed", len(seen))
"""


def test_taking_partitions_at_a_stored_position_keeps_the_consumer_alive(
    settings: Settings, service_env: dict[str, str]
) -> None:
    # Checking a stored position inside the rebalance callback once called the consumer's
    # list_topics, which reset its call state: the next log line aborted the process.
    topic = settings.topics.log_channel
    produce_all(settings.bootstrap_servers, topic, (f"m{i}".encode() for i in range(6)))
    result = subprocess.run(
        [sys.executable, "-c", ASSIGNED_AT_A_STORED_POSITION, topic],
        env={**os.environ, **service_env, "MERCHSTORE_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPOSITORY,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "consumed 2" in result.stdout
