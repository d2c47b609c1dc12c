"""Benchmark of the embedded broker: what a consumer following a topic costs it as the topic grows.

Run: ``make bench-broker``, or ``.venv/bin/python -m bench.embedded_broker``

The embedded broker (tansu, memory only) is what ``merchstore up`` runs by default. Storage
follows ``events`` as it fills, fetching every 20 ms. This measures the broker's CPU time per
message while a producer sends at a steady rate and a consumer follows it the way storage does,
with the topic already holding 0, 50,000, 100,000 and 200,000 messages. The empty topic is the
reference, measured in the same run. Each size is measured three times and the median reported.
The topic only grows, so the sizes cannot take turns. Apache Kafka finds a fetch's position
through its offset index, so its cost does not depend on the size. It cannot be measured here:
this machine has no Apache Kafka.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.harness import embedded_broker
from bench.report import REPEATS, Goal, save
from tests.support.kafka import produce_all

TOPIC = "followed"
SIZES = (0, 50_000, 100_000, 200_000)
RATE = 2_000
"""Messages per second of the steady producer (about what the receiver sends with storage on)."""
VALUE = (
    b'{"event_id": "6f1c0f7e-3b7a-4f55-9a55-8f0f5a8d9a11", "event_type": "purchase_sword",'
    b' "user_id": "7", "metadata": {"sword_type": "katana"}, "timestamp": "2026-11-30T10:00:00Z"}'
)


def follow(bootstrap: str, start: int, count: int) -> None:
    """Read ``count`` messages from offset ``start`` as storage reads ``events``."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"follower-{start}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 20,  # storage's storage.fetch_wait_max_ms
        }
    )
    consumer.assign([TopicPartition(TOPIC, 0, start)])
    seen = 0
    deadline = time.monotonic() + 120
    while seen < count and time.monotonic() < deadline:
        seen += sum(1 for m in consumer.consume(500, 0.1) if m.error() is None)
    consumer.close()
    if seen < count:
        raise SystemExit(f"the follower read {seen} of {count} messages in 120 s")


def steady_phase(bootstrap: str, broker: psutil.Process, start: int, count: int) -> float:
    """Broker CPU µs per message while ``count`` messages go at ``RATE``/s, followed."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    before = broker.cpu_times()
    with ThreadPoolExecutor(1) as pool:
        followed = pool.submit(follow, bootstrap, start, count)
        began = time.monotonic()
        for number in range(count):
            producer.produce(TOPIC, VALUE)
            producer.poll(0)
            ahead = began + number / RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        producer.flush(30)
        followed.result()  # the follower's failure is this phase's
    after = broker.cpu_times()
    spent = (after.user - before.user) + (after.system - before.system)
    return spent / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of a steady phase")
    arguments = parser.parse_args()
    with embedded_broker("embedded-broker") as kafka:
        assert kafka.broker.pid is not None
        process = psutil.Process(kafka.broker.pid)
        bootstrap = kafka.broker.bootstrap_servers
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(30)
        # An idempotent producer's offsets on one partition are 0, 1, 2, ...: the count of
        # messages sent is the next offset (the embedded broker's watermark is not reliable).
        held = 0
        medians: dict[int, float] = {}
        turns: dict[int, list[float]] = {}
        print(f"steady {RATE:,} messages/s for {arguments.seconds:.0f} s, followed; median of 3")
        for size in SIZES:
            if size > held:
                held += produce_all(bootstrap, TOPIC, (VALUE for _ in range(size - held)))
            runs = []
            phase = int(RATE * arguments.seconds)
            for _ in range(REPEATS):
                runs.append(steady_phase(bootstrap, process, held, phase))
                held += phase
            medians[size] = statistics.median(runs)
            turns[size] = runs
            print(
                f"  topic holding {size:>7,} | broker CPU {medians[size]:>6.1f} µs per message"
                f" | runs: {', '.join(f'{run:.1f}' for run in runs)}"
            )
    # Each turn beside the empty topic's turn of the same index: the spread of the ratio.
    goals = [
        Goal.from_turns(
            f"embedded broker CPU per followed message, topic holding {size:,}",
            turns[size],
            "µs",
            "empty topic",
            turns[0],
            "report",
        )
        for size in SIZES[1:]
    ]
    save(
        "embedded-broker",
        goals,
        [],
        [
            f"A producer sends {RATE:,} messages/s and a consumer follows them as storage follows"
            " `events` (a fetch every 20 ms), with the topic already holding each size. The"
            " broker's CPU time per message grows with what the topic holds. For long runs or"
            " load tests on one machine, restart `merchstore up` (the embedded broker starts"
            " empty) or point merchstore at an Apache Kafka.",
        ],
    )


if __name__ == "__main__":
    main()
