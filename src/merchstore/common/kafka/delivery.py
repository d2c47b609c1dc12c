"""Deliveries: how a send can fail, sending a tracked batch, and handing acks to event loops."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from confluent_kafka import KafkaError, Message

from merchstore.common.kafka.trace_context import Headers, context_of, publishing
from merchstore.common.poison import PoisonPolicy

log = logging.getLogger(__name__)


DeliveryReport = Callable[[KafkaError | None, Message], None]
"""Told one message's outcome: no error when the broker acknowledged it."""


class OutgoingMessage(NamedTuple):
    """A message to send, with the id its sender tracks it by (an outbox row, a spill entry)."""

    id: int
    value: bytes | str
    key: bytes | str | None = None
    traceparent: str | None = None
    """The trace context it continues, kept since it was written (an order's, in the outbox)."""


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


REFUSED_BY_THE_BROKER = PoisonPolicy(permanent=(RefusedByBroker,))
"""A message the broker refuses for good is set aside; an unreachable broker is waited for."""


def delivery_failure(topic: str, error: KafkaError) -> DeliveryFailed:
    """The exception for a failed delivery: `RefusedByBroker` when the message is at fault."""
    kind = RefusedByBroker if error.code() in _REFUSALS else DeliveryFailed
    return kind(f"delivery to {topic} failed: {error.str()}")


class AcknowledgedSender(Protocol):
    """Sends one message and returns once the broker acknowledged it (`KafkaProducer`)."""

    async def send_async(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: Headers | None = None,
    ) -> object:
        """Send and await the acknowledgement; raise `DeliveryFailed` otherwise."""
        ...


async def send_all(
    sender: AcknowledgedSender,
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
        if message.traceparent is None:
            await sender.send_async(topic, message.value, message.key)
        else:
            # Written now, in the trace of the request that made it.
            with publishing(topic, context_of(message.traceparent)) as headers:
                await sender.send_async(topic, message.value, message.key, headers)
        # Added at once, not when the batch ends: a caller cancelled meanwhile still knows.
        acknowledged.add(message.id)

    pending = [m for m in messages if m.id not in acknowledged]
    results = await asyncio.gather(*(send_one(m) for m in pending), return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        failures.sort(key=lambda failure: isinstance(failure, RefusedByBroker))
        raise failures[0]


class LoopAcknowledgements:
    """Acknowledgements served on a delivery thread, waiting to be handed to their event loops.

    Handed over once per poll: one wake-up per event loop for everything that poll
    acknowledged, not one per message.
    """

    def __init__(self) -> None:
        self._waiting: dict[asyncio.AbstractEventLoop, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def add(self, loop: asyncio.AbstractEventLoop, settle: Callable[[], None]) -> None:
        """Keep ``settle`` (which resolves an awaited send) for ``loop``."""
        with self._lock:
            self._waiting.setdefault(loop, []).append(settle)

    def hand_over(self) -> None:
        """Run what was kept on each loop, one call per loop."""
        with self._lock:
            batches, self._waiting = self._waiting, {}
        for loop, callbacks in batches.items():
            try:
                loop.call_soon_threadsafe(_run_all, callbacks)
            except RuntimeError:
                log.debug("event loop closed before %d acknowledgement(s)", len(callbacks))


def _run_all(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()
