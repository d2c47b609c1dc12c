"""The Store API section of the contract, route by route, through HTTP on running processes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import jwt
import psycopg

from tests.conftest import ServiceLauncher
from tests.support.store import Store

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
MONEY = re.compile(r"^\d+\.\d{2}$")
USER_FIELDS = {"id", "sid", "username", "email", "created_at"}


def test_welcome_and_products(store: Store) -> None:
    assert store.http.get("/").status_code == 200
    assert "message" in store.http.get("/").json()
    products = store.http.get("/products").json()
    assert [(p["name"], p["category"], p["price"], p["stock"]) for p in products] == [
        ("SUSTech Hoodie", "Apparel", "49.99", 500),
        ("SUSTech Water Bottle", "Drinkware", "19.98", 500),
        ("SUSTech Notebook", "Stationery", "9.97", 500),
    ]
    for product in products:
        assert set(product) == {
            "id",
            "name",
            "description",
            "category",
            "price",
            "slogan",
            "stock",
            "created_at",
        }
        assert product["description"] and product["slogan"]
        assert RFC3339.match(product["created_at"])
    first = products[0]
    assert store.http.get(f"/products/{first['id']}").json() == first
    missing = store.http.get("/products/999999")
    assert missing.status_code == 404 and missing.json()["detail"]
    # An id that is not a whole number is the client's mistake, said about the id.
    for path in ("/products/abc", "/products/1.5", "/products/1e3"):
        not_an_id = store.http.get(path)
        assert not_an_id.status_code == 422, path
        assert "id" in json.dumps(not_an_id.json()["detail"]), not_an_id.text
    assert store.http.get("/products/0").status_code == 422


def test_register_and_conflicts(store: Store) -> None:
    body = {
        "sid": "12010001",
        "username": "alice",
        "email": "alice@example.com",
        "password": "correct-horse",
    }
    created = store.http.post("/users/register", json=body)
    assert created.status_code == 201
    assert set(created.json()) == USER_FIELDS
    assert RFC3339.match(created.json()["created_at"])
    for field, value in (
        ("sid", "12010001"),
        ("username", "alice"),
        ("email", "ALICE@example.com"),
    ):
        other = {
            "sid": "99999999",
            "username": "bob",
            "email": "bob@example.com",
            "password": "correct-horse",
            field: value,
        }
        taken = store.http.post("/users/register", json=other)
        assert taken.status_code == 409, (field, taken.text)
        assert field in taken.json()["detail"]
    invalid = [
        {**body, "username": "al"},
        {**body, "username": "has space"},
        {**body, "password": "short"},
        {**body, "sid": "1234567890123456"},
        {**body, "email": "not-an-email"},
        {"username": "x"},
    ]
    for candidate in invalid:
        answer = store.http.post("/users/register", json=candidate)
        assert answer.status_code == 422, candidate
        assert isinstance(answer.json()["detail"], str)


def test_login(store: Store) -> None:
    shopper = store.register()
    answer = store.http.post(
        "/users/login", json={"username": shopper.username, "password": shopper.password}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["access_token"]
    for credentials in (
        {"username": shopper.username, "password": "wrong-password"},
        {"username": "nobody-here", "password": "whatever-123"},
    ):
        refused = store.http.post("/users/login", json=credentials)
        assert refused.status_code == 401 and refused.json()["detail"]


def test_users_read_change_and_deactivate(store: Store) -> None:
    alice, bob = store.register("alice"), store.register("bob")
    me = store.http.get(f"/users/{alice.id}", headers=alice.auth)
    assert me.status_code == 200 and set(me.json()) == USER_FIELDS
    assert store.http.get(f"/users/{alice.id}").status_code == 401
    assert store.http.get(f"/users/{bob.id}", headers=alice.auth).status_code == 403

    changed = store.http.patch(
        f"/users/{alice.id}", headers=alice.auth, json={"email": "new-alice@example.com"}
    )
    assert changed.status_code == 200 and changed.json()["email"] == "new-alice@example.com"
    taken = store.http.patch(
        f"/users/{alice.id}", headers=alice.auth, json={"email": f"{bob.username}@example.com"}
    )
    assert taken.status_code == 409
    assert store.http.patch(f"/users/{alice.id}", headers=alice.auth, json={}).status_code == 422
    assert (
        store.http.patch(
            f"/users/{bob.id}", headers=alice.auth, json={"email": "x@y.io"}
        ).status_code
        == 403
    )
    changed = store.http.patch(
        f"/users/{alice.id}",
        headers=alice.auth,
        json={"password": "a-new-password", "current_password": alice.password},
    )
    assert changed.status_code == 200
    # Tokens issued before the change are stale now.
    assert store.http.get(f"/users/{alice.id}", headers=alice.auth).status_code == 401
    alice.token = store.login(alice.username, "a-new-password")
    old = store.http.post(
        "/users/login", json={"username": alice.username, "password": alice.password}
    )
    assert old.status_code == 401

    assert store.http.delete(f"/users/{bob.id}", headers=alice.auth).status_code == 403
    gone = store.http.delete(f"/users/{alice.id}", headers=alice.auth)
    assert gone.status_code == 204 and gone.content == b""
    # Deactivated: its token and its login stop working at once.
    assert store.http.get(f"/users/{alice.id}", headers=alice.auth).status_code == 401
    again = store.http.post(
        "/users/login", json={"username": alice.username, "password": "a-new-password"}
    )
    assert again.status_code == 401


def test_orders(store: Store, services: ServiceLauncher, database_url: str) -> None:
    alice, bob = store.register("alice"), store.register("bob")
    notebook = store.http.get("/products/3").json()
    placed = store.http.post("/orders", headers=alice.auth, json={"product_id": 3, "quantity": 3})
    assert placed.status_code == 201
    order = placed.json()
    assert order["status"] == "placed" and order["user_id"] == alice.id
    assert order["total_price"] == "29.91"
    assert Decimal(order["total_price"]) == Decimal(notebook["price"]) * 3
    assert MONEY.match(order["total_price"]) and RFC3339.match(order["created_at"])
    assert store.http.get("/products/3").json()["stock"] == notebook["stock"] - 3

    assert store.http.post("/orders", json={"product_id": 3, "quantity": 1}).status_code == 401
    for bad in (
        {"product_id": 3, "quantity": 0},
        {"product_id": 3, "quantity": 4},
        {"product_id": 3},
    ):
        assert store.http.post("/orders", headers=alice.auth, json=bad).status_code == 422
    missing = store.http.post(
        "/orders", headers=alice.auth, json={"product_id": 99999, "quantity": 1}
    )
    assert missing.status_code == 404

    with psycopg.connect(database_url) as connection:
        connection.execute("UPDATE products SET stock = 2 WHERE id = 2")
    short = store.http.post("/orders", headers=bob.auth, json={"product_id": 2, "quantity": 3})
    assert short.status_code == 409 and "stock" in short.json()["detail"]

    assert [o["id"] for o in store.http.get("/orders", headers=alice.auth).json()] == [order["id"]]
    assert store.http.get("/orders", headers=bob.auth).json() == []
    assert store.http.get(f"/orders/{order['id']}", headers=alice.auth).json() == order
    assert store.http.get(f"/orders/{order['id']}", headers=bob.auth).status_code == 403
    assert store.http.get("/orders/999999", headers=alice.auth).status_code == 404

    assert store.http.delete(f"/orders/{order['id']}", headers=bob.auth).status_code == 403
    cancelled = store.http.delete(f"/orders/{order['id']}", headers=alice.auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert store.http.get("/products/3").json()["stock"] == notebook["stock"]
    assert store.http.delete(f"/orders/{order['id']}", headers=alice.auth).status_code == 409
    assert store.http.delete("/orders/999999", headers=alice.auth).status_code == 404


def test_tampered_and_expired_tokens(store: Store) -> None:
    alice = store.register("alice")
    header, payload, signature = alice.token.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}xx"
    later = datetime.now(UTC) + timedelta(hours=1)
    # Past the leeway replicas allow for clock skew (store_api.token_leeway_s, 10 s).
    earlier = datetime.now(UTC) - timedelta(seconds=60)
    guessed_secret = "a-guessed-secret-that-is-long-enough-to-sign"
    forged = jwt.encode({"sub": str(alice.id), "exp": later}, guessed_secret, algorithm="HS256")
    expired = jwt.encode(
        {"sub": str(alice.id), "gen": 0, "exp": earlier},
        ServiceLauncher.JWT_SECRET,
        algorithm="HS256",
    )
    for token in (tampered, forged, expired, "not-a-jwt"):
        answer = store.http.get(f"/users/{alice.id}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, token
        assert answer.json()["detail"]
    assert (
        "expired"
        in store.http.get(
            f"/users/{alice.id}", headers={"Authorization": f"Bearer {expired}"}
        ).json()["detail"]
    )


def test_user_a_cannot_touch_anything_of_user_b(store: Store) -> None:
    alice, bob = store.register("alice"), store.register("bob")
    order = store.http.post(
        "/orders", headers=bob.auth, json={"product_id": 1, "quantity": 1}
    ).json()
    attempts = [
        store.http.get(f"/users/{bob.id}", headers=alice.auth),
        store.http.patch(
            f"/users/{bob.id}", headers=alice.auth, json={"email": "evil@example.com"}
        ),
        store.http.delete(f"/users/{bob.id}", headers=alice.auth),
        store.http.get(f"/orders/{order['id']}", headers=alice.auth),
        store.http.delete(f"/orders/{order['id']}", headers=alice.auth),
    ]
    assert [a.status_code for a in attempts] == [403] * 5
    assert store.http.get(f"/orders/{order['id']}", headers=bob.auth).json()["status"] == "placed"
