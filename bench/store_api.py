"""Benchmark of the store: store-api + db-service + PostgreSQL, pooled vs. per-request connections.

Run: ``make bench-store`` (installs ``wrk``), or ``.venv/bin/python -m bench.store_api``

Prints req/s, p50 and p99 for ``GET /products``, ``GET /products/{id}`` and ``POST /orders``
at 1, 8 and 32 clients, for three setups measured in the same run on the same machine:
- pooled: store-api -> db-service with its connection pool (the product);
- per-request: the same path, db-service opening a new PostgreSQL connection per request
  (``db_service.per_request_connections``), the design the pool exists to replace;
- ceiling: a bare FastAPI endpoint served the same way.
Goal: pooled >= 3x per-request on ``GET /products`` at 32 clients.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import httpx
import psycopg

from bench.harness import BenchServers, embedded_servers, hello_ceiling
from bench.wrk import LoadResult, require_wrk, run_load
from tests.support.processes import ServiceProcess, free_port

LEVELS = (1, 8, 32)


def start_store(
    work: Path, name: str, env: dict[str, str], per_request: bool = False
) -> tuple[list[ServiceProcess], str]:
    """db-service and store-api on their own ports; return them and store-api's URL."""
    ports = {"db": free_port(), "api": free_port()}
    env = {
        **env,
        "MERCHSTORE_DB_SERVICE__PORT": str(ports["db"]),
        "MERCHSTORE_STORE_API__PORT": str(ports["api"]),
        "MERCHSTORE_DB_SERVICE__PER_REQUEST_CONNECTIONS": str(per_request).lower(),
    }
    db = ServiceProcess("db-service", env, ports["db"], work / f"{name}-db.out", grpc=True)
    api = ServiceProcess("store-api", env, ports["api"], work / f"{name}-api.out")
    return [db.start(), api.start()], api.url


def token_for(store_url: str) -> str:
    """Register a benchmark user and log in."""
    body = {
        "sid": "B0000001",
        "username": "bench",
        "email": "bench@example.com",
        "password": "bench-password",
    }
    httpx.post(f"{store_url}/users/register", json=body, timeout=30)
    answer = httpx.post(
        f"{store_url}/users/login",
        json={"username": "bench", "password": "bench-password"},
        timeout=30,
    )
    return str(answer.json()["access_token"])


def measure(
    url: str, clients: int, seconds: int, token: str | None = None, post: bool = False
) -> LoadResult:
    """One wrk run."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    if post:
        return run_load(
            url,
            clients,
            seconds,
            method="POST",
            body='{"product_id": 3, "quantity": 1}',
            headers=headers,
        )
    return run_load(url, clients, seconds, headers=headers)


def _figures(result: LoadResult, width: int) -> str:
    return f"{result.per_second:>{width},.0f} {result.p50_ms:>6.1f} {result.p99_ms:>6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="load duration per measurement")
    arguments = parser.parse_args()
    require_wrk()
    with embedded_servers("store") as servers, hello_ceiling() as hello_url:
        measure_all(arguments, servers, hello_url)


def measure_all(arguments: argparse.Namespace, servers: BenchServers, hello_url: str) -> None:
    """Run the measurements of ``main`` on ``servers``."""
    work, database_url = servers.work, servers.database_url
    env = servers.service_env()
    processes: list[ServiceProcess] = []
    try:
        pooled, pooled_url = start_store(work, "pooled", env, per_request=False)
        per_request, per_request_url = start_store(work, "per-request", env, per_request=True)
        processes += pooled + per_request
        with psycopg.connect(database_url) as connection:
            # Enough stock that POST /orders measures the write path, not "sold out".
            connection.execute("UPDATE products SET stock = 100000000")
        tokens = {pooled_url: token_for(pooled_url), per_request_url: token_for(per_request_url)}
        print(f"cpus={os.cpu_count()}  {arguments.seconds} s per measurement, wrk -t1\n")
        print(
            f"{'path':<18} {'clients':>7} | {'pooled/s':>9} {'p50':>6} {'p99':>6} | "
            f"{'per-req/s':>9} {'p50':>6} {'p99':>6} | {'ratio':>5} | "
            f"{'hello/s':>8} {'p50':>6} {'p99':>6}"
        )
        print("-" * 110)
        goal_ratio = 0.0
        for label, path, post in (
            ("GET /products", "/products", False),
            ("GET /products/1", "/products/1", False),
            ("POST /orders", "/orders", True),
        ):
            for clients in LEVELS:
                a = measure(
                    f"{pooled_url}{path}",
                    clients,
                    arguments.seconds,
                    tokens[pooled_url] if post else None,
                    post,
                )
                b = measure(
                    f"{per_request_url}{path}",
                    clients,
                    arguments.seconds,
                    tokens[per_request_url] if post else None,
                    post,
                )
                c = measure(f"{hello_url}/hello", clients, arguments.seconds)
                ratio = a.per_second / b.per_second
                if path == "/products" and clients == 32:
                    goal_ratio = ratio
                failures = f"   failed: {a.failed}/{b.failed}" if a.failed or b.failed else ""
                print(
                    f"{label:<18} {clients:>7} | {_figures(a, 9)} | {_figures(b, 9)} | "
                    f"{ratio:>4.1f}x | {_figures(c, 8)}{failures}"
                )
        print(
            f"\ngoal: pooled / per-request on GET /products at 32 clients = {goal_ratio:.1f}x"
            " (>= 3x)"
        )
    finally:
        for process in processes:
            process.stop()


if __name__ == "__main__":
    main()
