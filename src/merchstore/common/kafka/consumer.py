"""The one consumer loop of merchstore: batches handed over, committed after they were handled.

The consumer commits an offset only after the batch handler returned, so a crash never skips
unprocessed messages (at-least-once); a handler that keeps its own offsets (``start_offsets``)
gets exactly-once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from merchstore.common.config.base import CommonSettings
from merchstore.common.consumed import ConsumedMessage
from merchstore.common.kafka.clients import (
    ConsumerBroken,
    client_config,
    every_partition,
    message_position,
)
from merchstore.common.kafka.consumer_metrics import (
    CONSUMED,
    FAILED_ATTEMPTS,
    LAG,
    SET_ASIDE,
    STALLED,
)
from merchstore.common.kafka.offsets import (
    commit,
    commit_before_handing_over,
    commit_stored_offsets,
    next_offsets,
    report_failed_commit,
    rewind,
)
from merchstore.common.kafka.positions import MovedStart, StartOffsets, StartPositions
from merchstore.common.kafka.trace_context import record_processing, traceparent_of
from merchstore.common.poison import PoisonPolicy, Progress, handle_or_set_aside

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[ConsumedMessage]], object]
SetAsideHandler = Callable[[ConsumedMessage, str], None]

NOTHING_IS_PERMANENT = PoisonPolicy()
"""The default policy: every failure is retried (only ``Unfixable`` items are set aside)."""


class BatchConsumer:
    """A consumer-group loop that hands batches to a handler and commits after it returned.

    Batches go through the shared poison-message mechanism (`merchstore.common.poison`): an
    item that fails permanently is handed to ``set_aside`` with its reason and consumption
    moves on; a transient failure is not committed: the consumer rewinds to the batch's first
    offsets and retries with doubling back-off, so nothing is skipped. ``progress`` tells
    ``/health`` whether attempts keep failing. ``start_offsets`` lets a handler that stores
    offsets with its data (exactly-once) say where each partition resumes; it is asked with
    the topic's id, so offsets of an earlier incarnation of the topic are never trusted.
    """

    def __init__(
        self,
        settings: CommonSettings,
        *,
        group_id: str,
        topics: Iterable[str],
        handle_batch: BatchHandler,
        set_aside: SetAsideHandler | None = None,
        policy: PoisonPolicy = NOTHING_IS_PERMANENT,
        batch_size: int = 500,
        poll_timeout_s: float = 0.5,
        start_offsets: StartOffsets | None = None,
        moved_start: MovedStart | None = None,
        retry_backoff_s: float = 0.5,
        fetch_wait_max_ms: int | None = None,
        instance: str | None = None,
        **overrides: Any,
    ) -> None:
        config = client_config(
            settings,
            **{
                "group.id": group_id,
                "client.id": group_id,
                "enable.auto.commit": False,
                # The embedded broker's watermarks are unreliable, so groups always start at
                # the beginning and keep their own position.
                "auto.offset.reset": "earliest",
                "session.timeout.ms": settings.kafka.session_timeout_ms,
                # A consumer on a latency path may wait less than kafka.fetch_wait_max_ms.
                "fetch.wait.max.ms": (
                    settings.kafka.fetch_wait_max_ms
                    if fetch_wait_max_ms is None
                    else fetch_wait_max_ms
                ),
                "isolation.level": "read_committed",
                # Offsets are stored once a batch is handled, never when it is only taken, so
                # the commit on the way out holds what was processed (a rewind included).
                "enable.auto.offset.store": False,
                "on_commit": report_failed_commit,
                # A member joining or leaving moves only the partitions that must move; the
                # others go on being consumed through the rebalance.
                "partition.assignment.strategy": "cooperative-sticky",
            },
        )
        if instance is not None and settings.kafka.static_membership:
            # Static membership (KIP-345): a consumer started again under the same name takes
            # its partitions back at once, where a new member would wait for the group to
            # give up on the old one (session.timeout.ms: 10 s of idle partitions per crash).
            config["group.instance.id"] = f"{group_id}@{instance}"
        config.update(overrides)
        self._settings = settings
        self._config = config
        self._topics = list(topics)
        self._handle_batch = handle_batch
        self._set_aside = set_aside or _refuse_to_set_aside
        self._policy = policy
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._start_positions = StartPositions(settings, group_id, start_offsets, moved_start)
        self._retry_backoff_s = retry_backoff_s
        self._stop = threading.Event()
        self.progress = Progress()
        """Messages processed and set aside, and whether attempts keep failing."""
        self._group_id = group_id
        STALLED.labels(group_id).set_function(lambda: 1.0 if self.stalled() else 0.0)
        self.assigned = threading.Event()
        """Set once the group gave this consumer its partitions: it is ready to consume."""

    def stop(self) -> None:
        """Ask the loop to finish its current batch and leave the group."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self._stop.is_set()

    def stalled(self) -> str | None:
        """Why the consumer is stalled (every attempt failed for a while), or None."""
        return self.progress.stalled(self._settings.kafka.stall_after_s)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Take newly assigned partitions, retrying until that works or the consumer stops.

        An exception escaping a rebalance callback would end the consumer's thread, and a
        guessed position could read twice or skip: a failure (a topic-id lookup timing out,
        the handler's store down) is retried with growing pauses. Inside this callback the
        consumer is asked only what keeps its call state (committed, watermarks, assign).
        """
        attempt = 0
        while True:
            try:
                consumer.incremental_assign(self._start_positions.of(consumer, partitions))
                break
            except Exception as error:
                attempt += 1
                if self._stop.is_set():
                    return
                self.progress.failed(error)
                pause = min(self._retry_backoff_s * 2**attempt, 30.0)
                log.warning(
                    "cannot take partitions %s yet (attempt %d: %s); retrying in %.1f s",
                    ", ".join(f"{p.topic}[{p.partition}]" for p in partitions),
                    attempt,
                    error,
                    pause,
                )
                self._stop.wait(pause)
        ids = self._start_positions.topic_ids
        log.info(
            "assigned %s",
            ", ".join(
                f"{p.topic}[{p.partition}]@{p.offset} (topic id {ids.get(p.topic)})"
                for p in partitions
            )
            or "nothing",
        )
        self.assigned.set()

    def run(self) -> None:
        """Consume until `stop` is called, replacing a client a fatal error ended (fenced)."""
        while not self._stop.is_set():
            consumer = Consumer(self._config)
            if self._settings.kafka.group_membership:
                consumer.subscribe(
                    self._topics, on_assign=self._on_assign, on_revoke=commit_before_handing_over
                )
            else:
                self._on_assign(consumer, every_partition(consumer, self._topics, self._stop))
            try:
                while not self._stop.is_set():
                    batch = self._poll(consumer)
                    if batch:
                        self._process(consumer, batch)
            except ConsumerBroken as error:  # what it had not committed is read again
                log.warning("consumer replaced after a fatal error: %s", error)
                self._stop.wait(self._retry_backoff_s)
            finally:
                commit_stored_offsets(consumer)
                consumer.close()

    def run_in_thread(self, name: str) -> threading.Thread:
        """Start `run` in a daemon thread and return it."""
        thread = threading.Thread(target=self.run, name=name, daemon=True)
        thread.start()
        return thread

    def _poll(self, consumer: Consumer) -> list[Message]:
        # Wait for the first message only, then take what is already fetched: a quiet topic
        # gets low latency, a busy one gets full batches.
        first = consumer.poll(self._poll_timeout_s)
        if first is None:
            return []
        batch: list[Message] = []
        more = consumer.consume(self._batch_size - 1, 0) if self._batch_size > 1 else []
        for message in [first, *more]:
            error = message.error()
            if error is None:
                batch.append(message)
            elif error.fatal() or error.code() == KafkaError._FATAL:  # (as a message: _FATAL)
                raise ConsumerBroken(error.str())
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error.str())
        return batch

    def _process(self, consumer: Consumer, batch: list[Message]) -> None:
        consumed: list[ConsumedMessage] = []
        for message in batch:
            topic, partition, offset = message_position(message)
            consumed.append(
                ConsumedMessage(
                    topic,
                    partition,
                    offset,
                    message.value(),
                    self._start_positions.topic_ids.get(topic, ""),
                    traceparent_of(message.headers()),
                )
            )
        started_ns = time.time_ns()
        failures: dict[tuple[str, int, int], str] = {}

        def set_aside_noting_why(message: ConsumedMessage, reason: str) -> None:
            self._set_aside(message, reason)
            failures[(message.topic, message.partition, message.offset)] = reason

        try:
            set_aside = handle_or_set_aside(
                consumed, self._handle_batch, set_aside_noting_why, self._policy
            )
        except Exception as error:
            self.progress.failed(error)
            FAILED_ATTEMPTS.labels(self._group_id).inc()
            pause = self.progress.backoff_s(self._retry_backoff_s)
            log.warning(
                "batch of %d message(s) failed (%s); retrying in %.1f s",
                len(batch),
                error,
                pause,
                exc_info=self.progress.consecutive_failures == 1,
            )
            rewind(consumer, batch)
            self._stop.wait(pause)
            return
        self.progress.succeeded(len(batch) - set_aside, set_aside)
        CONSUMED.labels(self._group_id).inc(len(batch) - set_aside)
        SET_ASIDE.labels(self._group_id).inc(set_aside)
        record_processing(consumed, self._group_id, started_ns, failures)
        positions = next_offsets(consumed)
        commit(consumer, positions)
        self._measure_lag(consumer, positions)

    def _measure_lag(self, consumer: Consumer, next_offsets: list[TopicPartition]) -> None:
        # The high watermark the last fetch reported (no request to the broker). The
        # embedded broker under-reports it after a multi-record batch, so there this reads low.
        for position in next_offsets:
            topic, partition = position.topic, position.partition
            try:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), cached=True
                )
            except KafkaException:
                continue
            if high >= 0:
                LAG.labels(self._group_id, topic, str(partition)).set(
                    max(high - position.offset, 0)
                )


def _refuse_to_set_aside(message: ConsumedMessage, reason: str) -> None:
    # A consumer without a place for poison messages must not lose one: retry instead.
    raise RuntimeError(f"cannot set aside {message.topic}[{message.partition}]@{message.offset}")
