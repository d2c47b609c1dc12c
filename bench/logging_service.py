"""Benchmark of centralised logging: stream throughput, and what shipping costs store-api.

Run: ``make bench-logging`` (installs ``wrk``), or ``.venv/bin/python -m bench.logging_service``

Prints, from one run on one machine:
- messages/s of one client stream of N log lines through logging-service into the broker
  (until the summary, i.e. every line acknowledged), beside a raw confluent-kafka producer
  sending the same JSON payloads straight to the same broker;
- ``GET /products`` req/s, p50, p99 of store-api (with db-service) with log shipping on
  (every request and every RPC logged to logging-service) and off.
Goals: >= 50% of the raw producer rate; >= 90% of the API throughput without shipping.
"""

from __future__ import annotations

import argparse
import os
import time

import grpc
from confluent_kafka import Producer

from bench.harness import BenchServers, embedded_servers
from bench.store_api import start_store
from bench.wrk import LoadResult, require_wrk, run_load
from merchstore.logging_service.domain import log_channel_json
from merchstore.protos import logging_pb2, logging_pb2_grpc
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


def stream_rate(port: int, lines: list[logging_pb2.LogMessage]) -> tuple[float, int]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        started = time.perf_counter()
        summary = logging_pb2_grpc.LogCollectorStub(channel).StreamLogs(iter(lines), timeout=600)
        elapsed = time.perf_counter() - started
    return len(lines) / elapsed, int(summary.published)


def raw_producer_rate(bootstrap: str, lines: list[logging_pb2.LogMessage]) -> float:
    payloads = [log_channel_json(line) for line in lines]
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5}
    )
    started = time.perf_counter()
    for payload in payloads:
        while True:
            try:
                producer.produce("log-channel", payload)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(120)
    return len(payloads) / (time.perf_counter() - started)


def _figures(result: LoadResult) -> str:
    return f"{result.per_second:>8,.0f} {result.p50_ms:>8.1f} {result.p99_ms:>8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--clients", type=int, default=32)
    arguments = parser.parse_args()
    require_wrk()
    with embedded_servers("logging") as servers:
        measure(arguments, servers)


def measure(arguments: argparse.Namespace, servers: BenchServers) -> None:
    """Run the measurements of ``main`` on ``servers``."""
    work, bootstrap = servers.work, servers.bootstrap
    processes: list[ServiceProcess] = []
    try:
        logging_port = free_port()
        env = servers.service_env(MERCHSTORE_LOGGING_SERVICE__PORT=str(logging_port))
        logging_service = ServiceProcess(
            "logging-service", env, logging_port, work / "logging-service.out", grpc=True
        )
        processes.append(logging_service.start())
        lines = sample_lines(arguments.lines)
        raw = raw_producer_rate(bootstrap, lines)
        streamed, published = stream_rate(logging_port, lines)
        print(f"cpus={os.cpu_count()}  {arguments.lines:,} lines\n")
        print("log lines into the broker (messages/s)")
        print(f"  through logging-service (one client stream)   {streamed:>10,.0f}")
        print(f"  raw confluent-kafka producer, same payloads    {raw:>10,.0f}")
        print(f"  ratio{'':<42}{streamed / raw:>10.0%}  (goal >= 50%)")
        print(f"  published per the summary: {published:,}\n")

        shipping_on, on_url = start_store(work, "shipping-on", env)
        shipping_off, off_url = start_store(
            work, "shipping-off", {**env, "MERCHSTORE_LOG_SHIPPING__ENABLED": "false"}
        )
        processes += shipping_on + shipping_off
        on = run_load(f"{on_url}/products", arguments.clients, arguments.seconds)
        off = run_load(f"{off_url}/products", arguments.clients, arguments.seconds)
        print(
            f"GET /products, {arguments.clients} clients, {arguments.seconds} s"
            "     req/s   p50 ms   p99 ms"
        )
        print(f"  log shipping on{'':<22}{_figures(on)}")
        print(f"  log shipping off{'':<21}{_figures(off)}")
        print(f"  on / off{'':<29}{on.per_second / off.per_second:>8.0%}  (goal >= 90%)")
    finally:
        for process in processes:
            process.stop()


if __name__ == "__main__":
    main()
