"""The same measurements on both brokers, side by side: the embedded broker and Apache Kafka.

Run: ``make bench-brokers`` (installs ``wrk``), or ``.venv/bin/python -m bench.brokers``

For each broker in turn, with a PostgreSQL of its own, each figure the median of three runs
interleaved with its reference:
- the receiver alone, ``POST /purchase_a_sword`` at 32 clients (wrk), beside a bare FastAPI
  endpoint (hello) measured in the same turns: five of them, after three of each not counted
  (the broker has just started, and a Java broker's first seconds under load go to compiling
  its hot code on the cores the receiver needs);
- the pipeline: the receiver with storage consuming, at 8 clients: events/s, and the p50 from
  an event's acceptance to its row in PostgreSQL;
- storage ingest: events already on the 3-partition topic stored per second (from the first
  row to the last), beside the raw reference: a bare confluent-kafka consumer reading the same
  topic and inserting the same rows in batches of 500, one transaction each, into a copy of
  storage's table with its indexes. Goal on Apache Kafka: at least 50% of the reference;
- event-logger ingest (messages/s into SQLite, over 200,000 messages: a few seconds of steady
  ingest), beside the slower of a bare consumer reading the same topic and batched inserts of
  the same rows into its SQLite table (as bench.event_logger);
- logging-service lines/s over its batched stream, beside a bare producer sending the same
  lines as log-channel JSON.

The receiver alone, event-logger ingest and logging-service have the goal of at least 50% of
their reference on both brokers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from psycopg.types.json import Jsonb

from bench.event_logger import WAIT_S, ingest_once, payloads, raw_consume_rate, raw_sqlite_rate
from bench.harness import BROKERS, BenchServers, hello_ceiling, servers_on
from bench.logging_service import raw_producer_rate, sample_lines, stream_rate
from bench.pipeline import BODY, StoredRun, load_with_storage, start
from bench.report import GOAL_REPEATS, Goal, interleaved, save
from bench.scale import preload
from bench.wrk import LoadResult, post_load, require_wrk
from merchstore.common.postgres import apply_migrations
from tests.support.kafka import produce_all
from tests.support.processes import ServiceProcess, free_port

RECEIVER_CLIENTS = 32
PIPELINE_CLIENTS = 8
WARM_UP_TURNS = 3
"""Turns not counted before the first figure on each broker. Measured on Apache Kafka just
started, the broker's JVM took 0.5 to 0.7 of a core in the first 10 s of the receiver's load,
compiling, and 0.15 after 30 s; the receiver's turns read 37-40% of hello, then 45-60%."""


def storage_ingest_rate(servers: BenchServers, topic: str, count: int) -> float:
    """A new storage consumer group storing the whole topic: rows/s from the first to the last."""
    with psycopg.connect(servers.database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE events")
        # Not waited for: a storage that is ready may have stored the whole topic by then
        # (on the embedded broker it did, and the rate read 0). The clock starts at its first row.
        service = start(
            "storage",
            servers,
            wait=False,
            MERCHSTORE_TOPICS__EVENTS=topic,
            MERCHSTORE_STORAGE__GROUP_ID=f"ingest-{uuid.uuid4()}",
        )
        try:
            first_at, first_count = None, 0
            deadline = time.monotonic() + WAIT_S
            while True:
                row = connection.execute("SELECT count(*) FROM events").fetchone()
                stored = int(row[0]) if row else 0
                now = time.perf_counter()
                if first_at is None and stored:
                    first_at, first_count = now, stored
                if stored >= count:
                    assert first_at is not None
                    if first_count >= count:
                        raise SystemExit("storage stored the whole topic before a first count")
                    return (count - first_count) / max(now - first_at, 1e-9)
                if time.monotonic() > deadline:
                    raise SystemExit(f"storage stored {stored:,} of {count:,} in {WAIT_S} s")
                time.sleep(0.01)
        finally:
            service.stop()


def raw_storage_rate(servers: BenchServers, topic: str, count: int) -> float:
    """A bare consumer and batched inserts of the same rows: the reference for storage ingest."""
    consumer = Consumer({"bootstrap.servers": servers.bootstrap, "group.id": f"raw-{uuid.uuid4()}"})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)])
    with psycopg.connect(servers.database_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS events_raw")
        connection.execute("CREATE TABLE events_raw (LIKE events INCLUDING ALL)")
        seen, first_count, started = 0, 0, 0.0
        deadline = time.monotonic() + WAIT_S
        while seen < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"the raw consumer stored {seen:,} of {count:,} in {WAIT_S} s")
            messages = [m for m in consumer.consume(500, 1.0) if m.error() is None]
            if not messages:
                continue
            rows = []
            for message in messages:
                body = json.loads(message.value() or b"")
                rows.append(
                    (
                        body["event_id"],
                        body["event_type"],
                        body["user_id"],
                        Jsonb(body["metadata"]),
                        body["timestamp"],
                        message.partition(),
                        message.offset(),
                    )
                )
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO events_raw (event_id, event_type, user_id, metadata,"
                    " occurred_at, kafka_partition, kafka_offset)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                    rows,
                )
            seen += len(messages)
            if not first_count:
                first_count, started = seen, time.perf_counter()
        elapsed = time.perf_counter() - started
    consumer.close()
    return (count - first_count) / max(elapsed, 1e-9)


@dataclass(frozen=True)
class Turns:
    """One figure's interleaved turns on one broker, its reference's, and what failed in them."""

    figures: list[float]
    references: list[float] | None
    failed: int = 0


def measure(
    broker: str, servers: BenchServers, hello: str, arguments: argparse.Namespace
) -> dict[str, Turns]:
    """Every figure on one broker, turn by turn: name -> its turns and its reference's."""
    seconds, count = arguments.seconds, arguments.events
    figures: dict[str, Turns] = {}

    alone = servers.with_topics(events=f"events-alone-{broker}")
    receiver = start("receiver", alone)
    try:
        runs = interleaved(
            {
                "receiver": partial(
                    post_load,
                    f"{receiver.url}/purchase_a_sword",
                    BODY,
                    RECEIVER_CLIENTS,
                    seconds,
                ),
                "hello": partial(post_load, hello, BODY, RECEIVER_CLIENTS, seconds),
            },
            # A goal between two processes sharing the cores with the broker and wrk: more
            # turns. The first figure on a broker just started: turns of warm-up first.
            GOAL_REPEATS,
            warm_up=WARM_UP_TURNS,
        )
    finally:
        receiver.stop()
    figures["receiver alone"] = Turns(
        [r.per_second for r in runs["receiver"]],
        [r.per_second for r in runs["hello"]],
        sum(r.failed for r in runs["receiver"] + runs["hello"]),
    )

    with psycopg.connect(servers.database_url) as connection:
        apply_migrations(connection, "merchstore.storage", "storage")
    processes: list[ServiceProcess] = [start("storage", servers)]
    try:
        receiver = start("receiver", servers)
        processes.append(receiver)
        stored: dict[str, list[Any]] = interleaved(
            {
                "system": load_with_storage(
                    f"{receiver.url}/purchase_a_sword",
                    PIPELINE_CLIENTS,
                    seconds,
                    servers.database_url,
                ),
                "hello": partial(post_load, hello, BODY, PIPELINE_CLIENTS, seconds),
            }
        )
    finally:
        for process in processes:
            process.stop()
    # The two sides return different types: each is named once taken out.
    systems: list[StoredRun] = stored["system"]
    hellos: list[LoadResult] = stored["hello"]
    figures["pipeline"] = Turns(
        [r.load.per_second for r in systems],
        [r.per_second for r in hellos],
        sum(r.load.failed for r in systems) + sum(r.failed for r in hellos),
    )
    figures["POST -> row p50 ms"] = Turns([r.row_p50_ms for r in systems], None)

    ingest = f"events-ingest-{broker}"
    servers.with_topics(events=ingest)
    preload(servers.bootstrap, ingest, count)
    rates = interleaved(
        {
            "storage": partial(storage_ingest_rate, servers, ingest, count),
            "raw": partial(raw_storage_rate, servers, ingest, count),
        }
    )
    figures["storage ingest"] = Turns(rates["storage"], rates["raw"])

    event_log = servers.with_topics(event_log=f"event-log-{broker}").settings.topics.event_log
    logged = arguments.log_messages
    values = payloads(logged)
    produce_all(servers.bootstrap, event_log, values)
    turns = iter(range(100))
    work = Path(servers.work)

    def event_logger_rate() -> float:
        return ingest_once(
            work / f"event-logger-{next(turns)}", servers.bootstrap, event_log, values
        )

    logger_rates: dict[str, list[float]] = interleaved(
        {
            "event-logger": event_logger_rate,
            "consume": partial(raw_consume_rate, servers.bootstrap, event_log, logged),
            "insert": lambda: raw_sqlite_rate(work / f"raw-{next(turns)}", values),
        }
    )
    figures["event-logger ingest"] = Turns(
        logger_rates["event-logger"],
        # Each turn's slower raw side: the ceiling of a consumer that also inserts.
        [min(pair) for pair in zip(logger_rates["consume"], logger_rates["insert"], strict=True)],
    )

    lines = sample_lines(count)
    port = free_port()
    logging_service = ServiceProcess(
        "logging-service",
        servers.service_env(MERCHSTORE_LOGGING_SERVICE__PORT=str(port)),
        port,
        work / "logging-service.out",
        grpc=True,
    ).start()
    try:
        line_rates = interleaved(
            {
                "service": partial(stream_rate, port, lines, True),
                "raw": partial(raw_producer_rate, servers.settings, lines),
            }
        )
    finally:
        logging_service.stop()
    figures["logging-service lines/s"] = Turns(line_rates["service"], line_rates["raw"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="load duration per run")
    parser.add_argument("--events", type=int, default=20_000, help="messages per ingest run")
    # As bench.event_logger: a few seconds of ingest. Over 20,000 messages (a third of a second)
    # the consumer's first fetches and the 25 ms between looks at its counts took a fifth of
    # the figure, more on Apache Kafka, whose first fetches come slower.
    parser.add_argument(
        "--log-messages", type=int, default=200_000, help="messages per event-logger run"
    )
    arguments = parser.parse_args()
    require_wrk()
    print(
        f"cpus={os.cpu_count()}  medians of 3 (5 for the receiver alone), each beside its "
        "reference in the same turns\n"
    )
    results: dict[str, dict[str, Turns]] = {}
    with hello_ceiling() as hello_url:
        for broker in BROKERS:
            with servers_on(broker, f"brokers-{broker}") as servers:
                results[broker] = measure(broker, servers, f"{hello_url}/hello", arguments)
    report(results)


REFERENCES = {
    "receiver alone": "hello",
    "pipeline": "hello",
    "POST -> row p50 ms": "",
    "storage ingest": "raw consume+insert",
    "event-logger ingest": "slower raw",
    "logging-service lines/s": "raw producer",
}
GOALS_ON_BOTH_BROKERS = ("receiver alone", "event-logger ingest", "logging-service lines/s")
HALF_OF_THE_REFERENCE = frozenset(
    {
        *((broker, name) for broker in BROKERS for name in GOALS_ON_BOTH_BROKERS),
        ("kafka", "storage ingest"),
    }
)
"""The figures whose goal is at least 50% of their reference; the others are reported."""


def report(results: dict[str, dict[str, Turns]]) -> None:
    """Print the side-by-side table and save the goals (medians, with each turn's spread)."""
    goals: dict[tuple[str, str], Goal] = {}
    for broker in BROKERS:
        for name, reference in REFERENCES.items():
            turns = results[broker][name]
            unit = "ms" if name.endswith("ms") else "per s"
            target = "ratio>=:0.5" if (broker, name) in HALF_OF_THE_REFERENCE else "report"
            goals[broker, name] = Goal.from_turns(
                f"{name} ({broker})",
                turns.figures,
                unit,
                reference,
                turns.references,
                target,
                turns.failed,
            )
    print(f"{'':<26}" + "".join(f"{b:>34}" for b in BROKERS))
    for name, reference in REFERENCES.items():
        cells = []
        for broker in BROKERS:
            goal = goals[broker, name]
            cells.append(
                f"{goal.figure:>12,.1f} vs {reference} {goal.reference:>8,.0f} ({goal.ratio:>4.0%})"
                if goal.reference and goal.ratio is not None
                else f"{goal.figure:>12,.1f}"
            )
        print(f"{name:<26}" + "".join(f"{cell:>34}" for cell in cells))
    for goal in goals.values():
        print(f"  {goal.path}: turns {goal.spread_text}, {goal.verdict}")
    save(
        "brokers",
        list(goals.values()),
        [],
        [
            "Each broker ran on this machine with the services, PostgreSQL and wrk on the same"
            " cores; the embedded broker keeps messages in memory only, Apache Kafka writes"
            " them to its log (one node, replication factor 1).",
        ],
    )


if __name__ == "__main__":
    main()
