"""db-service against clients that guess, flood and keep things forever, on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg
import pytest

from merchstore.protos import store_pb2, store_pb2_grpc
from tests.conftest import ServiceLauncher
from tests.support.processes import ServiceProcess, wait_until
from tests.support.store import Store


@pytest.fixture
def db_service(services: ServiceLauncher) -> ServiceProcess:
    return services.start("db-service", MERCHSTORE_DB_SERVICE__HOUSEKEEPING_INTERVAL_S="1")


@pytest.fixture
def stub(db_service: ServiceProcess) -> Iterator[store_pb2_grpc.StoreDataStub]:
    with grpc.insecure_channel(f"127.0.0.1:{db_service.port}") as channel:
        yield store_pb2_grpc.StoreDataStub(channel)


def test_concurrent_wrong_passwords_get_ten_tries_a_minute(
    services: ServiceLauncher, db_service: ServiceProcess, database_url: str
) -> None:
    store = Store(services.start("store-api").url)
    erin = store.register("erin")

    def guess(number: int) -> int:
        body = {"username": erin.username, "password": f"guess-{number:04d}"}
        return store.http.post("/users/login", json=body).status_code

    with ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(guess, range(30)))
    assert statuses.count(401) <= 10, statuses  # each 401 is a password checked
    assert set(statuses) <= {401, 429, 503}
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM login_failures WHERE username = %s", (erin.username,)
        ).fetchone()
    assert row is not None and row[0] <= 10


def test_a_field_past_its_bound_and_a_message_past_the_limit_are_refused_quickly(
    stub: store_pb2_grpc.StoreDataStub,
) -> None:
    # An address the pattern would take hours over, well within the message limit.
    with pytest.raises(grpc.RpcError) as refused:
        stub.CreateUser(
            store_pb2.CreateUserRequest(
                sid="S1", username="mallory", email="a@" + "." * 8000 + "@", password="p" * 8
            ),
            timeout=10,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "email must be at most 254" in (refused.value.details() or "")
    # A request of megabytes is refused before it is read whole.
    with pytest.raises(grpc.RpcError) as too_large:
        stub.Authenticate(
            store_pb2.AuthenticateRequest(username="mallory", password="p" * 4_000_000),
            timeout=10,
        )
    assert too_large.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # And the service goes on answering.
    assert len(stub.ListProducts(store_pb2.ListProductsRequest(), timeout=10).products) == 3


def test_old_login_failures_and_idempotency_keys_are_deleted(
    services: ServiceLauncher, db_service: ServiceProcess, database_url: str
) -> None:
    store = Store(services.start("store-api").url)
    frank = store.register("frank")
    order = {"product_id": 1, "quantity": 1}
    keyed = {**frank.auth, "Idempotency-Key": "frank-1"}
    first = store.http.post("/orders", json=order, headers=keyed).json()
    assert store.http.post("/orders", json=order, headers=keyed).json()["id"] == first["id"]
    for _ in range(3):
        store.http.post("/users/login", json={"username": "ghost", "password": "wrong-pass"})
    with psycopg.connect(database_url, autocommit=True) as connection:
        # As if a day had passed since the order and two minutes since the failures.
        connection.execute(
            "UPDATE order_idempotency_keys SET created_at = now() - interval '25 hours'"
            " WHERE idempotency_key = 'frank-1'"
        )
        connection.execute(
            "UPDATE login_failures SET failed_at = now() - interval '2 minutes'"
            " WHERE username = 'ghost'"
        )

        def rows(query: str) -> int:
            found = connection.execute(query).fetchone()
            return int(found[0]) if found else -1

        failures = "SELECT count(*) FROM login_failures WHERE username = 'ghost'"
        keys = "SELECT count(*) FROM order_idempotency_keys WHERE idempotency_key = 'frank-1'"
        wait_until(
            lambda: rows(failures) == 0 and rows(keys) == 0,
            30,
            "the expired rows to be deleted",
        )
    again = store.http.post("/orders", json=order, headers=keyed)
    assert again.status_code == 201 and again.json()["id"] != first["id"]
