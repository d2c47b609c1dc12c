"""The drain's rules: what the broker acknowledged leaves the spill, whatever else happens."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

from merchstore.common.kafka.delivery import DeliveryFailed
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.logging_service.adapters import SpillBuffer
from merchstore.logging_service.use_cases import LogPublisher


class PartlyFailingProducer:
    """Acknowledges the first ``acknowledge`` messages it is given, then fails or hangs."""

    def __init__(self, acknowledge: int, *, hang: bool = False) -> None:
        self.acknowledge = acknowledge
        self.hang = hang
        self.sent: list[bytes | str] = []
        self.abandoned = asyncio.Event()

    async def send_async(self, topic: str, value: bytes | str, key: object = None) -> None:
        if self.acknowledge == 0:
            if self.hang:
                await self.abandoned.wait()
            raise DeliveryFailed("broker unreachable")
        self.acknowledge -= 1
        self.sent.append(value)

    def abandon(self) -> None:
        self.abandoned.set()


def publisher_with(producer: PartlyFailingProducer, spill: SpillBuffer) -> LogPublisher:
    fake = cast(KafkaProducer, producer)
    return LogPublisher(fake, "log-channel", spill, drain_batch=10, drain_producer=fake)


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
