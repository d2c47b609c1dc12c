"""Benchmark of centralised logging: stream throughput, and what shipping costs store-api.

Run: ``make bench-logging`` (installs ``wrk``), or ``.venv/bin/python -m bench.logging_service``

Each figure is the median of three runs, interleaved with its reference:
- log lines/s of one client stream through logging-service into the broker, until its
  summary (every line acknowledged by Kafka), in batches as merchstore's services ship them
  (``StreamLogBatches``) and one line per message (``StreamLogs``), beside a raw
  confluent-kafka producer turning the same lines into the same JSON and sending them to the
  same broker (encoding inside the timed span on both sides). Goal: >= 50%.
- ``GET /products`` req/s of store-api (with db-service) at INFO, where every request and every
  RPC is logged, with log shipping on and off; the lines logging-service published during the
  "on" runs are counted from its /metrics. Goal: on >= 90% of off, from five turns each (the
  ratio moves most between turns).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from functools import partial

import grpc
import httpx
from confluent_kafka import Producer

from bench.harness import BenchServers, embedded_servers
from bench.report import GOAL_REPEATS, Goal, interleaved, median_by, save
from bench.store_api import start_store
from bench.wrk import load_goal, require_wrk, run_load
from merchstore.common.kafka.clients import producer_config
from merchstore.common.logs.shipping import LINES_PER_BATCH
from merchstore.common.metrics import METRICS_PORT_OFFSET
from merchstore.logging_service.domain import log_channel_json
from merchstore.logging_service.main import publishing_producer_settings
from merchstore.protos import logging_pb2, logging_pb2_grpc
from merchstore.settings import Settings
from tests.support.processes import ServiceProcess, free_port


def sample_lines(count: int) -> list[logging_pb2.LogMessage]:
    """Lines shaped like store-api's request log."""
    return [
        logging_pb2.LogMessage(
            level=logging_pb2.INFO,
            service_name="store-api",
            message=f"GET /products/{i % 3 + 1} 200 3.1ms client=127.0.0.1",
            timestamp="2026-11-22T06:00:00.123Z",
            trace_id=f"{i:032x}",
            logger="merchstore.store_api.requests",
        )
        for i in range(count)
    ]


def stream_rate(port: int, lines: list[logging_pb2.LogMessage], batched: bool) -> float:
    """Lines/s of one stream, from its first line to its summary (all acknowledged)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = logging_pb2_grpc.LogCollectorStub(channel)
        started = time.perf_counter()
        if batched:
            batches = (
                logging_pb2.LogBatch(messages=lines[i : i + LINES_PER_BATCH])
                for i in range(0, len(lines), LINES_PER_BATCH)
            )
            summary = stub.StreamLogBatches(batches, timeout=600)
        else:
            summary = stub.StreamLogs(iter(lines), timeout=600)
        elapsed = time.perf_counter() - started
    assert summary.published == len(lines), summary
    return len(lines) / elapsed


def raw_producer_rate(settings: Settings, lines: list[logging_pb2.LogMessage]) -> float:
    """Lines/s of the ceiling: the same lines to the same JSON, produced as the product does.

    The product's producer settings (idempotent, acks=all, and logging-service's own
    ``linger.ms`` and ``batch.num.messages``: the batching that makes it fast), a delivery callback
    per line as logging-service has, and the lines taken in the product's batches with one
    poll per batch (a poll per line made this side slower than the product it bounds). What
    it leaves out is the product's own work: gRPC, validation, the spill and the summary.
    """
    acknowledged = 0

    def on_delivery(error: object, _message: object) -> None:
        nonlocal acknowledged
        if error is None:
            acknowledged += 1

    config = producer_config(
        settings, "bench-raw-producer", **publishing_producer_settings(settings)
    )
    producer = Producer(config)
    # Warm, as logging-service's producer is when a stream arrives: its connection, producer
    # id and topic metadata are there before the clock starts. Cold, their set-up dominated
    # the run (about 50,000 lines/s on the embedded broker, below the product it bounds).
    producer.produce("log-channel", log_channel_json(lines[0]))
    if producer.flush(30) != 0:
        raise SystemExit("the raw producer could not reach the broker in 30 s")
    started = time.perf_counter()
    for start in range(0, len(lines), LINES_PER_BATCH):
        for line in lines[start : start + LINES_PER_BATCH]:
            payload = log_channel_json(line)
            while True:
                try:
                    producer.produce("log-channel", payload, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.01)
        producer.poll(0)
    left = producer.flush(120)
    elapsed = time.perf_counter() - started
    assert left == 0 and acknowledged == len(lines), f"{acknowledged} of {len(lines)} acked"
    return len(lines) / elapsed


def published_lines(port: int) -> float:
    """log_lines_total{outcome="published"} of the logging-service on ``port``."""
    text = httpx.get(f"http://127.0.0.1:{port + METRICS_PORT_OFFSET}/metrics").text
    match = re.search(r'^log_lines_total\{outcome="published"\} ([\d.e+]+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=30_000)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    arguments = parser.parse_args()
    require_wrk()
    with embedded_servers("logging") as servers:
        measure(arguments, servers)


def measure(arguments: argparse.Namespace, servers: BenchServers) -> None:
    """Run the measurements of ``main`` on ``servers``."""
    work = servers.work
    processes: list[ServiceProcess] = []
    try:
        logging_port = free_port()
        env = servers.service_env(
            MERCHSTORE_LOGGING_SERVICE__PORT=str(logging_port), MERCHSTORE_LOG_LEVEL="INFO"
        )
        logging_service = ServiceProcess(
            "logging-service", env, logging_port, work / "logging-service.out", grpc=True
        )
        processes.append(logging_service.start())
        lines = sample_lines(arguments.lines)
        print(f"cpus={os.cpu_count()}  {arguments.lines:,} lines per run, medians of 3\n")
        rates = interleaved(
            {
                "batched": partial(stream_rate, logging_port, lines, True),
                "one per message": partial(stream_rate, logging_port, lines, False),
                "raw producer": partial(raw_producer_rate, servers.settings, lines),
            }
        )
        medians = {name: statistics.median(runs) for name, runs in rates.items()}
        print("log lines into the broker (lines/s)")
        for name, value in medians.items():
            print(f"  {name:<18} {value:>10,.0f}   runs: {[round(r) for r in rates[name]]}")

        shipping_on, on_url = start_store(work, "shipping-on", env, per_request=False, cache_s=1.0)
        shipping_off, off_url = start_store(
            work,
            "shipping-off",
            {**env, "MERCHSTORE_LOG_SHIPPING__ENABLED": "false"},
            per_request=False,
            cache_s=1.0,
        )
        processes += shipping_on + shipping_off
        before = published_lines(logging_port)
        loads = interleaved(
            {
                "on": partial(run_load, f"{on_url}/products", arguments.clients, arguments.seconds),
                "off": partial(
                    run_load, f"{off_url}/products", arguments.clients, arguments.seconds
                ),
            },
            GOAL_REPEATS,
        )
        time.sleep(6)  # the shipping client ends a stream at least every 5 s
        shipped = published_lines(logging_port) - before
        on = median_by(loads["on"], lambda r: r.per_second)
        off = median_by(loads["off"], lambda r: r.per_second)
        requests_on = sum(r.requests for r in loads["on"])
        print(f"\nGET /products at INFO, {arguments.clients} clients, {arguments.seconds} s")
        print(f"  shipping on   {on.per_second:>8,.0f} req/s  p50 {on.p50_ms:.1f} ms")
        print(f"  shipping off  {off.per_second:>8,.0f} req/s  p50 {off.p50_ms:.1f} ms")
        turns = ", ".join(
            f"{a.per_second:,.0f}/{b.per_second:,.0f}"
            for a, b in zip(loads["on"], loads["off"], strict=True)
        )
        print(f"  turns (on/off): {turns}")
        print(f"  lines shipped during the 'on' runs: {shipped:,.0f} for {requests_on:,} requests")
        save(
            "logging",
            [
                Goal.from_turns(
                    "logging-service, one stream, batched lines",
                    rates["batched"],
                    "lines/s",
                    "raw producer",
                    rates["raw producer"],
                    "ratio>=:0.5",
                ),
                Goal.from_turns(
                    "logging-service, one stream, one line per message",
                    rates["one per message"],
                    "lines/s",
                    "raw producer",
                    rates["raw producer"],
                    "report",
                ),
                load_goal(
                    "store-api GET /products at INFO, shipping on vs off",
                    loads["on"],
                    "shipping off",
                    loads["off"],
                    "ratio>=:0.9",
                ),
            ],
            [],
            [
                f"{shipped:,.0f} lines were shipped for {requests_on:,} requests in the"
                " 'on' runs (one request line per request; product reads from the cache"
                " make no RPC)."
            ],
        )
    finally:
        for process in processes:
            process.stop()


if __name__ == "__main__":
    main()
