"""The one producer of merchstore: a send completes when the broker acknowledged it."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from merchstore.common.config.base import CommonSettings
from merchstore.common.kafka.clients import producer_config
from merchstore.common.kafka.delivery import (
    DeliveryFailed,
    DeliveryReport,
    LoopAcknowledgements,
    delivery_failure,
)
from merchstore.common.kafka.trace_context import Headers

log = logging.getLogger(__name__)
_Key = bytes | str | None

LOOP_POLL_INTERVAL_S = 0.001
"""How often an event loop serving its acknowledgements asks the client for delivery reports."""
LOOP_SERVES_FROM = 16
"""An event loop serves its own acknowledgements once this many of its sends await one, and
hands back to the delivery thread when fewer than half as many do. Below that the loop has
time to spare, and the thread, woken by each report, answers sooner than a poll every
``LOOP_POLL_INTERVAL_S``; above it the loop is busy, and a thread taking the interpreter lock
from it once per report costs more than polling."""


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

    def __init__(self, settings: CommonSettings, *, client_id: str, **overrides: Any) -> None:
        self._delivery_timeout_s = settings.kafka.delivery_timeout_ms / 1000
        self._replace_on_timeout = settings.kafka.replace_producer_on_timeout
        config = producer_config(settings, client_id, **overrides)
        config["error_cb"] = self._on_error
        self._config = config
        self._producer = Producer(config)
        self._swap_lock = threading.Lock()
        # Acknowledgements for awaiting coroutines, handed to their event loop once per poll.
        self._acks_for_loops = LoopAcknowledgements()
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
        self._acks_for_loops.hand_over()

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
        self, topic: str, value: bytes | str, key: _Key = None, headers: Headers | None = None
    ) -> Future[Message]:
        """Queue one message; the future resolves when acknowledged or fails (DeliveryFailed)."""
        future: Future[Message] = Future()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                future.set_exception(delivery_failure(topic, error))
            else:
                future.set_result(message)

        self._produce(topic, value, key, on_delivery, future.set_exception, headers)
        return future

    async def send_async(
        self, topic: str, value: bytes | str, key: _Key = None, headers: Headers | None = None
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
            self._acks_for_loops.add(loop, lambda: resolve(error, message))

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
            self._produce(topic, value, key, on_delivery, fail, headers)
            return await future
        finally:
            if counted:
                self._awaited -= 1

    def send_with_callback(
        self,
        topic: str,
        value: bytes | str,
        on_delivery: DeliveryReport,
        key: bytes | str | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue one message; ``on_delivery`` runs on the delivery thread with the outcome.

        The cheapest way to send many messages whose outcomes are tallied together.
        """

        def fail(error: BaseException) -> None:
            on_delivery(KafkaError(KafkaError._FAIL, str(error)), None)  # type: ignore[arg-type]

        self._produce(topic, value, key, on_delivery, fail, headers)

    def _produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None,
        on_delivery: DeliveryReport,
        fail: Callable[[BaseException], None],
        headers: Headers | None = None,
    ) -> None:
        def report(error: KafkaError | None, message: Message) -> None:
            # Watching for timeouts (kafka.replace_producer_on_timeout).
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
                    self._producer.produce(topic, value, key, on_delivery=report, headers=headers)
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
        self, topic: str, value: bytes | str, key: _Key = None, headers: Headers | None = None
    ) -> Message:
        """Send and block until acknowledged; raise DeliveryFailed otherwise (never hangs)."""
        future = self.send(topic, value, key, headers)
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
            self._acks_for_loops.hand_over()

    def close(self, timeout_s: float = 5.0) -> int:
        """Flush within a bound, stop the delivery thread; return messages left unacknowledged."""
        remaining = self.flush(timeout_s)
        self._closed.set()
        self._poller.join(timeout=1.0)
        if remaining:
            log.warning("producer closed with %d unacknowledged message(s)", remaining)
        return remaining
