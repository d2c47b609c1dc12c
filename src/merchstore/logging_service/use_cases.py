"""Publishing to ``log-channel``: batched by the Kafka client, spilled to disk when it fails."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import KafkaError, Message

from merchstore.common.kafka.delivery import (
    REFUSED_BY_THE_BROKER,
    AcknowledgedSender,
    DeliveryFailed,
    DeliveryReport,
    OutgoingMessage,
    send_all,
)
from merchstore.common.kafka.trace_context import Headers, forwarding
from merchstore.common.poison import handle_or_set_aside_async

log = logging.getLogger(__name__)

ABANDON_WAIT_S = 5.0
"""How long abandoned sends may take to report their failure at shutdown."""


class LineProducer(Protocol):
    """Sends lines to Kafka, batching them, and reports each one's outcome (`KafkaProducer`)."""

    def send_with_callback(
        self,
        topic: str,
        value: bytes | str,
        on_delivery: DeliveryReport,
        key: bytes | str | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue one line; ``on_delivery`` is told whether the broker acknowledged it."""
        ...


class DrainProducer(AcknowledgedSender, Protocol):
    """Sends spilled lines again, waiting for each acknowledgement (`KafkaProducer`)."""

    def abandon(self) -> None:
        """Fail every send under way now (a stop during an outage)."""
        ...


class Spill(Protocol):
    """Lines kept on disk, oldest first, while Kafka does not acknowledge them."""

    def __len__(self) -> int: ...

    def append(self, payloads: list[bytes]) -> tuple[int, int]:
        """Keep the lines that fit; return how many were kept and how many dropped."""
        ...

    def oldest(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest lines kept, with their ids."""
        ...

    def remove(self, ids: list[int]) -> None:
        """Forget the lines the broker acknowledged."""
        ...

    def set_aside(self, message_id: int, reason: str) -> None:
        """Move a line the broker refuses for good out of the way, with the reason."""
        ...


class InFlight:
    """Messages of one stream not settled yet: sent to Kafka, or held behind spilled ones.

    Acknowledgements are tallied on the delivery thread; the event loop is woken once, when
    the last one of the batch arrived, rather than once per message.
    """

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.held: list[bytes] = []
        self.failed: list[int] = []
        self._outstanding = 0
        self._lock = threading.Lock()
        self._loop = asyncio.get_running_loop()
        self._all_acknowledged = asyncio.Event()
        self._all_acknowledged.set()

    def __len__(self) -> int:
        return len(self.sent) + len(self.held)

    def track(self, payload: bytes) -> DeliveryReport:
        """Count ``payload`` as sent; return the delivery callback that settles it."""
        index = len(self.sent)
        self.sent.append(payload)
        with self._lock:
            self._outstanding += 1
        self._all_acknowledged.clear()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            with self._lock:
                if error is not None:
                    self.failed.append(index)
                self._outstanding -= 1
                done = self._outstanding == 0
            if done:
                self._loop.call_soon_threadsafe(self._wake_if_all_acknowledged)

        return on_delivery

    def _wake_if_all_acknowledged(self) -> None:
        # Runs on the loop, maybe after `track` counted a new send: the count decides, not the
        # report that scheduled this (else `settle` would take unacknowledged sends as done).
        with self._lock:
            if self._outstanding == 0:
                self._all_acknowledged.set()

    async def acknowledged(self) -> None:
        """Wait until every sent message has its delivery report."""
        await self._all_acknowledged.wait()

    def clear(self) -> None:
        """Forget the settled batch."""
        self.sent, self.held, self.failed = [], [], []


@dataclass
class Settled:
    """What became of a batch of accepted messages."""

    published: int = 0
    spilled: int = 0
    dropped: int = 0

    def add(self, other: Settled) -> None:
        """Add another batch's outcome."""
        self.published += other.published
        self.spilled += other.spilled
        self.dropped += other.dropped


class LogPublisher:
    """Sends messages to Kafka; while anything is spilled, new messages queue behind it.

    Keeping new messages behind the spilled ones keeps ``log-channel`` in order; the drain
    loop sends the spilled messages oldest first and removes each one once acknowledged.
    The drain has a producer of its own (``drain_producer``) that, on Apache Kafka, never gives
    a message up: a message that timed out may still have been written, so sending it again
    would put it on ``log-channel`` twice; the idempotent producer's own retries never do.
    """

    def __init__(
        self,
        producer: LineProducer,
        topic: str,
        spill: Spill,
        drain_batch: int,
        drain_producer: DrainProducer,
    ) -> None:
        self._producer = producer
        self._drain_producer = drain_producer
        self._topic = topic
        self._spill = spill
        self._drain_batch = drain_batch
        self._finishing = False
        self._abandoned = False
        self.draining = asyncio.Event()

    def submit(self, payload: bytes, batch: InFlight, traceparent: str = "") -> None:
        """Send ``payload`` now (the Kafka client batches), or queue it behind spilled ones.

        A line sent now carries the trace context it was logged in (``traceparent``); one
        queued behind spilled lines goes out later without it (the spill keeps only lines).
        """
        if len(self._spill) or batch.held:
            batch.held.append(payload)
            return
        headers = forwarding(self._topic, traceparent) if traceparent else None
        self._producer.send_with_callback(
            self._topic, payload, batch.track(payload), headers=headers
        )

    async def settle(self, batch: InFlight) -> Settled:
        """Wait for the batch's acknowledgements; spill what failed, then what was held."""
        await batch.acknowledged()
        failed = [batch.sent[index] for index in sorted(batch.failed)]
        outcome = Settled(published=len(batch.sent) - len(failed))
        if failed:
            log.warning("Kafka did not acknowledge %d message(s); spilling them", len(failed))
        to_spill = failed + batch.held
        if to_spill:
            outcome.add(self._spill_all(to_spill))
        batch.clear()
        return outcome

    def _spill_all(self, payloads: list[bytes]) -> Settled:
        kept, dropped = self._spill.append(payloads)
        if dropped:
            log.error("spill buffer full: dropped %d message(s)", dropped)
        self.draining.set()
        return Settled(spilled=kept, dropped=dropped)

    async def drain_once(self) -> int:
        """Send the oldest spilled batch; return how many left the spill (0 on failure).

        Every message the broker acknowledged leaves the spill, even when others of its batch
        failed or the drain was cancelled: it is never sent twice. A message the broker refuses
        for good is set aside with the reason (the shared poison-message mechanism), so nothing
        in the spill blocks the messages after it.
        """
        # Spilling goes on meanwhile (a stream settling): only this loop removes from the spill.
        batch = self._spill.oldest(self._drain_batch)
        if not batch:
            self.draining.clear()
            return 0

        acknowledged: set[int] = set()
        messages = [OutgoingMessage(message_id, payload) for message_id, payload in batch]

        async def send(items: Sequence[OutgoingMessage]) -> None:
            await send_all(self._drain_producer, self._topic, items, acknowledged)

        async def set_aside(item: OutgoingMessage, reason: str) -> None:
            log.error(
                "set aside spilled message %d (%d bytes): %s", item.id, len(item.value), reason
            )
            self._spill.set_aside(item.id, reason)

        try:
            await handle_or_set_aside_async(messages, send, set_aside, REFUSED_BY_THE_BROKER)
        except DeliveryFailed as error:
            log.info("still cannot reach Kafka (%s); %d spilled", error, len(self._spill))
            return 0
        finally:
            self._spill.remove(sorted(acknowledged))
        self._spill.remove([message_id for message_id, _ in batch])
        return len(batch)

    async def drain_forever(self, pause_s: float = 1.0) -> None:
        """Drain whenever something is spilled, pausing after failures, until `finish` ends it."""
        while True:
            await self.draining.wait()
            drained = await self.drain_once()
            if self._abandoned or (self._finishing and not len(self._spill)):
                return
            if drained == 0 and len(self._spill):
                await asyncio.sleep(0.5 if self._finishing else pause_s)

    async def finish(
        self, drain: asyncio.Task[None], timeout_s: float, abandon_wait_s: float = ABANDON_WAIT_S
    ) -> None:
        """On shutdown: let ``drain`` (the `drain_forever` task) empty the spill within a bound.

        When the bound passes, the messages still being sent are abandoned (failed at once), so
        what the broker acknowledged is known and leaves the spill, and the rest stays spilled
        for the next start. Only a message abandoned in flight may then reach the broker twice.
        """
        self._finishing = True
        self.draining.set()
        try:
            await asyncio.wait_for(asyncio.shield(drain), timeout_s)
        except TimeoutError:
            self._abandoned = True
            self._drain_producer.abandon()
            try:
                await asyncio.wait_for(asyncio.shield(drain), abandon_wait_s)
            except TimeoutError:
                log.error("the drain did not stop after its sends were abandoned")
        finally:
            drain.cancel()
            with suppress(asyncio.CancelledError):
                await drain
        if len(self._spill):
            log.warning(
                "%d message(s) stay spilled on disk; sent at the next start", len(self._spill)
            )
