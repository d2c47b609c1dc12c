"""logging-service's publishing against fakes: batching, spilling, and the drain's rules.

A stream's lines go to Kafka at once and settle once acknowledged; what Kafka did not
acknowledge is spilled, and new lines queue behind it; what the broker acknowledged leaves the
spill, whatever else happens.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

from confluent_kafka import KafkaError, Message

from merchstore.common.kafka.delivery import DeliveryFailed, DeliveryReport
from merchstore.common.kafka.trace_context import Headers
from merchstore.logging_service.adapters import SpillBuffer
from merchstore.logging_service.use_cases import InFlight, LogPublisher, Settled


class PartlyFailingProducer:
    """Acknowledges the first ``acknowledge`` messages it is given, then fails or hangs."""

    def __init__(self, acknowledge: int, *, hang: bool = False) -> None:
        self.acknowledge = acknowledge
        self.hang = hang
        self.sent: list[bytes | str] = []
        self.abandoned = asyncio.Event()

    async def send_async(
        self, topic: str, value: bytes | str, key: object = None, headers: object = None
    ) -> None:
        if self.acknowledge == 0:
            if self.hang:
                await self.abandoned.wait()
            raise DeliveryFailed("broker unreachable")
        self.acknowledge -= 1
        self.sent.append(value)

    def abandon(self) -> None:
        self.abandoned.set()


def publisher_with(producer: PartlyFailingProducer, spill: SpillBuffer) -> LogPublisher:
    return LogPublisher(
        AcknowledgingLineProducer(), "log-channel", spill, drain_batch=10, drain_producer=producer
    )


def test_a_batch_failing_part_way_keeps_only_the_unacknowledged(tmp_path: Path) -> None:
    spill = SpillBuffer(tmp_path / "spill.sqlite3", 1 << 20)
    spill.append([f"line {i}".encode() for i in range(10)])
    producer = PartlyFailingProducer(acknowledge=4)
    publisher = publisher_with(producer, spill)

    assert asyncio.run(publisher.drain_once()) == 0
    assert [payload for _, payload in spill.oldest(100)] == [
        f"line {i}".encode() for i in range(4, 10)
    ]

    producer.acknowledge = 100
    assert asyncio.run(publisher.drain_once()) == 6
    assert producer.sent == [f"line {i}".encode() for i in range(10)]  # each once, in order
    assert len(spill) == 0


def test_a_shutdown_during_an_outage_abandons_the_sends_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    spill = SpillBuffer(tmp_path / "spill.sqlite3", 1 << 20)
    spill.append([f"line {i}".encode() for i in range(10)])
    producer = PartlyFailingProducer(acknowledge=3, hang=True)

    async def run_and_finish() -> None:
        publisher = publisher_with(producer, spill)
        publisher.draining.set()
        drain = asyncio.create_task(publisher.drain_forever())
        await publisher.finish(drain, timeout_s=0.2)
        assert drain.done()

    asyncio.run(run_and_finish())
    assert producer.abandoned.is_set()
    assert [payload for _, payload in spill.oldest(100)] == [
        f"line {i}".encode() for i in range(3, 10)
    ]


class AcknowledgingLineProducer:
    """Reports each line at once: acknowledged, or failed while ``down``."""

    def __init__(self) -> None:
        self.sent: list[bytes | str] = []
        self.down = False

    def send_with_callback(
        self,
        topic: str,
        value: bytes | str,
        on_delivery: DeliveryReport,
        key: bytes | str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.sent.append(value)
        error = KafkaError(KafkaError._MSG_TIMED_OUT, "timed out") if self.down else None
        on_delivery(error, cast(Message, None))


class MemorySpill:
    """The spill as a list, holding at most ``capacity`` lines."""

    def __init__(self, capacity: int = 100) -> None:
        self.lines: list[tuple[int, bytes]] = []
        self.capacity = capacity
        self.next_id = 1

    def __len__(self) -> int:
        return len(self.lines)

    def append(self, payloads: list[bytes]) -> tuple[int, int]:
        room = max(self.capacity - len(self.lines), 0)
        for payload in payloads[:room]:
            self.lines.append((self.next_id, payload))
            self.next_id += 1
        return min(room, len(payloads)), max(len(payloads) - room, 0)

    def oldest(self, limit: int) -> list[tuple[int, bytes]]:
        return self.lines[:limit]

    def remove(self, ids: list[int]) -> None:
        self.lines = [line for line in self.lines if line[0] not in set(ids)]

    def set_aside(self, message_id: int, reason: str) -> None:
        self.remove([message_id])


def stream(publisher: LogPublisher, payloads: list[bytes]) -> Settled:
    """One stream's lines submitted and settled, as logging-service's servicer does."""

    async def submit_and_settle() -> Settled:
        batch = InFlight()
        for payload in payloads:
            publisher.submit(payload, batch)
        return await publisher.settle(batch)

    return asyncio.run(submit_and_settle())


def lines(*numbers: int) -> list[bytes]:
    return [f"line {number}".encode() for number in numbers]


def batching_publisher(
    spill: MemorySpill,
) -> tuple[LogPublisher, AcknowledgingLineProducer, PartlyFailingProducer]:
    producer, drain = AcknowledgingLineProducer(), PartlyFailingProducer(acknowledge=100)
    return LogPublisher(producer, "log-channel", spill, 10, drain_producer=drain), producer, drain


def test_a_streams_lines_are_published_once_acknowledged() -> None:
    spill = MemorySpill()
    publisher, producer, _ = batching_publisher(spill)
    assert stream(publisher, lines(1, 2, 3)) == Settled(published=3)
    assert producer.sent == lines(1, 2, 3)
    assert len(spill) == 0 and not publisher.draining.is_set()


def test_lines_kafka_did_not_acknowledge_are_spilled_and_the_drain_woken() -> None:
    spill = MemorySpill()
    publisher, producer, _ = batching_publisher(spill)
    producer.down = True
    assert stream(publisher, lines(1, 2)) == Settled(spilled=2)
    assert [payload for _, payload in spill.lines] == lines(1, 2)
    assert publisher.draining.is_set()


def test_while_lines_are_spilled_new_ones_queue_behind_them_in_order() -> None:
    spill = MemorySpill()
    publisher, producer, drain = batching_publisher(spill)
    producer.down = True
    stream(publisher, lines(1, 2))
    producer.down = False
    assert stream(publisher, lines(3, 4)) == Settled(spilled=2)
    assert producer.sent == lines(1, 2)  # 3 and 4 were held, never sent ahead of 1 and 2
    assert asyncio.run(publisher.drain_once()) == 4
    assert drain.sent == lines(1, 2, 3, 4)


def test_a_full_spill_drops_and_counts_what_does_not_fit() -> None:
    spill = MemorySpill(capacity=2)
    publisher, producer, _ = batching_publisher(spill)
    producer.down = True
    assert stream(publisher, lines(1, 2, 3)) == Settled(spilled=2, dropped=1)


def test_a_send_counted_after_the_last_report_keeps_the_batch_unsettled() -> None:
    """The delivery thread's wake-up may run after ``track`` counted a new send: not settled."""

    async def race() -> bool:
        batch = InFlight()
        first = batch.track(b"line 1")
        # The delivery thread reports the only outstanding send: its wake-up is scheduled...
        first(None, cast(Message, None))
        # ...and, before the loop runs it, the next line of the stream is sent.
        batch.track(b"line 2")
        try:
            await asyncio.wait_for(batch.acknowledged(), timeout=0.2)
        except TimeoutError:
            return False
        return True

    assert asyncio.run(race()) is False, "line 2 was taken as acknowledged before its report"
