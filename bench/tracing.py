"""Benchmark of what tracing costs the hot paths: receiver, ``GET /products``, storage ingest.

Run: ``make bench-tracing`` (installs ``wrk``), or ``.venv/bin/python -m bench.tracing``

Each path runs four ways at once, as separate processes on the same servers: tracing off (no
exporter: nothing recorded), on at the default ratio (5% of new traces, what ``merchstore up
--tracing`` and the Compose deployment record), at 10%, and on for every request (100%). Their
turns are interleaved in two phases, each with turns of tracing off of its own: off, 5% and 10%,
then off and 100% (a 100% turn's spans are exported and stored in the turns after it). "On" is
what ``up --tracing`` runs: every span exported to a real Zipkin from its pinned jar, on this
machine, one Zipkin for the 100% turns and one for the others (see ``main``). Goal: at the
default ratio each path keeps >= 90% of its throughput with tracing off; at 10% and 100% the
figures are reported.

- receiver: ``POST /purchase_a_sword`` from 32 wrk connections (a request, a publish, spans).
- ``GET /products``: store-api from 32 connections (its product cache on, as it runs).
- storage ingest: events written to storage's topic as fast as a producer can, each with a
  ``traceparent`` header whose sampled flag is what the receiver's sampler would have set; the
  figure is events per second from the first write to the last row stored.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any, TypeVar

import psycopg

from bench.harness import BenchServers, embedded_servers, stopped
from bench.report import Goal, interleaved, median_by, save
from bench.wrk import LoadResult, load_goal, post_load, require_wrk, run_load
from merchstore.common.config.sections import TracingSettings
from merchstore.common.messages import DomainEvent
from merchstore.runtime.apache_kafka import java_executable
from merchstore.runtime.trace_backend import (
    base_url,
    fetch_zipkin,
    service_environment,
    zipkin_command,
)
from merchstore.services import find_service
from tests.support.kafka import Headers, produce_messages
from tests.support.processes import ServiceProcess, free_port, http_ok, wait_until

CLIENTS = 32
BODY = '{"user_id": "7", "metadata": {"sword_type": "katana", "price": "9.99"}}'
DEFAULT_RATIO = TracingSettings().sample_ratio
DEFAULT = f"{DEFAULT_RATIO:.0%}"
WAYS = {"off": None, DEFAULT: DEFAULT_RATIO, "10%": 0.1, "100%": 1.0}
"""Each way tracing runs: its ratio of new traces recorded (None: no exporter at all)."""
TARGETS = {DEFAULT: "ratio>=:0.9", "10%": "report", "100%": "report"}
"""The goal at the default ratio; the others are reported as they come out."""
PHASES = ((DEFAULT, "10%"), ("100%",))
"""The ways whose turns go round together, phase after phase, each phase with tracing off."""
T = TypeVar("T")
SETTLE_S = 6.0
"""The pause before each turn. A turn's figure is taken when its load ends, but the spans it
made are exported by the SDK in the next 5 s (``OTEL_BSP_SCHEDULE_DELAY``), and Zipkin takes
them in after that: a 100% turn leaves thousands, whose export and storage would otherwise run
during the next way's turn (tracing off's, as the turns go round) and be counted against it."""


@contextmanager
def zipkin() -> Iterator[TracingSettings]:
    """Zipkin from its pinned jar on a free port, as `up --tracing` runs it; yields where."""
    settings = TracingSettings(backend_port=free_port())
    process = subprocess.Popen(
        zipkin_command(java_executable(), fetch_zipkin(), settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: http_ok(f"{base_url(settings)}/health"), 120, "Zipkin")
        yield settings
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:  # busy evicting spans, it may not hear SIGTERM
            process.kill()
            process.wait()


def tracing_env(backends: dict[str, TracingSettings], way: str) -> dict[str, str]:
    """What `up --tracing` gives a service of ``way`` (nothing at all for off)."""
    ratio = WAYS[way]
    if ratio is None:
        return {}
    return service_environment(backends[way].model_copy(update={"sample_ratio": ratio}))


def start(name: str, servers: BenchServers, way: str, **extra: str) -> ServiceProcess:
    """A service of one way on a port of its own, ready."""
    spec = find_service(name)
    port = free_port()
    env = servers.service_env(**{spec.port_setting: str(port)}, **extra)
    log = servers.work / f"{name}-{way.rstrip('%')}.out"
    return ServiceProcess(name, env, port, log, grpc=spec.protocol == "grpc").start()


def last_stored(connection: psycopg.Connection[tuple[int]]) -> int:
    """The ``seq`` of the last event stored, all ways together (0 before any).

    The end of an index: as cheap with a million rows as with none. Counting the rows instead,
    every 10 ms of a turn, scanned the whole table, which every turn makes longer: the waiting
    took more of the cores the measured ingest needs at each turn than at the last.
    """
    row = connection.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
    return int(row[0]) if row else 0


def stored_after(connection: psycopg.Connection[tuple[int]], seq: int) -> int:
    """How many events were stored after the one numbered ``seq``."""
    row = connection.execute("SELECT count(*) FROM events WHERE seq > %s", (seq,)).fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="load duration per turn")
    # Over 20,000 events (under two seconds) a turn read 65% to 110% of another.
    parser.add_argument("--events", type=int, default=40_000, help="events per ingest turn")
    parser.add_argument("--turns", type=int, default=7, help="interleaved turns")
    arguments = parser.parse_args()
    require_wrk()
    # A Zipkin for the 100% turns and one for the sampled ways (whose spans together stay under
    # its bound): once its in-memory store is full, Zipkin sorts what it keeps on every batch,
    # and the spans of the 100% turns would leave the others beside a backend busy with them.
    with (
        embedded_servers("tracing") as servers,
        zipkin() as sampled,
        zipkin() as everything,
    ):
        backends = {DEFAULT: sampled, "10%": sampled, "100%": everything}
        measure(servers, backends, arguments.seconds, arguments.events, arguments.turns)


def measure(
    servers: BenchServers,
    backends: dict[str, TracingSettings],
    seconds: int,
    events: int,
    turns: int,
) -> None:
    """Every path, every way, in interleaved turns; the goals saved beside the others.

    Only the processes of the path being measured run (the ways of it, at once): an idle
    consumer still polls its broker, and would take its share of the cores from the others.
    Each path is measured in two phases (`PHASES`), each with turns of tracing off of its own:
    the ways sampled at a low ratio (the default's among them), then the 100% way. A 100% turn
    makes thousands of spans that are exported and stored after the turn; in the same
    rounds, that work fell on the turns that came next, the default ratio's among them, and
    not on tracing off's before them. Each phase's turns come after one of each way not
    counted: Zipkin, a Java server just started, compiles its hot code in its first seconds.
    """
    print(
        f"cpus={os.cpu_count()}  {seconds} s per load turn, {events:,} events per ingest turn,"
        f" {turns} turns interleaved per phase, wrk -t1 -c{CLIENTS}\n"
    )
    goals: list[Goal] = []
    with ExitStack() as running:
        receivers = {
            way: running.enter_context(
                stopped(start("receiver", servers, way, **tracing_env(backends, way)))
            )
            for way in WAYS
        }
        runs = {
            way: partial(post_load, f"{p.url}/purchase_a_sword", BODY, CLIENTS, seconds)
            for way, p in receivers.items()
        }
        goals += _load_goals("receiver, 32 clients", "events/s", in_phases(runs, turns))
    with ExitStack() as running:
        stores = {}
        for way in WAYS:
            env = tracing_env(backends, way)
            db = running.enter_context(stopped(start("db-service", servers, way, **env)))
            target = f"127.0.0.1:{db.port}"
            stores[way] = running.enter_context(
                stopped(
                    start(
                        "store-api",
                        servers,
                        way,
                        MERCHSTORE_STORE_API__DB_SERVICE_TARGET=target,
                        **env,
                    )
                )
            )
        runs = {
            way: partial(run_load, f"{p.url}/products", CLIENTS, seconds)
            for way, p in stores.items()
        }
        goals += _load_goals("GET /products, 32 clients", "req/s", in_phases(runs, turns))
    with ExitStack() as running:
        ingest_runs = {}
        for way, ratio in WAYS.items():
            tag = way.rstrip("%")
            topic = f"events-tracing-{tag}"
            servers.with_topics(events=topic)
            running.enter_context(
                stopped(
                    start(
                        "storage",
                        servers,
                        way,
                        MERCHSTORE_TOPICS__EVENTS=topic,
                        MERCHSTORE_STORAGE__GROUP_ID=f"storage-{tag}",
                        **tracing_env(backends, way),
                    )
                )
            )
            ingest_runs[way] = ingest_turn(servers, topic, ratio or 0.0, events)
        rates = in_phases(ingest_runs, turns)
        _report("storage ingest", rates, lambda r: r)
        for way, target in TARGETS.items():
            turns_on, turns_off = rates[way]
            goals.append(
                Goal.from_turns(
                    f"storage ingest, tracing at {way} vs off",
                    turns_on,
                    "events/s",
                    "tracing off",
                    turns_off,
                    target,
                )
            )
    save(
        "tracing",
        goals,
        [],
        [
            "Tracing on: every span exported to Zipkin (in memory) on this machine, as"
            " `merchstore up --tracing` runs it; Zipkin shares the cores with the services.",
            "The ways of a path run as separate processes at once; only the one measured"
            " is loaded, and only that path's processes run.",
            "Each way is beside the tracing-off turns of its own phase, the phases one after"
            " the other: " + "; ".join(", ".join(("off", *phase)) for phase in PHASES) + ".",
        ],
    )


def in_phases(
    runs: Mapping[str, Callable[[], T]], turns: int
) -> dict[str, tuple[list[T], list[T]]]:
    """Each way's turns and the tracing-off turns of its phase: ``{way: (its, off's)}``."""
    results: dict[str, tuple[list[T], list[T]]] = {}
    for phase in PHASES:
        ways = {way: runs[way] for way in ("off", *phase)}
        measured = interleaved(ways, turns, warm_up=1, settle_s=SETTLE_S)
        results.update({way: (measured[way], measured["off"]) for way in phase})
    return results


def _load_goals(
    path: str, unit: str, results: dict[str, tuple[list[LoadResult], list[LoadResult]]]
) -> list[Goal]:
    _report(path, results, lambda r: r.per_second)
    return [
        load_goal(
            f"{path}, tracing at {way} vs off",
            results[way][0],
            "tracing off",
            results[way][1],
            target,
            unit,
        )
        for way, target in TARGETS.items()
    ]


def _report(
    path: str, results: dict[str, tuple[list[Any], list[Any]]], figure: Callable[[Any], float]
) -> None:
    for way, (turns, off_turns) in results.items():
        median = figure(median_by(turns, figure))
        off = figure(median_by(off_turns, figure))
        print(
            f"{path:<28} tracing {way:>4}: {median:>9,.0f}/s  ({median / off:.1%} of off:"
            f" {off:,.0f}/s in its phase)"
        )


def ingest_turn(servers: BenchServers, topic: str, ratio: float, count: int) -> Callable[[], float]:
    """A turn of storage ingest on ``topic``: events per second, first write to last row."""

    def turn() -> float:
        messages: list[tuple[bytes, Headers | None]] = []
        for _ in range(count):
            flags = "01" if random.random() < ratio else "00"
            traceparent = f"00-{random.getrandbits(128):032x}-{random.getrandbits(64):016x}-{flags}"
            headers: Headers = [("traceparent", traceparent.encode())]
            messages.append((DomainEvent.new("purchase_sword", "7").to_json(), headers))
        with psycopg.connect(servers.database_url, autocommit=True) as connection:
            before = last_stored(connection)
            started = time.perf_counter()
            produce_messages(servers.bootstrap, topic, messages)
            while True:
                # One storage stores one batch at a time, so its rows are numbered in order:
                # the last number says when all may be there, and a count says they are (a
                # number taken by a transaction that was retried leaves a gap).
                if last_stored(connection) >= before + count:
                    ended = time.perf_counter()
                    if stored_after(connection, before) >= count:
                        return count / (ended - started)
                if time.perf_counter() - started > 300:
                    raise SystemExit(f"storage did not store {count} events on {topic} in 300 s")
                time.sleep(0.01)

    return turn


if __name__ == "__main__":
    main()
