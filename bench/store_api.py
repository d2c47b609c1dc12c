"""Benchmark of the store: store-api + db-service + PostgreSQL against its references.

Run: ``make bench-store`` (installs ``wrk``), or ``.venv/bin/python -m bench.store_api``

At 1, 8 and 32 clients (wrk, one thread), each measured three times, interleaved, medians:
- ``GET /products`` and ``GET /products/1`` as the product runs (product cache on), beside a
  bare FastAPI endpoint served the same way (hello). Goal: >= 50% of hello at 32 clients.
- the same two paths with the cache off on both sides: db-service with its connection pool
  against db-service opening a new PostgreSQL connection per request. Goal: >= 3x at 32.
- ``POST /orders`` beside the same transaction (take stock, insert the order, insert its
  outbox row, commit) run directly with psycopg from as many threads, each with a connection.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.harness import BenchServers, embedded_servers, hello_ceiling
from bench.report import Curve, Goal, client_levels, interleaved, median_by, save
from bench.wrk import LoadResult, load_goal, require_wrk, run_load
from merchstore.common.messages import DomainEvent
from tests.support.processes import ServiceProcess, free_port

LEVELS = (1, 8, 32)
ORDER_BODY = '{"product_id": 3, "quantity": 1}'


def start_store(
    work: Path, name: str, env: dict[str, str], *, per_request: bool, cache_s: float
) -> tuple[list[ServiceProcess], str]:
    """db-service and store-api on their own ports; return them and store-api's URL."""
    ports = {"db": free_port(), "api": free_port()}
    env = {
        **env,
        "MERCHSTORE_DB_SERVICE__PORT": str(ports["db"]),
        "MERCHSTORE_STORE_API__PORT": str(ports["api"]),
        "MERCHSTORE_DB_SERVICE__PER_REQUEST_CONNECTIONS": str(per_request).lower(),
        "MERCHSTORE_STORE_API__PRODUCT_CACHE_S": str(cache_s),
    }
    db = ServiceProcess("db-service", env, ports["db"], work / f"{name}-db.out", grpc=True)
    api = ServiceProcess("store-api", env, ports["api"], work / f"{name}-api.out")
    return [db.start(), api.start()], api.url


def login(store_url: str) -> tuple[int, str]:
    """Register the benchmark user (once) and log in: its id and a token."""
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
    token = str(answer.json()["access_token"])
    me = httpx.get(f"{store_url}/orders", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    import jwt  # the token names the user; reading it needs no secret

    return int(jwt.decode(token, options={"verify_signature": False})["sub"]), token


def direct_orders(database_url: str, user_id: int, clients: int, seconds: float) -> float:
    """Orders per second placing db-service's transaction directly, one connection per thread."""
    placed = [0] * clients
    deadline = time.perf_counter() + seconds

    def place(slot: int) -> None:
        with psycopg.connect(database_url) as connection:
            while time.perf_counter() < deadline:
                with connection.transaction():
                    price = connection.execute(
                        "UPDATE products SET stock = stock - 1 WHERE id = 3 AND stock >= 1"
                        " RETURNING price"
                    ).fetchone()
                    assert price is not None
                    order = connection.execute(
                        "INSERT INTO orders (user_id, product_id, quantity, total_price)"
                        " VALUES (%s, 3, 1, %s) RETURNING id, created_at",
                        (user_id, price[0]),
                    ).fetchone()
                    assert order is not None
                    event = DomainEvent.new("order_placed", str(user_id), {"order_id": order[0]})
                    connection.execute(
                        "INSERT INTO outbox (event_id, message_key, payload) VALUES (%s, %s, %s)",
                        (event.event_id, event.user_id, event.to_json().decode()),
                    )
                placed[slot] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=place, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(placed) / (time.perf_counter() - started)


def _row(label: str, clients: int, figures: dict[str, LoadResult]) -> str:
    cells = " | ".join(
        f"{name} {result.per_second:>7,.0f}/s p50 {result.p50_ms:>5.1f} ms"
        for name, result in figures.items()
    )
    return f"{label:<16} {clients:>3} | {cells}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="load duration per measurement")
    arguments = parser.parse_args()
    require_wrk()
    with embedded_servers("store") as servers, hello_ceiling() as hello_url:
        measure_all(arguments.seconds, servers, hello_url)


def measure_all(seconds: int, servers: BenchServers, hello_url: str) -> None:
    """Run the measurements of ``main`` on ``servers``."""
    work, database_url = servers.work, servers.database_url
    env = servers.service_env()
    processes: list[ServiceProcess] = []
    try:
        cached, cached_url = start_store(work, "cached", env, per_request=False, cache_s=1.0)
        pooled, pooled_url = start_store(work, "pooled", env, per_request=False, cache_s=0)
        per_request, per_request_url = start_store(
            work, "per-request", env, per_request=True, cache_s=0
        )
        processes += cached + pooled + per_request
        with psycopg.connect(database_url) as connection:
            # Enough stock that POST /orders measures the write path, not "sold out".
            connection.execute("UPDATE products SET stock = 100000000")
        user_id, token = login(cached_url)
        auth = {"Authorization": f"Bearer {token}"}
        print(f"cpus={os.cpu_count()}  {seconds} s per measurement, wrk -t1, medians of 3\n")

        goals: list[Goal] = []
        curves: list[Curve] = []
        for label, path in (("GET /products", "/products"), ("GET /products/1", "/products/1")):
            curve = Curve(label, "req/s")
            for clients in client_levels(LEVELS, 32):
                runs = interleaved(
                    {
                        name: partial(run_load, url, clients, seconds)
                        for name, url in (
                            ("store", f"{cached_url}{path}"),
                            ("hello", f"{hello_url}/hello"),
                            ("pooled", f"{pooled_url}{path}"),
                            ("per-request", f"{per_request_url}{path}"),
                        )
                    }
                )
                medians = {n: median_by(r, lambda x: x.per_second) for n, r in runs.items()}
                print(_row(label, clients, medians))
                curve.add(clients, **{n: m.per_second for n, m in medians.items()})
                if clients == 32:
                    goals.append(
                        load_goal(
                            f"store-api {label}, 32 clients",
                            runs["store"],
                            "hello",
                            runs["hello"],
                            "ratio>=:0.5",
                        )
                    )
                    goals.append(
                        load_goal(
                            f"{label}, pool vs per-request connections (cache off)",
                            runs["pooled"],
                            "per-request",
                            runs["per-request"],
                            "ratio>=:3",
                        )
                    )
            curves.append(curve)

        curve = Curve("POST /orders", "orders/s")
        for clients in client_levels(LEVELS, 32):
            orders: dict[str, list[Any]] = interleaved(
                {
                    "store": partial(
                        run_load,
                        f"{cached_url}/orders",
                        clients,
                        seconds,
                        method="POST",
                        body=ORDER_BODY,
                        headers=auth,
                    ),
                    "psycopg": partial(direct_orders, database_url, user_id, clients, seconds),
                }
            )
            # The two sides return different types: each is named once taken out.
            store: LoadResult = median_by(orders["store"], lambda x: x.per_second)
            direct: float = statistics.median(orders["psycopg"])
            print(
                f"{'POST /orders':<16} {clients:>3} | store {store.per_second:>7,.0f}/s"
                f" p50 {store.p50_ms:>5.1f} ms (failed {store.failed}) |"
                f" same transaction with psycopg {direct:>7,.0f}/s"
            )
            curve.add(clients, store=store.per_second, psycopg=direct)
            if clients == 32:
                goals.append(
                    Goal.from_turns(
                        "store-api POST /orders, 32 clients",
                        [run.per_second for run in orders["store"]],
                        "orders/s",
                        "psycopg, same transaction",
                        orders["psycopg"],
                        "report",
                        failed=sum(run.failed for run in orders["store"]),
                    )
                )
        curves.append(curve)
        save(
            "store",
            goals,
            curves,
            [
                "The product cache (store_api.product_cache_s, default 1 s) answers product reads"
                " from memory; an order through the same replica clears it before it is"
                " acknowledged.",
                "POST /orders also checks the token and the user's account (one more call to"
                " db-service) and writes the order's event to the outbox, as the product must.",
            ],
        )
    finally:
        for process in processes:
            process.stop()


if __name__ == "__main__":
    main()
