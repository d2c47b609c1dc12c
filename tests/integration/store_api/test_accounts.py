"""Accounts against a hostile client: password changes, revoked tokens, throttling, secrets."""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from tests.conftest import ServiceLauncher
from tests.support.store import Store

MARKER = "pw-MARKER-7c1e"
"""A password no answer may ever repeat."""


def test_a_password_change_needs_the_current_one_and_revokes_every_token(store: Store) -> None:
    alice = store.register("alice")
    second_token = store.login(alice.username, alice.password)
    url = f"/users/{alice.id}"
    missing = store.http.patch(url, headers=alice.auth, json={"password": "a-new-password"})
    assert missing.status_code in (403, 422)
    wrong = store.http.patch(
        url,
        headers=alice.auth,
        json={"password": "a-new-password", "current_password": "not-the-password"},
    )
    assert wrong.status_code == 403
    assert store.http.get(url, headers=alice.auth).status_code == 200, "nothing changed"

    changed = store.http.patch(
        url,
        headers=alice.auth,
        json={"password": "a-new-password", "current_password": alice.password},
    )
    assert changed.status_code == 200
    for token in (alice.token, second_token):
        stale = store.http.get(url, headers={"Authorization": f"Bearer {token}"})
        assert stale.status_code == 401 and "log in again" in stale.json()["detail"]
    fresh = store.login(alice.username, "a-new-password")
    assert store.http.get(url, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_deactivation_revokes_every_token(store: Store) -> None:
    bob = store.register("bob")
    other_token = store.login(bob.username, bob.password)
    assert store.http.delete(f"/users/{bob.id}", headers=bob.auth).status_code == 204
    for token in (bob.token, other_token):
        answer = store.http.get("/orders", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401


def _password_bodies(user_id: int) -> list[tuple[str, str, object]]:
    """Requests that carry MARKER as a password and are wrong in some other way."""
    bad_registration = [
        {"username": "x", "password": MARKER},
        {"sid": "S1", "username": "carol", "email": "not-an-email", "password": MARKER},
        {"sid": "S1", "username": "carol", "email": "c@example.com", "password": MARKER, "x": 1},
        {"sid": "S1", "username": "carol", "email": "c@example.com", "password": [MARKER]},
        {"sid": "S1" * 20, "username": "carol", "email": "c@example.com", "password": MARKER},
    ]
    bad_login = [
        {"password": MARKER},
        {"username": "u" * 100, "password": MARKER},
        {"username": "carol", "password": MARKER, "extra": True},
        {"username": "carol", "password": MARKER * 40},
    ]
    bad_change = [
        {"password": MARKER, "current_password": MARKER * 40},
        {"password": "short", "current_password": MARKER},
        {"password": MARKER, "current_password": MARKER, "unknown": 1},
        {"email": "bad", "password": MARKER},
    ]
    return (
        [("POST", "/users/register", body) for body in bad_registration]
        + [("POST", "/users/login", body) for body in bad_login]
        + [("PATCH", f"/users/{user_id}", body) for body in bad_change]
    )


def test_no_answer_ever_repeats_a_submitted_password(store: Store) -> None:
    dave = store.register("dave")
    for method, path, body in _password_bodies(dave.id):
        answer = store.http.request(method, path, json=body, headers=dave.auth)
        assert answer.status_code >= 400, (path, body)
        assert MARKER not in answer.text, f"{method} {path} repeated the password: {answer.text}"
        assert MARKER not in json.dumps(dict(answer.headers))


def test_ten_failed_logins_throttle_the_username_with_retry_after(store: Store) -> None:
    erin = store.register("erin")
    for _ in range(10):
        wrong = store.http.post(
            "/users/login", json={"username": erin.username, "password": "wrong-password"}
        )
        assert wrong.status_code == 401
    right = store.http.post(
        "/users/login", json={"username": erin.username, "password": erin.password}
    )
    assert right.status_code == 429
    assert 1 <= int(right.headers["Retry-After"]) <= 60
    assert "too many failed logins" in right.json()["detail"]
    # Another username is not affected.
    frank = store.register("frank")
    assert store.login(frank.username, frank.password)


def test_password_hashing_is_bounded_and_excess_is_answered_at_once(
    services: ServiceLauncher,
) -> None:
    services.start(
        "db-service",
        MERCHSTORE_DB_SERVICE__MAX_CONCURRENT_HASHES="1",
        MERCHSTORE_DB_SERVICE__MAX_WAITING_HASHES="1",
    )
    store = Store(services.start("store-api").url)
    grace = store.register("grace")

    def login() -> tuple[int, float, str | None]:
        started = time.monotonic()
        with httpx.Client(base_url=store.url, timeout=30) as client:
            answer = client.post(
                "/users/login", json={"username": grace.username, "password": grace.password}
            )
        return answer.status_code, time.monotonic() - started, answer.headers.get("Retry-After")

    products: list[int] = []
    stop = threading.Event()

    def browse() -> None:
        with httpx.Client(base_url=store.url, timeout=10) as client:
            while not stop.is_set():
                products.append(client.get("/products").status_code)

    browser = threading.Thread(target=browse)
    browser.start()
    try:
        with ThreadPoolExecutor(24) as pool:
            results = list(pool.map(lambda _: login(), range(24)))
    finally:
        stop.set()
        browser.join()
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, statuses
    assert all(retry == "1" for status, _, retry in results if status == 503)
    assert max(elapsed for _, elapsed, _ in results) < 20, "nothing queued for ever"
    assert products and set(products) == {200}, "other store calls kept working"


def test_a_database_error_is_answered_generically_with_the_trace_id(
    store: Store, database_url: str
) -> None:
    henry = store.register("henry")
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("ALTER TABLE orders RENAME TO orders_elsewhere")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    try:
        answer = store.http.get(
            "/orders",
            headers={**henry.auth, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
    finally:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("ALTER TABLE orders_elsewhere RENAME TO orders")
    assert answer.status_code == 500
    detail = answer.json()["detail"]
    assert f"trace id {trace_id}" in detail  # the client's trace, continued
    assert "orders" not in detail and "relation" not in detail.lower(), detail


@pytest.mark.parametrize(
    "request_id",
    ["é-not-ascii", "x" * 129, "has space", "semi;colon", "", "new\\nline"],
)
def test_only_well_formed_request_ids_are_used(store: Store, request_id: str) -> None:
    answer = store.http.get("/products", headers={b"X-Request-ID": request_id.encode("utf-8")})
    assert answer.status_code == 200
    used = answer.headers["X-Request-ID"]
    assert used != request_id and re.fullmatch(r"[0-9a-f]{32}", used)


def test_a_well_formed_request_id_is_kept(store: Store) -> None:
    answer = store.http.get("/products", headers={"X-Request-ID": "abc.DEF-123_x"})
    assert answer.headers["X-Request-ID"] == "abc.DEF-123_x"


def test_orders_are_paginated(store: Store) -> None:
    ivy = store.register("ivy")
    placed = [
        store.http.post("/orders", headers=ivy.auth, json={"product_id": 2, "quantity": 1}).json()[
            "id"
        ]
        for _ in range(53)
    ]
    first = store.http.get("/orders", headers=ivy.auth)
    assert [o["id"] for o in first.json()] == placed[:50]
    next_link = re.fullmatch(r'<(/orders\?[^>]+)>; rel="next"', first.headers["Link"])
    assert next_link is not None
    second = store.http.get(next_link.group(1), headers=ivy.auth)
    assert [o["id"] for o in second.json()] == placed[50:]
    assert "Link" not in second.headers
    small = store.http.get("/orders", params={"limit": 200}, headers=ivy.auth)
    assert len(small.json()) == 53
    assert store.http.get("/orders", params={"limit": 201}, headers=ivy.auth).status_code == 422


def test_an_idempotency_key_places_one_order_even_sent_twice_at_once(store: Store) -> None:
    jack = store.register("jack")
    stock = store.http.get("/products/1").json()["stock"]
    headers = {**jack.auth, "Idempotency-Key": "order-once-1"}
    barrier = threading.Barrier(2)

    def place() -> httpx.Response:
        with httpx.Client(base_url=store.url, timeout=30) as client:
            barrier.wait()
            return client.post("/orders", headers=headers, json={"product_id": 1, "quantity": 2})

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: place(), range(2)))
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert store.http.get("/products/1").json()["stock"] == stock - 2
    assert len(store.http.get("/orders", headers=jack.auth).json()) == 1

    other_body = store.http.post("/orders", headers=headers, json={"product_id": 1, "quantity": 1})
    assert other_body.status_code == 422 and "Idempotency-Key" in other_body.json()["detail"]
    later = store.http.post("/orders", headers=headers, json={"product_id": 1, "quantity": 2})
    assert later.status_code == 201 and later.json()["id"] == answers[0].json()["id"]
    assert store.http.get("/products/1").json()["stock"] == stock - 2
