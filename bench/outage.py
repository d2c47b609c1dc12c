"""Benchmark of a long logging-service outage: store-api's latency, and what its lines became.

Run: ``make bench-outage`` (installs ``wrk``), or ``.venv/bin/python -m bench.outage``

store-api over db-service, shipping every request's line (INFO) through its spool to
logging-service. ``GET /products`` at 8 clients is measured with logging-service running (the
reference), then logging-service is stopped (SIGSTOP: it takes nothing and answers nothing) and
120,000 more requests are sent, then it is let go on (SIGCONT). Goal: the p99 during the outage
at most 10 times the p99 before it. Then every line is read back from ``log-channel``: each
answered request's line is there once, or counted as dropped by the documented bound (the
lines waiting keep their place; past ``log_shipping.queue_size`` new ones are dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import time

import httpx
from confluent_kafka import Consumer, TopicPartition

from bench.harness import embedded_servers
from bench.report import Goal, save
from bench.wrk import LoadResult, require_wrk, run_load
from tests.support.processes import ServiceProcess, free_port, free_port_pair

CLIENTS = 8


def main() -> None:
    """Measure and print the goal, and account for every line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=120_000, help="requests during the outage")
    parser.add_argument("--seconds", type=int, default=5, help="length of the reference load")
    arguments = parser.parse_args()
    require_wrk()
    with embedded_servers("outage") as servers:
        logging_port, db_port, api_port = free_port_pair(100), free_port_pair(100), free_port()
        env = servers.service_env(
            MERCHSTORE_LOG_LEVEL="INFO",  # every request's line, as the product logs it
            MERCHSTORE_LOGGING_SERVICE__PORT=str(logging_port),
            MERCHSTORE_DB_SERVICE__PORT=str(db_port),
            MERCHSTORE_STORE_API__PORT=str(api_port),
        )
        work = servers.work
        logging_service = ServiceProcess(
            "logging-service", env, logging_port, work / "logging.out", grpc=True
        )
        processes = [
            logging_service.start(),
            ServiceProcess("db-service", env, db_port, work / "db.out", grpc=True).start(),
        ]
        api = ServiceProcess("store-api", env, api_port, work / "store-api.out")
        processes.append(api.start())
        try:
            products = f"{api.url}/products"
            # Warm: caches, connections, the spool's pages (its lines are counted too).
            warm = run_load(products, CLIENTS, 2)
            before = run_load(products, CLIENTS, arguments.seconds)
            stopped = logging_service.process
            assert stopped is not None
            stopped.send_signal(signal.SIGSTOP)
            try:
                during = outage_load(products, arguments.requests)
            finally:
                stopped.send_signal(signal.SIGCONT)
            report(servers.bootstrap, api.url, before, [warm, *during])
        finally:
            for process in reversed(processes):
                process.stop()


def outage_load(url: str, requests: int) -> list[LoadResult]:
    """Turns of wrk, a few seconds each, until ``requests`` were answered."""
    turns: list[LoadResult] = []
    while sum(turn.requests for turn in turns) < requests:
        turns.append(run_load(url, CLIENTS, 5))
        sent = sum(turn.requests for turn in turns)
        print(f"  outage: {sent:,} requests, p99 of the last turn {turns[-1].p99_ms:.1f} ms")
    return turns


def report(bootstrap: str, api_url: str, before: LoadResult, others: list[LoadResult]) -> None:
    """The goal, and the account of every answered request's line (the warm-up's first)."""
    during = others[1:]
    print(f"cpus={os.cpu_count()}  GET /products, {CLIENTS} clients\n")
    worst = max(during, key=lambda turn: turn.p99_ms)
    goal = Goal.from_turns(
        "store-api GET /products p99 during a logging-service outage",
        [worst.p99_ms],
        "ms",
        "p99 with logging-service up",
        [before.p99_ms],
        "ratio<=:10",
        failed=before.failed + sum(turn.failed for turn in during),
    )
    answered = before.accepted + sum(turn.accepted for turn in others)
    dropped = dropped_lines(api_url)
    shipped = lines_on_log_channel(bootstrap, expected=answered - dropped)
    lost = max(answered - dropped - shipped, 0)
    print(
        f"p99 before {before.p99_ms:.1f} ms, "
        f"during (worst of {len(during)} turns) {worst.p99_ms:.1f} ms"
    )
    print(
        f"lines: {answered:,} requests answered, {shipped:,} on log-channel, "
        f"{dropped:,} dropped and counted, {lost:,} lost without a count"
    )
    save(
        "outage",
        [goal],
        [],
        [
            f"{answered:,} answered GET /products lines: {shipped:,} on log-channel once logging-"
            f"service was back, {dropped:,} dropped past the bound (counted in"
            f" log_shipping_dropped_lines_total), {lost:,} lost uncounted.",
            "A full spool or queue refuses a new line at the cost of a comparison; the lines"
            " already waiting keep their place.",
        ],
    )
    if lost:
        raise SystemExit(f"{lost} answered request(s) have no line and no count")


def dropped_lines(api_url: str) -> int:
    """store-api's own count of the lines it dropped (its /metrics)."""
    text = httpx.get(f"{api_url}/metrics", timeout=10).text
    found = re.search(r"^log_shipping_dropped_lines_total (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


def lines_on_log_channel(bootstrap: str, expected: int, settle_s: float = 10.0) -> int:
    """Distinct store-api ``GET /products`` requests on ``log-channel`` once nothing more comes.

    Each request's line has its own trace id; a line sent again after the outage counts once.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-outage"})
    consumer.assign([TopicPartition("log-channel", 0, 0)])
    traces: set[str] = set()
    last_new = started = time.monotonic()
    try:
        while time.monotonic() - started < 300:
            quiet_s = time.monotonic() - last_new
            if (len(traces) >= expected and quiet_s >= settle_s) or quiet_s >= 60:
                break  # everything came and nothing more does, or what is missing never will
            for message in consumer.consume(1000, 0.5):
                if message.error() is not None:
                    continue
                body = json.loads(message.value() or b"{}")
                line = str(body.get("message", ""))
                ours = body.get("service_name") == "store-api"
                if ours and line.startswith("GET /products 200") and body["trace_id"] not in traces:
                    traces.add(body["trace_id"])
                    last_new = time.monotonic()
    finally:
        consumer.close()
    return len(traces)


if __name__ == "__main__":
    main()
