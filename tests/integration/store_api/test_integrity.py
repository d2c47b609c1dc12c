"""Stock under concurrency, all-or-nothing orders, and db-service outages."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import httpx
import psycopg

from tests.conftest import ServiceLauncher
from tests.support.processes import wait_until
from tests.support.store import Shopper, Store


def test_two_hundred_clients_never_oversell(store: Store, database_url: str) -> None:
    shoppers = [store.register("buyer") for _ in range(20)]

    async def order(client: httpx.AsyncClient, shopper: Shopper, key: str) -> int:
        # As the contract tells a client: a 503 (the data service overloaded, say, its
        # deadline passed) may or may not have placed the order, so it retries with its key.
        for _ in range(30):
            answer = await client.post(
                "/orders",
                headers={**shopper.auth, "Idempotency-Key": key},
                json={"product_id": 1, "quantity": 3},
            )
            if answer.status_code != 503:
                return answer.status_code
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
        return 503

    async def two_hundred_clients() -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=store.url, timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(order(client, shoppers[i % 20], f"order-{i}") for i in range(200))
            )

    statuses = Counter(asyncio.run(two_hundred_clients()))
    assert statuses == {201: 166, 409: 34}
    stock = store.http.get("/products/1").json()["stock"]
    assert stock == 2
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT coalesce(sum(quantity), 0) FROM orders"
            " WHERE product_id = 1 AND status = 'placed'"
        ).fetchone()
    assert row is not None and row[0] + stock == 500


def test_a_failure_after_the_stock_update_leaves_stock_unchanged(
    store: Store, database_url: str
) -> None:
    shopper = store.register()
    with psycopg.connect(database_url) as connection:
        # The order insert fails after the stock was taken in the same transaction.
        connection.execute(
            "CREATE FUNCTION fail_order() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
        )
        connection.execute(
            "CREATE TRIGGER fail_order BEFORE INSERT ON orders"
            " FOR EACH ROW EXECUTE FUNCTION fail_order()"
        )
    before = store.http.get("/products/2").json()["stock"]
    answer = store.http.post("/orders", headers=shopper.auth, json={"product_id": 2, "quantity": 2})
    assert answer.status_code >= 500 and answer.json()["detail"]
    assert store.http.get("/products/2").json()["stock"] == before
    with psycopg.connect(database_url) as connection:
        assert connection.execute("SELECT count(*) FROM orders").fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


def test_db_service_down_gives_503_then_recovers_by_itself(
    store: Store, services: ServiceLauncher
) -> None:
    shopper = store.register()
    db_service = services.process("db-service")
    db_service.kill()
    for path in ("/products", f"/users/{shopper.id}", "/orders"):
        started = time.monotonic()
        answer = store.http.get(path, headers=shopper.auth)
        assert answer.status_code == 503, path
        assert "unavailable" in answer.json()["detail"]
        assert time.monotonic() - started < 6, "answers within the deadline, never hangs"
    db_service.start()
    wait_until(lambda: store.http.get("/products").status_code == 200, 30, "store-api to recover")
    assert store.http.get("/orders", headers=shopper.auth).status_code == 200


def test_an_acknowledged_order_is_never_followed_by_the_old_stock(store: Store) -> None:
    """Readers keep the product cache busy; each order's stock shows in the very next read."""
    shopper = store.register("reader")
    start = store.http.get("/products/3").json()["stock"]
    stop = threading.Event()

    def keep_reading() -> None:
        with httpx.Client(base_url=store.url, timeout=30) as client:
            while not stop.is_set():
                client.get("/products/3")
                client.get("/products")

    readers = [threading.Thread(target=keep_reading) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for placed in range(1, 21):
            answer = store.http.post(
                "/orders", headers=shopper.auth, json={"product_id": 3, "quantity": 1}
            )
            assert answer.status_code == 201, answer.text
            assert store.http.get("/products/3").json()["stock"] == start - placed
            listed = {p["id"]: p["stock"] for p in store.http.get("/products").json()}
            assert listed[3] == start - placed
        cancelled = store.http.delete(f"/orders/{answer.json()['id']}", headers=shopper.auth)
        assert cancelled.status_code == 200
        assert store.http.get("/products/3").json()["stock"] == start - 19
    finally:
        stop.set()
        for reader in readers:
            reader.join()
