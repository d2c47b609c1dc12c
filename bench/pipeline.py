"""Benchmark of the game-events pipeline: receiver throughput, storage lag, end-to-end latency.

Run: ``make bench-pipeline`` (installs ``wrk``), or ``.venv/bin/python -m bench.pipeline``

For each concurrency it prints, from one run on one machine:
- receiver: accepted events/s, POST p50/p99 (wrk), beside a bare FastAPI endpoint served the
  same way (the ceiling);
- POST-to-row latency p50/p99 (the event's timestamp to its row in PostgreSQL);
- storage's lag (events on the topic, counted by our own consumer, minus rows stored) over
  time, and how long it takes to reach 0 after the load stops.
References in the same run: raw confluent-kafka produce rate of the same payloads to the same
broker; raw batched inserts of the same rows into the same PostgreSQL.
Goals: lag back to 0 within 2 s after load stops; receiver >= 50% of the ceiling.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from dataclasses import dataclass

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from psycopg.types.json import Jsonb

from bench.harness import BenchServers, embedded_servers, hello_ceiling
from bench.wrk import LoadResult, post_load, require_wrk
from merchstore.common.domain_events import DomainEvent
from tests.support.processes import ServiceProcess, free_port

BODY = '{"user_id": "7", "metadata": {"sword_type": "katana", "price": "9.99"}}'
LEVELS = (1, 8, 32, 64)


class TopicCounter:
    """Counts every message on a topic with its own consumer (no watermarks involved)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.count = 0
        self._stop = threading.Event()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-counter"})
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.count += sum(1 for m in self._consumer.consume(1000, 0.1) if m.error() is None)
        self._consumer.close()

    def stop(self) -> None:
        """Stop counting."""
        self._stop.set()
        self._thread.join()


def stored_count(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def raw_produce_rate(bootstrap: str, topic: str, count: int) -> float:
    payloads = [
        DomainEvent.new("purchase_sword", "7", {"sword_type": "katana"}).to_json()
        for _ in range(count)
    ]
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5}
    )
    started = time.perf_counter()
    for payload in payloads:
        while True:
            try:
                producer.produce(topic, payload, key=b"7")
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(60)
    return count / (time.perf_counter() - started)


def raw_insert_rate(database_url: str, count: int) -> float:
    events = [
        DomainEvent.new("purchase_sword", "7", {"sword_type": "katana"}) for _ in range(count)
    ]
    with psycopg.connect(database_url) as connection:
        connection.execute("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        connection.commit()
        started = time.perf_counter()
        for start in range(0, count, 500):
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO raw_events (event_id, event_type, user_id, metadata, occurred_at,"
                    " kafka_partition, kafka_offset) VALUES (%s, %s, %s, %s, %s, 0, 0)"
                    " ON CONFLICT (event_id) DO NOTHING",
                    [
                        (
                            e.event_id,
                            e.event_type,
                            e.user_id,
                            Jsonb(e.metadata),
                            e.timestamp,
                        )
                        for e in events[start : start + 500]
                    ],
                )
            connection.commit()
        elapsed = time.perf_counter() - started
        connection.execute("DROP TABLE raw_events")
        connection.commit()
    return count / elapsed


def post_to_row_ms(database_url: str, since: float) -> tuple[float, float]:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY d) FROM ("
            " SELECT extract(epoch FROM stored_at - occurred_at) * 1000 AS d FROM events"
            " WHERE occurred_at >= to_timestamp(%s)) t",
            (since,),
        ).fetchone()
    assert row is not None
    return float(row[0] or 0), float(row[1] or 0)


@dataclass(frozen=True)
class LevelResult:
    """One concurrency level: receiver, ceiling, lag and end-to-end latency."""

    clients: int
    receiver: LoadResult
    ceiling: LoadResult
    row_p50_ms: float
    row_p99_ms: float
    lags: list[int]
    drain_s: float

    @property
    def ratio(self) -> float:
        """Receiver throughput over the hello-world ceiling."""
        return self.receiver.per_second / self.ceiling.per_second

    def row(self) -> str:
        """One line of the results table."""
        r, c = self.receiver, self.ceiling
        return (
            f"{self.clients:>7} | {r.per_second:>10,.0f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} | "
            f"{c.per_second:>8,.0f} {c.p50_ms:>7.1f} {c.p99_ms:>7.1f} | {self.ratio:>5.0%} | "
            f"{self.row_p50_ms:>7.1f} {self.row_p99_ms:>7.1f} | {max(self.lags, default=0):>7} "
            f"{self.drain_s:>8.2f} | {r.failed}"
        )


def measure_level(
    clients: int,
    seconds: int,
    *,
    receiver_url: str,
    ceiling_url: str,
    counter: TopicCounter,
    database_url: str,
) -> LevelResult:
    """Load the ceiling, then the receiver while sampling storage's lag; wait for it to drain."""
    ceiling = post_load(ceiling_url, BODY, clients, seconds)
    lags: list[int] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            lags.append(max(counter.count - stored_count(database_url), 0))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample)
    level_start = time.time()
    sampler.start()
    result = post_load(receiver_url, BODY, clients, seconds)
    load_end = time.perf_counter()
    sampling.set()
    sampler.join()
    # Drained when every event the topic holds (by our own count) is a row.
    expected = counter.count
    while stored_count(database_url) < expected or counter.count > expected:
        expected = counter.count
        time.sleep(0.02)
    drain = time.perf_counter() - load_end
    row_p50, row_p99 = post_to_row_ms(database_url, level_start)
    return LevelResult(clients, result, ceiling, row_p50, row_p99, lags, drain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="load duration per level")
    parser.add_argument("--raw-count", type=int, default=30_000)
    arguments = parser.parse_args()
    require_wrk()
    with embedded_servers("pipeline") as servers, hello_ceiling() as hello_url:
        measure_all(arguments, servers, hello_url)


def measure_all(arguments: argparse.Namespace, servers: BenchServers, hello_url: str) -> None:
    """Run the measurements of ``main`` on ``servers``."""
    work, bootstrap, database_url = servers.work, servers.bootstrap, servers.database_url
    started: list[ServiceProcess] = []
    try:
        ports = {"storage": free_port(), "receiver": free_port()}
        env = servers.service_env(
            MERCHSTORE_STORAGE__PORT=str(ports["storage"]),
            MERCHSTORE_RECEIVER__PORT=str(ports["receiver"]),
        )
        for name in ("storage", "receiver"):
            service = ServiceProcess(name, env, ports[name], work / f"{name}.out")
            started.append(service.start())
        receiver = started[1]
        counter = TopicCounter(bootstrap, "events", servers.settings.topics.events_partitions)

        print(f"cpus={os.cpu_count()}  load per level: {arguments.seconds:.0f} s, wrk -t1\n")
        header = (
            f"{'clients':>7} | {'receiver/s':>10} {'p50 ms':>7} {'p99 ms':>7} | "
            f"{'hello/s':>8} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5} | "
            f"{'row p50':>7} {'row p99':>7} | {'max lag':>7} {'to 0 (s)':>8} | failed"
        )
        print(header)
        print("-" * len(header))
        best_ratio, worst_drain = 0.0, 0.0
        for clients in LEVELS:
            level = measure_level(
                clients,
                arguments.seconds,
                receiver_url=f"{receiver.url}/purchase_a_sword",
                ceiling_url=f"{hello_url}/hello",
                counter=counter,
                database_url=database_url,
            )
            best_ratio = max(best_ratio, level.ratio)
            worst_drain = max(worst_drain, level.drain_s)
            print(level.row())
            samples = level.lags[:: max(1, len(level.lags) // 12)]
            print(f"{'':>7}   lag samples every 0.25 s: {samples}")
        counter.stop()

        stored = stored_count(database_url)
        print(f"\nrows stored: {stored:,}")
        produce = raw_produce_rate(bootstrap, "log-channel", arguments.raw_count)
        insert = raw_insert_rate(database_url, arguments.raw_count)
        print("\nreferences (same broker, same PostgreSQL)")
        print(f"  raw confluent-kafka produce (idempotent, acks=all)  {produce:>10,.0f} msg/s")
        print(f"  raw batched inserts, 500 per transaction            {insert:>10,.0f} rows/s")
        print("\ngoals")
        print(f"  receiver / hello ceiling, best level   {best_ratio:>6.0%}   (goal >= 50%)")
        print(f"  slowest lag drain after load stops      {worst_drain:>6.2f} s (goal <= 2 s)")
    finally:
        for service in started:
            service.stop()


if __name__ == "__main__":
    main()
