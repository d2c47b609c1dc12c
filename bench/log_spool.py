"""Benchmark of the log spool: store-api answering with its lines kept on disk, and without.

Run: ``make bench-spool`` (installs ``wrk``), or ``.venv/bin/python -m bench.log_spool``

Two store-apis over one db-service, both shipping every request's line to one logging-service;
one keeps each line in its spool until logging-service acknowledges it (the default), the other
in memory only (``MERCHSTORE_LOG_SHIPPING__SPOOL=false``). ``GET /products`` (cached) and
``POST /orders`` at 8 and 32 clients, each measured three times, interleaved, medians.
Goal: with the spool, at least 90% of the requests per second without it.
"""

from __future__ import annotations

import argparse
import os
from functools import partial
from typing import Any

import psycopg

from bench.harness import embedded_servers
from bench.report import Curve, Goal, client_levels, interleaved, median_by, save
from bench.store_api import ORDER_BODY, login
from bench.wrk import LoadResult, load_goal, require_wrk, run_load
from tests.support.processes import ServiceProcess, free_port, free_port_pair

LEVELS = (8, 32)


def main() -> None:
    """Measure and print the goals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=3, help="load duration per measurement")
    arguments = parser.parse_args()
    require_wrk()
    with embedded_servers("spool") as servers:
        logging_port, db_port = free_port_pair(100), free_port_pair(100)
        env = servers.service_env(
            MERCHSTORE_LOG_LEVEL="INFO",  # every request's line, as the product logs it
            MERCHSTORE_LOGGING_SERVICE__PORT=str(logging_port),
            MERCHSTORE_DB_SERVICE__PORT=str(db_port),
        )
        work = servers.work
        processes = [
            ServiceProcess(
                "logging-service", env, logging_port, work / "logging.out", grpc=True
            ).start(),
            ServiceProcess("db-service", env, db_port, work / "db.out", grpc=True).start(),
        ]
        urls = {}
        try:
            for name, spool in (("spool", "true"), ("memory", "false")):
                port = free_port()
                api_env = {
                    **env,
                    "MERCHSTORE_STORE_API__PORT": str(port),
                    "MERCHSTORE_LOG_SHIPPING__SPOOL": spool,
                }
                api = ServiceProcess("store-api", api_env, port, work / f"{name}.out")
                processes.append(api.start())
                urls[name] = api.url
            with psycopg.connect(servers.database_url) as connection:
                connection.execute("UPDATE products SET stock = 100000000")
            _, token = login(urls["spool"])
            measure(arguments.seconds, urls, {"Authorization": f"Bearer {token}"})
        finally:
            for process in reversed(processes):
                process.stop()


def measure(seconds: int, urls: dict[str, str], auth: dict[str, str]) -> None:
    """Both store-apis on each path and level; save and print the goals."""
    print(f"cpus={os.cpu_count()}  {seconds} s per measurement, wrk -t1, medians of 3\n")
    goals: list[Goal] = []
    curves: list[Curve] = []
    loads: list[tuple[str, str, dict[str, Any]]] = [
        ("GET /products", "/products", {}),
        ("POST /orders", "/orders", {"method": "POST", "body": ORDER_BODY, "headers": auth}),
    ]
    for label, path, options in loads:
        curve = Curve(label, "req/s")
        for clients in client_levels(LEVELS, LEVELS[-1]):
            runs: dict[str, list[LoadResult]] = interleaved(
                {
                    name: partial(run_load, f"{url}{path}", clients, seconds, **options)
                    for name, url in urls.items()
                }
            )
            medians = {n: median_by(r, lambda x: x.per_second) for n, r in runs.items()}
            print(
                f"{label:<14} {clients:>3} | "
                + " | ".join(
                    f"{n} {m.per_second:>7,.0f}/s p50 {m.p50_ms:>5.1f} ms"
                    for n, m in medians.items()
                )
            )
            curve.add(clients, **{n: m.per_second for n, m in medians.items()})
            if clients == LEVELS[-1]:
                goals.append(
                    load_goal(
                        f"store-api {label} with the log spool, {clients} clients",
                        runs["spool"],
                        "memory only",
                        runs["memory"],
                        "ratio>=:0.9",
                    )
                )
        curves.append(curve)
    save(
        "log_spool",
        goals,
        curves,
        [
            "Each log line is copied into a memory-mapped spool file (no system call, no"
            " fsync); the spool is compacted when half full."
        ],
    )


if __name__ == "__main__":
    main()
