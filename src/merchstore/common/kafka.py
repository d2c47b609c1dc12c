"""Kafka plumbing used by every service: one producer helper and one batch-consumer loop.

The producer resolves a future only when the broker acknowledged the message (or delivery
failed), so callers can answer "accepted" truthfully. The consumer commits an offset only after
the batch handler returned, so a crash never skips unprocessed messages (at-least-once); a
handler that keeps its own offsets (``start_offsets``) gets exactly-once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import Any, NamedTuple

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from merchstore.common.config import Settings
from merchstore.common.consumed import ConsumedMessage
from merchstore.common.consumer_metrics import (
    CONSUMED,
    FAILED_ATTEMPTS,
    LAG,
    LOG_RESTARTS,
    SET_ASIDE,
    SKIPPED,
    STALLED,
)
from merchstore.common.poison import PoisonPolicy, Progress, handle_or_set_aside

log = logging.getLogger(__name__)
client_log = logging.getLogger("merchstore.kafka.client")
"""librdkafka's own messages, routed through Python logging instead of raw stderr."""

BatchHandler = Callable[[Sequence[ConsumedMessage]], object]
SetAsideHandler = Callable[[ConsumedMessage, str], None]
StartOffsets = Callable[[str, str, int], int | None]
"""Where to resume (topic, topic id, partition), or None to start at the beginning."""

EMBEDDED_CLUSTER_ID = "tansu_cluster"
"""The cluster id the embedded broker reports: its high watermarks are not to be trusted."""

MovedStart = Callable[[str, str, int, int], None]
"""Told (topic, topic id, partition, offset) when a stored position was beyond the log's end
and consumption resumes at ``offset`` instead: a handler that filters redeliveries by its
stored position must lower it, or it would drop every new message below the old position."""


class OutgoingMessage(NamedTuple):
    """A message to send, with the id its sender tracks it by (an outbox row, a spill entry)."""

    id: int
    value: bytes | str
    key: bytes | str | None = None


NOTHING_IS_PERMANENT = PoisonPolicy()
"""The default policy: every failure is retried (only ``Unfixable`` items are set aside)."""


LOOP_POLL_INTERVAL_S = 0.001
"""How often an event loop serving its acknowledgements asks the client for delivery reports."""
LOOP_SERVES_FROM = 16
"""An event loop serves its own acknowledgements once this many of its sends await one, and
hands back to the delivery thread when fewer than half as many do. Below that the loop has
time to spare, and the thread, woken by each report, answers sooner than a poll every
``LOOP_POLL_INTERVAL_S``; above it the loop is busy, and a thread taking the interpreter lock
from it once per report costs more than polling."""


class DeliveryFailed(Exception):
    """The broker did not acknowledge a message (unreachable, timed out, or refused it)."""


class RefusedByBroker(DeliveryFailed):
    """The message itself is refused (too large, invalid): sending it again cannot succeed."""


_REFUSALS = {
    KafkaError.MSG_SIZE_TOO_LARGE,
    KafkaError.INVALID_MSG,
    KafkaError.INVALID_MSG_SIZE,
    KafkaError.INVALID_RECORD,
    KafkaError.RECORD_LIST_TOO_LARGE,
    KafkaError.INVALID_TIMESTAMP,
}


def delivery_failure(topic: str, error: KafkaError) -> DeliveryFailed:
    """The exception for a failed delivery: `RefusedByBroker` when the message is at fault."""
    kind = RefusedByBroker if error.code() in _REFUSALS else DeliveryFailed
    return kind(f"delivery to {topic} failed: {error.str()}")


class BrokerUnavailable(Exception):
    """Kafka could not be reached; the message says where and what to do."""


def client_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Settings common to every Kafka client of merchstore."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "reconnect.backoff.max.ms": settings.kafka.reconnect_backoff_max_ms,
        "logger": client_log,
    }
    config.update(overrides)
    return config


_quiet_log = logging.getLogger("merchstore.kafka.probe")
_quiet_log.setLevel(logging.CRITICAL)
_quiet_log.propagate = False


def message_position(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a consumed message."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return topic, partition, offset


def check_broker(
    settings: Settings,
    timeout_s: float | None = None,
    *,
    refused_is_final: bool = False,
    report_topics: bool = False,
) -> None:
    """Raise `BrokerUnavailable` with a helpful message unless the broker answers metadata.

    With ``refused_is_final`` (a command a user is waiting on), every broker refusing the
    connection is reported at once instead of being retried for the whole timeout. With
    ``report_topics`` (a service starting), existing topics with fewer partitions or replicas
    than configured are logged as warnings.
    """
    refused = threading.Event()

    def on_error(error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            refused.set()

    # A probe expects refusals while the broker starts: keep them out of the logs.
    admin = AdminClient(client_config(settings, logger=_quiet_log, error_cb=on_error))
    timeout = timeout_s if timeout_s is not None else settings.kafka.request_timeout_s
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            metadata = admin.list_topics(
                timeout=min(remaining, 0.5) if refused_is_final else remaining
            )
        except KafkaException as error:
            admin.poll(0)  # serves the error callback
            if not (refused_is_final and not refused.is_set() and time.monotonic() < deadline):
                raise BrokerUnavailable(
                    f"Kafka at {settings.bootstrap_servers} is not reachable "
                    f"({error.args[0].str()}); start it or set MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS"
                ) from None
            continue
        if report_topics:
            # Imported here: topics builds on this module's clients.
            from merchstore.common.topics import layout_warnings, layouts_of, required_topics

            for warning in layout_warnings(required_topics(settings), layouts_of(metadata)):
                log.warning("%s", warning)
        return


class KafkaProducer:
    """An idempotent producer whose sends complete when the broker acknowledged them.

    Delivery reports are served by a background thread, so `send` is cheap and thread-safe and
    batching is left to the Kafka client (``linger.ms``), never one flush per message. While an
    event loop is busy awaiting many acknowledgements (`send_async`, ``LOOP_SERVES_FROM``),
    that loop serves the reports itself instead: the client calls back into Python once per
    message, and from another thread each call would have to take the interpreter lock from
    the busy loop.
    A fatal producer error fails the unacknowledged messages and replaces the client. On the
    embedded broker (``kafka.replace_producer_on_timeout``) so do deliveries timing out: after
    a restart it no longer knows the idempotent producer's id, without saying so, and only a
    new client gets a new one. On Apache Kafka a timeout fails its message only.
    Topics are never auto-created by producers: ``ensure_topics`` creates them with the
    contract's layout.
    """

    def __init__(self, settings: Settings, *, client_id: str, **overrides: Any) -> None:
        self._delivery_timeout_s = settings.kafka.delivery_timeout_ms / 1000
        self._replace_on_timeout = settings.kafka.replace_producer_on_timeout
        config = client_config(
            settings,
            **{
                "client.id": client_id,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": settings.kafka.delivery_timeout_ms,
                "allow.auto.create.topics": False,
            },
        )
        config.update(overrides)
        config["error_cb"] = self._on_error
        self._config = config
        self._producer = Producer(config)
        self._swap_lock = threading.Lock()
        # Acknowledgements for awaiting coroutines, handed to their event loop once per poll.
        self._acks_for_loops: dict[asyncio.AbstractEventLoop, list[Callable[[], None]]] = {}
        self._acks_lock = threading.Lock()
        self._fatal = threading.Event()
        self._closed = threading.Event()
        self.replacements = 0
        """How many times the client was replaced after a fatal error or timeouts."""
        # The event loop whose awaiting sends are counted (the first to await), how many
        # await, and the task serving reports on it; the thread waits while that task runs.
        self._awaiting_loop: asyncio.AbstractEventLoop | None = None
        self._awaited = 0
        self._loop_server: asyncio.Task[None] | None = None
        self._loop_stopped_serving = threading.Event()
        self._poller = threading.Thread(
            target=self._serve_delivery_reports, name=f"{client_id}-delivery", daemon=True
        )
        self._poller.start()

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            log.error("producer fatal error: %s", error.str())
            self._fatal.set()
        else:
            # Transient (e.g. broker unreachable): librdkafka retries; deliveries time out.
            log.debug("producer error: %s", error.str())

    def _serve_delivery_reports(self) -> None:
        # This thread must outlive anything one report raises: every awaiting send relies on
        # it (or on the loop serving them) for its answer; librdkafka delivers a report for
        # each message by its timeout.
        while not self._closed.is_set():
            if self._a_loop_serves():
                self._loop_stopped_serving.wait(0.1)
                continue
            self._poll_reports(0.1)
            if self._fatal.is_set():
                self._replace_producer()

    def _a_loop_serves(self) -> bool:
        # A loop closed without finishing its serving task (never the case under asyncio.run
        # or uvicorn, which cancel their tasks) serves nothing any more.
        loop = self._awaiting_loop
        return self._loop_server is not None and loop is not None and not loop.is_closed()

    def _poll_reports(self, timeout_s: float) -> None:
        """Serve the delivery reports that arrive within ``timeout_s``, then hand them over."""
        try:
            self._producer.poll(timeout_s)
        except KafkaException as error:
            log.error("producer error: %s", error)
            if error.args[0].fatal():
                self._fatal.set()
        except Exception:
            log.exception("serving delivery reports failed; going on")
        self._hand_acks_to_loops()

    async def _serve_on_loop(self) -> None:
        """Serve delivery reports on this loop while it is busy awaiting acknowledgements."""
        try:
            while self._awaited >= LOOP_SERVES_FROM // 2 and not self._closed.is_set():
                self._poll_reports(0)
                if self._fatal.is_set():
                    # Replacing waits for the broken client's reports: not on the loop.
                    await asyncio.to_thread(self._replace_producer)
                await asyncio.sleep(LOOP_POLL_INTERVAL_S)
        finally:
            self._loop_server = None
            self._loop_stopped_serving.set()

    def _hand_acks_to_loops(self) -> None:
        # One wake-up per event loop for everything one poll acknowledged, not one per message.
        with self._acks_lock:
            batches, self._acks_for_loops = self._acks_for_loops, {}
        for loop, callbacks in batches.items():
            try:
                loop.call_soon_threadsafe(_run_all, callbacks)
            except RuntimeError:
                log.debug("event loop closed before %d acknowledgement(s)", len(callbacks))

    def _replace_producer(self) -> None:
        with self._swap_lock:
            broken = self._producer
            self._producer = Producer(self._config)
            self._fatal.clear()
        self.replacements += 1
        # Serve the failed deliveries of the broken client, so every waiting send fails.
        deadline = time.monotonic() + 5
        while len(broken) and time.monotonic() < deadline:
            try:
                broken.purge()
                broken.poll(0.1)
            except KafkaException:
                continue
        log.warning("replaced the producer (fatal error or deliveries timing out)")

    def send(
        self, topic: str, value: bytes | str, key: bytes | str | None = None
    ) -> Future[Message]:
        """Queue one message; the future resolves when acknowledged or fails (DeliveryFailed)."""
        future: Future[Message] = Future()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                future.set_exception(delivery_failure(topic, error))
            else:
                future.set_result(message)

        self._produce(topic, value, key, on_delivery, future.set_exception)
        return future

    async def send_async(
        self, topic: str, value: bytes | str, key: bytes | str | None = None
    ) -> Message:
        """Send and await the acknowledgement without blocking the event loop.

        The answer comes within the producer's ``message.timeout.ms``: librdkafka reports every
        message by then, and a broken client's messages are failed when it is replaced.
        """
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        future: asyncio.Future[Message] = loop.create_future()

        def resolve(error: KafkaError | None, message: Message) -> None:
            if future.done():  # the caller gave up waiting (cancelled)
                return
            if error is not None:
                future.set_exception(delivery_failure(topic, error))
            else:
                future.set_result(message)

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            # Runs inside poll(): on the loop serving reports, settled at once; on the delivery
            # thread (or a flush), handed to the loop after the poll.
            if threading.get_ident() == loop_thread:
                resolve(error, message)
                return
            with self._acks_lock:
                self._acks_for_loops.setdefault(loop, []).append(lambda: resolve(error, message))

        def fail(error: BaseException) -> None:
            if not future.done():
                future.set_exception(error)

        if self._awaiting_loop is None or self._awaiting_loop.is_closed():
            self._awaiting_loop, self._awaited, self._loop_server = loop, 0, None
        counted = loop is self._awaiting_loop
        if counted:
            self._awaited += 1
            if self._awaited >= LOOP_SERVES_FROM and self._loop_server is None:
                self._loop_stopped_serving.clear()
                self._loop_server = loop.create_task(self._serve_on_loop())
        try:
            self._produce(topic, value, key, on_delivery, fail)
            return await future
        finally:
            if counted:
                self._awaited -= 1

    async def send_all_async(
        self,
        topic: str,
        messages: Sequence[OutgoingMessage],
        acknowledged: set[int],
    ) -> None:
        """Send the messages not in ``acknowledged`` at once, adding each one the broker acks.

        Raises one failure if any: a transient `DeliveryFailed` before a `RefusedByBroker`, so
        a batch waits for the broker rather than being set aside. Messages acknowledged before
        are not sent again, so a batch retried one message at a time duplicates nothing.
        """

        async def send_one(message: OutgoingMessage) -> None:
            await self.send_async(topic, message.value, message.key)
            # Added at once, not when the batch ends: a caller cancelled meanwhile still knows.
            acknowledged.add(message.id)

        pending = [m for m in messages if m.id not in acknowledged]
        results = await asyncio.gather(*(send_one(m) for m in pending), return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            failures.sort(key=lambda failure: isinstance(failure, RefusedByBroker))
            raise failures[0]

    def send_with_callback(
        self,
        topic: str,
        value: bytes | str,
        on_delivery: Callable[[KafkaError | None, Message], None],
        key: bytes | str | None = None,
    ) -> None:
        """Queue one message; ``on_delivery`` runs on the delivery thread with the outcome.

        The cheapest way to send many messages whose outcomes are tallied together.
        """

        def fail(error: BaseException) -> None:
            on_delivery(KafkaError(KafkaError._FAIL, str(error)), None)  # type: ignore[arg-type]

        self._produce(topic, value, key, on_delivery, fail)

    def _produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None,
        on_delivery: Callable[[KafkaError | None, Message], None],
        fail: Callable[[BaseException], None],
    ) -> None:
        def on_delivery_watching_timeouts(error: KafkaError | None, message: Message) -> None:
            if (
                self._replace_on_timeout
                and error is not None
                and error.code() == KafkaError._MSG_TIMED_OUT
            ):
                self._fatal.set()
            on_delivery(error, message)

        deadline = time.monotonic() + self._delivery_timeout_s
        while True:
            try:
                with self._swap_lock:
                    self._producer.produce(
                        topic, value=value, key=key, on_delivery=on_delivery_watching_timeouts
                    )
                return
            except BufferError:
                # The local queue is full: wait for acknowledgements to make room, within bound.
                if time.monotonic() > deadline:
                    fail(DeliveryFailed(f"producer queue for {topic} is full"))
                    return
                time.sleep(0.01)
            except KafkaException as error:
                fail(delivery_failure(topic, error.args[0]))
                return

    def send_and_wait(
        self, topic: str, value: bytes | str, key: bytes | str | None = None
    ) -> Message:
        """Send and block until acknowledged; raise DeliveryFailed otherwise (never hangs)."""
        future = self.send(topic, value, key)
        # Delivery reports always arrive by message.timeout.ms; the margin covers scheduling.
        return future.result(timeout=self._delivery_timeout_s + 5)

    def abandon(self) -> None:
        """Fail every queued and in-flight message now; their delivery reports say so.

        For a sender that gives up waiting (a shutdown during an outage) and must know which
        messages were acknowledged before it stopped: none is delivered behind its back later.
        """
        with self._swap_lock:
            try:
                self._producer.purge(in_queue=True, in_flight=True, blocking=False)
            except KafkaException as error:
                log.warning("purging the producer failed: %s", error)

    def flush(self, timeout_s: float) -> int:
        """Wait for queued messages; return how many are still unacknowledged."""
        try:
            return int(self._producer.flush(timeout_s))
        except KafkaException as error:
            log.error("flush failed: %s", error)
            return len(self._producer)
        finally:
            self._hand_acks_to_loops()

    def close(self, timeout_s: float = 5.0) -> int:
        """Flush within a bound, stop the delivery thread; return messages left unacknowledged."""
        remaining = self.flush(timeout_s)
        self._closed.set()
        self._poller.join(timeout=1.0)
        if remaining:
            log.warning("producer closed with %d unacknowledged message(s)", remaining)
        return remaining


def _run_all(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()


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
        settings: Settings,
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
                "on_commit": _report_failed_commit,
                # A member joining or leaving moves only the partitions that must move; the
                # others go on being consumed through the rebalance.
                "partition.assignment.strategy": "cooperative-sticky",
            },
        )
        config.update(overrides)
        self._settings = settings
        self._config = config
        self._topics = list(topics)
        self._handle_batch = handle_batch
        self._set_aside = set_aside or _refuse_to_set_aside
        self._policy = policy
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._start_offsets = start_offsets
        self._moved_start = moved_start
        self._trusts_high_watermark: bool | None = None
        self._retry_backoff_s = retry_backoff_s
        self._topic_ids: dict[str, str] = {}
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

        An exception escaping a rebalance callback would end the consumer's thread for good,
        and partitions taken with a guessed position could be read twice or skipped: so a
        failure (a topic-id lookup timing out during a controller move, the handler's store
        unavailable) is logged and retried with growing pauses, never passed on or guessed.
        Inside this callback the consumer may only be asked what does not reset its call
        state (committed, get_watermark_offsets, incremental_assign); anything else goes
        through a client of its own.
        """
        attempt = 0
        while True:
            try:
                consumer.incremental_assign(self._positions(consumer, partitions))
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
        log.info(
            "assigned %s",
            ", ".join(
                f"{p.topic}[{p.partition}]@{p.offset} (topic id {self._topic_ids.get(p.topic)})"
                for p in partitions
            )
            or "nothing",
        )
        self.assigned.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Before partitions move to another member, commit what was processed of them."""
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as error:
            if error.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("commit before a rebalance failed (redelivered there): %s", error)
        except Exception as error:  # never let a callback end the consumer
            log.warning("commit before a rebalance failed: %s", error)

    def _positions(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[TopicPartition]:
        """Where each partition resumes, checked against what the log still holds.

        Raises if a topic id or a position cannot be read: `_on_assign` retries.
        """
        ids = topic_ids(self._settings, {p.topic for p in partitions}, strict=True)
        self._topic_ids = {**self._topic_ids, **ids}
        if self._start_offsets is not None:
            stored = {
                (p.topic, p.partition): self._start_offsets(p.topic, ids[p.topic], p.partition)
                for p in partitions
            }
        else:
            timeout = self._settings.kafka.request_timeout_s
            committed = consumer.committed(partitions, timeout=timeout)
            stored = {
                (c.topic, c.partition): c.offset if c.offset >= 0 else None for c in committed
            }
        positions = []
        for partition in partitions:
            key = (partition.topic, partition.partition)
            offset = self._checked_start(consumer, partition, stored[key])
            positions.append(TopicPartition(partition.topic, partition.partition, offset))
        return positions

    def _checked_start(
        self, consumer: Consumer, partition: TopicPartition, stored: int | None
    ) -> int:
        """The offset to resume ``partition`` at: ``stored``, unless the log no longer has it."""
        if stored is None:
            # Nothing stored: never seen this partition (or its database started afresh).
            return OFFSET_BEGINNING
        topic, number = partition.topic, partition.partition
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, number), timeout=self._settings.kafka.request_timeout_s
        )
        if stored < low:
            SKIPPED.labels(self._group_id, topic, str(number)).inc(low - stored)
            log.error(
                "gap on %s[%d]: resuming at %d, but the log starts at %d: %d message(s) were "
                "deleted (retention) before they were read",
                topic,
                number,
                stored,
                low,
                low - stored,
            )
            return low
        if self._trusts_high_watermark is None:
            # Asked through a client of its own: this runs inside a rebalance callback, and the
            # consumer's list_topics there would forget the consumer's call state, so that its
            # next log line aborts the process (confluent-kafka's CallState assertion).
            admin = AdminClient(client_config(self._settings))
            cluster = admin.list_topics(timeout=self._settings.kafka.request_timeout_s)
            # The embedded broker under-reports its high watermark after a multi-record batch:
            # there a position past it is no sign of a restarted log.
            self._trusts_high_watermark = cluster.cluster_id != EMBEDDED_CLUSTER_ID
        if stored > high and self._trusts_high_watermark:
            LOG_RESTARTS.labels(self._group_id, topic, str(number)).inc()
            log.error(
                "%s[%d] ends at %d, below the stored position %d, under the same topic id: its "
                "log restarted (an unclean leader election, a replaced disk). New messages are "
                "read from %d on; offsets %d to %d no longer hold what was read there",
                topic,
                number,
                high,
                stored,
                high,
                high,
                stored - 1,
            )
            if self._moved_start is not None:
                self._moved_start(topic, self._topic_ids[topic], number, high)
            return high
        return stored

    def run(self) -> None:
        """Consume until `stop` is called; close the consumer (leaving the group) at the end."""
        consumer = Consumer(self._config)
        consumer.subscribe(self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not self._stop.is_set():
                batch = self._poll(consumer)
                if batch:
                    self._process(consumer, batch)
        finally:
            self._commit_stored_offsets(consumer)
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
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error.str())
        return batch

    def _process(self, consumer: Consumer, batch: list[Message]) -> None:
        consumed: list[ConsumedMessage] = []
        for message in batch:
            topic, partition, offset = message_position(message)
            consumed.append(
                ConsumedMessage(
                    topic, partition, offset, message.value(), self._topic_ids.get(topic, "")
                )
            )
        try:
            set_aside = handle_or_set_aside(
                consumed, self._handle_batch, self._set_aside, self._policy
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
            self._rewind(consumer, batch)
            self._stop.wait(pause)
            return
        self.progress.succeeded(len(batch) - set_aside, set_aside)
        CONSUMED.labels(self._group_id).inc(len(batch) - set_aside)
        SET_ASIDE.labels(self._group_id).inc(set_aside)
        next_offsets = self.next_offsets(consumed)
        self._commit(consumer, next_offsets)
        self._measure_lag(consumer, next_offsets)

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

    @staticmethod
    def next_offsets(batch: Sequence[ConsumedMessage]) -> list[TopicPartition]:
        """The offsets to commit after `batch`: one past the last message of each partition."""
        highest: dict[tuple[str, int], int] = {}
        for message in batch:
            key = (message.topic, message.partition)
            highest[key] = max(highest.get(key, -1), message.offset)
        return [
            TopicPartition(topic, part, offset + 1) for (topic, part), offset in highest.items()
        ]

    @staticmethod
    def _rewind(consumer: Consumer, batch: list[Message]) -> None:
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

    @staticmethod
    def _commit(consumer: Consumer, next_offsets: list[TopicPartition]) -> None:
        # Not waited for: the batch's effects are durable, and a lost commit only means it is
        # seen again, which every handler tolerates (idempotent or keeping its own offsets).
        # Waiting would add a round trip to the broker to every batch.
        try:
            consumer.store_offsets(offsets=next_offsets)
            consumer.commit(offsets=next_offsets, asynchronous=True)
        except KafkaException as error:
            log.warning("offset commit failed (batch will be redelivered): %s", error)

    @staticmethod
    def _commit_stored_offsets(consumer: Consumer) -> None:
        # On the way out, wait for the group to hold the offsets stored after handled batches.
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as error:
            if error.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("final offset commit failed (redelivered at the next start): %s", error)


def _report_failed_commit(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
    if error is not None:
        log.warning("offset commit failed (redelivered after a restart): %s", error.str())


def _refuse_to_set_aside(message: ConsumedMessage, reason: str) -> None:
    # A consumer without a place for poison messages must not lose one: retry instead.
    raise RuntimeError(f"cannot set aside {message.topic}[{message.partition}]@{message.offset}")


def topic_ids(settings: Settings, topics: Iterable[str], strict: bool = False) -> dict[str, str]:
    """The broker's id of each topic's current incarnation ("" where the broker has none).

    ``strict``: a failed lookup raises instead of leaving the ids out (positions keyed by
    topic id would otherwise not be found, and consumption would start over).
    """
    names = sorted(set(topics))
    if not names:
        return {}
    admin = AdminClient(client_config(settings))
    ids: dict[str, str] = {}
    try:
        futures = admin.describe_topics(TopicCollection(names))
        for name, future in futures.items():
            ids[name] = str(future.result(settings.kafka.request_timeout_s).topic_id or "")
    except Exception as error:
        if strict:
            raise TopicIdsUnavailable(f"cannot read the topic ids of {names}: {error}") from None
        log.warning("cannot read topic ids of %s (%s)", names, error)
    return ids


class TopicIdsUnavailable(Exception):
    """The broker did not say which incarnation of a topic this is."""
