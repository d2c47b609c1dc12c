"""Benchmark of the game-events pipeline: receiver throughput and POST-to-row latency.

Run: ``make bench-pipeline`` (installs ``wrk``), or ``.venv/bin/python -m bench.pipeline``

At 1, 8, 32 and 64 clients (wrk, one thread), each measured three times, interleaved with its
reference, medians reported:
- the receiver alone (nothing consumes ``events``) beside a bare FastAPI endpoint served the
  same way (hello), the same body posted to both. Goal: >= 50% of hello at 32 clients, where
  each side takes five turns instead of three (the ratio moves most between turns).
- the real system: the receiver with storage consuming ``events`` into PostgreSQL, beside
  hello measured in the same turn. Reported as it comes out.
- POST-to-row latency with storage consuming: from each event's timestamp (set when the
  receiver accepted it) to its row's ``stored_at``. Goal: p50 <= 20 ms at 8 clients.
- after each load with storage, how long until every accepted event is a row.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import psycopg

from bench.harness import BenchServers, embedded_servers, hello_ceiling
from bench.report import (
    GOAL_REPEATS,
    REPEATS,
    Curve,
    Goal,
    client_levels,
    interleaved,
    median_by,
    save,
)
from bench.wrk import LoadResult, load_goal, post_load, require_wrk
from merchstore.services import find_service
from tests.support.processes import ServiceProcess, free_port

BODY = '{"user_id": "7", "metadata": {"sword_type": "katana", "price": "9.99"}}'
LEVELS = (1, 8, 32, 64)
GOAL_CLIENTS = 32


def stored_count(connection: psycopg.Connection[tuple[int]]) -> int:
    """Rows in ``events``."""
    row = connection.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def post_to_row_ms(database_url: str, since: float) -> tuple[float, float, int]:
    """p50 and p99 from an event's timestamp to its row, for events since ``since``."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY d), count(*) FROM ("
            " SELECT extract(epoch FROM stored_at - occurred_at) * 1000 AS d FROM events"
            " WHERE occurred_at >= to_timestamp(%s)) t",
            (since,),
        ).fetchone()
    assert row is not None
    return float(row[0] or 0), float(row[1] or 0), int(row[2])


@dataclass(frozen=True)
class StoredRun:
    """One load on the real system: the receiver's figures and what storage made of them."""

    load: LoadResult
    row_p50_ms: float
    row_p99_ms: float
    drain_s: float


def load_with_storage(
    url: str, clients: int, seconds: int, database_url: str
) -> Callable[[], StoredRun]:
    """A run that loads the receiver, then waits until storage holds every accepted event."""

    def run() -> StoredRun:
        with psycopg.connect(database_url, autocommit=True) as connection:
            before = stored_count(connection)
            since = time.time()
            load = post_load(url, BODY, clients, seconds)
            ended = time.perf_counter()
            # wrk's count of 2xx answers is what the receiver acknowledged: each one a row.
            while stored_count(connection) < before + load.accepted:
                if time.perf_counter() - ended > 60:
                    raise SystemExit("storage did not store every accepted event in 60 s")
                time.sleep(0.01)
            drain = time.perf_counter() - ended
        p50, p99, _ = post_to_row_ms(database_url, since)
        return StoredRun(load, p50, p99, drain)

    return run


def start(name: str, servers: BenchServers, *, wait: bool = True, **extra: str) -> ServiceProcess:
    """A service of this run on a port of its own (ready, unless ``wait`` is false)."""
    port = free_port()
    env = servers.service_env(**{find_service(name).port_setting: str(port)}, **extra)
    return ServiceProcess(name, env, port, servers.work / f"{name}.out").start(wait=wait)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="load duration per run")
    arguments = parser.parse_args()
    require_wrk()
    with embedded_servers("pipeline") as servers, hello_ceiling() as hello_url:
        measure_all(arguments.seconds, servers, hello_url)


def measure_all(seconds: int, servers: BenchServers, hello_url: str) -> None:
    """Run the measurements of ``main`` on ``servers``."""
    hello = f"{hello_url}/hello"
    goals: list[Goal] = []
    alone = Curve("receiver alone", "events/s")
    with_storage = Curve("receiver with storage consuming", "events/s")
    print(f"cpus={os.cpu_count()}  {seconds} s per run, wrk -t1, medians of 3 (5 for the goal)\n")

    # Alone, the receiver publishes to a topic of its own: storage, started later, must not
    # find these events waiting on `events`.
    alone_topic = "events-receiver-alone"
    servers.with_topics(events=alone_topic)
    receiver = start("receiver", servers, MERCHSTORE_TOPICS__EVENTS=alone_topic)
    try:
        for clients in client_levels(LEVELS, GOAL_CLIENTS):
            runs = interleaved(
                {
                    "receiver": partial(
                        post_load, f"{receiver.url}/purchase_a_sword", BODY, clients, seconds
                    ),
                    "hello": partial(post_load, hello, BODY, clients, seconds),
                },
                GOAL_REPEATS if clients == GOAL_CLIENTS else REPEATS,
            )
            r = median_by(runs["receiver"], lambda x: x.per_second)
            h = median_by(runs["hello"], lambda x: x.per_second)
            alone.add(clients, receiver=r.per_second, hello=h.per_second)
            print(
                f"alone         {clients:>3} clients | receiver {r.per_second:>7,.0f}/s"
                f" p50 {r.p50_ms:>5.1f} ms (failed {r.failed}) | hello {h.per_second:>7,.0f}/s"
                f" | {r.per_second / h.per_second:>4.0%}"
            )
            if clients == GOAL_CLIENTS:
                turns = ", ".join(
                    f"{a.per_second:,.0f}/{b.per_second:,.0f}"
                    for a, b in zip(runs["receiver"], runs["hello"], strict=True)
                )
                print(f"              turns (receiver/hello): {turns}")
                goals.append(
                    load_goal(
                        "receiver alone, 32 clients",
                        runs["receiver"],
                        "hello",
                        runs["hello"],
                        "ratio>=:0.5",
                        unit="events/s",
                    )
                )
    finally:
        receiver.stop()

    storage = start("storage", servers)
    receiver = start("receiver", servers)
    try:
        for clients in client_levels(LEVELS, GOAL_CLIENTS):
            stored_runs: dict[str, list[Any]] = interleaved(
                {
                    "system": load_with_storage(
                        f"{receiver.url}/purchase_a_sword",
                        clients,
                        seconds,
                        servers.database_url,
                    ),
                    "hello": partial(post_load, hello, BODY, clients, seconds),
                }
            )
            # The two sides return different types: each is named once taken out.
            system: StoredRun = median_by(stored_runs["system"], lambda x: x.load.per_second)
            hello_run: LoadResult = median_by(stored_runs["hello"], lambda x: x.per_second)
            latency: StoredRun = median_by(stored_runs["system"], lambda x: x.row_p50_ms)
            with_storage.add(clients, receiver=system.load.per_second, hello=hello_run.per_second)
            print(
                f"with storage  {clients:>3} clients | receiver {system.load.per_second:>7,.0f}/s"
                f" | hello {hello_run.per_second:>7,.0f}/s"
                f" | {system.load.per_second / hello_run.per_second:>4.0%}"
                f" | POST->row p50 {latency.row_p50_ms:>6.1f} ms p99 {latency.row_p99_ms:>6.1f} ms"
                f" | all stored {system.drain_s:.2f} s after the load"
            )
            if clients == 32:
                goals.append(
                    load_goal(
                        "receiver with storage consuming, 32 clients",
                        [run.load for run in stored_runs["system"]],
                        "hello",
                        stored_runs["hello"],
                        "report",
                        unit="events/s",
                    )
                )
            if clients == 8:
                goals.append(
                    Goal.from_turns(
                        "POST -> row in PostgreSQL p50, 8 clients",
                        [run.row_p50_ms for run in stored_runs["system"]],
                        "ms",
                        "",
                        None,
                        "<=:20",
                        failed=sum(run.load.failed for run in stored_runs["system"]),
                    )
                )
    finally:
        receiver.stop()
        storage.stop()
    save(
        "pipeline",
        goals,
        [alone, with_storage],
        [
            "With storage consuming, the receiver, storage, PostgreSQL, the broker and wrk share"
            " the same cores; hello runs in the same turn with storage idle.",
            "POST -> row latency is bounded below by storage.fetch_wait_max_ms (20 ms by"
            " default) on the embedded broker, which answers a waiting fetch only then.",
        ],
    )


if __name__ == "__main__":
    main()
