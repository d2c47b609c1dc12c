"""PostgreSQL adapter of db-service: the store's repository; a unit of work is a transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from decimal import Decimal
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from merchstore.common.kafka.trace_context import current_traceparent
from merchstore.common.messages import DomainEvent
from merchstore.db_service.domain import AlreadyExists, Order, Product, User

_PRODUCT = "id, name, description, category, price, slogan, stock, created_at"
_USER = "id, sid, username, email, created_at, token_generation"
_ORDER = "id, user_id, product_id, quantity, total_price, status, created_at"


class ConnectionSource(Protocol):
    """Hands out connections: the pool, or (for comparison) a new connection each time."""

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        """A connection for one unit of work."""
        ...


class NewConnectionEachTime:
    """A fresh PostgreSQL connection per unit of work: what the pool exists to replace."""

    def __init__(self, url: str) -> None:
        self._url = url

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """Connect, yield, commit (or roll back) and close."""
        async with await psycopg.AsyncConnection.connect(self._url) as connection:
            yield connection


def _taken(error: psycopg.errors.UniqueViolation) -> AlreadyExists:
    constraint = error.diag.constraint_name or ""
    for field in ("sid", "username", "email"):
        if field in constraint:
            return AlreadyExists(f"{field} is already taken")
    return AlreadyExists("already exists")


class PostgresUnitOfWork:
    """One transaction on one connection: the steps of a change, committed together."""

    def __init__(self, cursor: psycopg.AsyncCursor[dict[str, Any]]) -> None:
        self._cursor = cursor

    async def claim_idempotency_key(
        self, user_id: int, key: str, fingerprint: str, ttl_s: int
    ) -> tuple[str, Order] | None:
        """Insert the key; a concurrent insert of the same key blocks until this one ends.

        A key older than ``ttl_s`` has expired: it is deleted first, and taken as new.
        """
        cursor = self._cursor
        await cursor.execute(
            "DELETE FROM order_idempotency_keys WHERE user_id = %s AND idempotency_key = %s"
            " AND created_at < now() - make_interval(secs => %s)",
            (user_id, key, ttl_s),
        )
        await cursor.execute(
            "INSERT INTO order_idempotency_keys (user_id, idempotency_key, request_fingerprint)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING user_id",
            (user_id, key, fingerprint),
        )
        if await cursor.fetchone() is not None:
            return None
        # Taken by a committed transaction, whose order_id was filled in before it committed.
        await cursor.execute(
            "SELECT k.request_fingerprint, o.* FROM order_idempotency_keys k"
            " JOIN orders o ON o.id = k.order_id"
            " WHERE k.user_id = %s AND k.idempotency_key = %s",
            (user_id, key),
        )
        row = await cursor.fetchone()
        assert row is not None
        fingerprint_taken = str(row.pop("request_fingerprint"))
        return fingerprint_taken, Order(**{k: row[k] for k in _ORDER.split(", ")})

    async def link_idempotency_key(self, user_id: int, key: str, order_id: int) -> None:
        """Record the order the key produced."""
        await self._cursor.execute(
            "UPDATE order_idempotency_keys SET order_id = %s"
            " WHERE user_id = %s AND idempotency_key = %s",
            (order_id, user_id, key),
        )

    async def take_stock(self, product_id: int, quantity: int) -> Decimal | None:
        """A conditional update on the locked row: never below zero, whatever runs at once."""
        await self._cursor.execute(
            "UPDATE products SET stock = stock - %s WHERE id = %s AND stock >= %s RETURNING price",
            (quantity, product_id, quantity),
        )
        row = await self._cursor.fetchone()
        return Decimal(row["price"]) if row is not None else None

    async def stock_of(self, product_id: int) -> int | None:
        """The product's stock, or None."""
        await self._cursor.execute("SELECT stock FROM products WHERE id = %s", (product_id,))
        row = await self._cursor.fetchone()
        return int(row["stock"]) if row is not None else None

    async def add_order(
        self, user_id: int, product_id: int, quantity: int, total_price: Decimal
    ) -> Order:
        """Insert a placed order."""
        await self._cursor.execute(
            "INSERT INTO orders (user_id, product_id, quantity, total_price)"
            f" VALUES (%s, %s, %s, %s) RETURNING {_ORDER}",
            (user_id, product_id, quantity, total_price),
        )
        row = await self._cursor.fetchone()
        assert row is not None
        return Order(**row)

    async def order_for_update(self, order_id: int) -> Order | None:
        """The order, its row locked until the transaction ends."""
        await self._cursor.execute(
            f"SELECT {_ORDER} FROM orders WHERE id = %s FOR UPDATE", (order_id,)
        )
        row = await self._cursor.fetchone()
        return Order(**row) if row is not None else None

    async def mark_cancelled(self, order_id: int) -> Order:
        """Cancel the order now."""
        await self._cursor.execute(
            "UPDATE orders SET status = 'cancelled', cancelled_at = now()"
            f" WHERE id = %s RETURNING {_ORDER}",
            (order_id,),
        )
        row = await self._cursor.fetchone()
        assert row is not None
        return Order(**row)

    async def restore_stock(self, product_id: int, quantity: int) -> None:
        """Put the quantity back."""
        await self._cursor.execute(
            "UPDATE products SET stock = stock + %s WHERE id = %s", (quantity, product_id)
        )

    async def add_to_outbox(self, event: DomainEvent) -> None:
        """Insert the event in the outbox, in this transaction: published after it commits.

        The request's trace context goes with it, so the event continues the order's trace.
        """
        await self._cursor.execute(
            "INSERT INTO outbox (event_id, message_key, payload, traceparent)"
            " VALUES (%s, %s, %s, %s)",
            (event.event_id, event.user_id, event.to_json().decode(), current_traceparent()),
        )


class PostgresStoreRepository:
    """Products, users, orders and the outbox in PostgreSQL."""

    def __init__(self, connections: ConnectionSource) -> None:
        self._connections = connections

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[PostgresUnitOfWork]:
        """A transaction: committed on a normal exit, rolled back if anything raised."""
        async with self._connections.connection() as connection, connection.transaction():
            yield PostgresUnitOfWork(connection.cursor(row_factory=dict_row))

    async def _one(self, query: str, parameters: tuple[Any, ...]) -> dict[str, Any] | None:
        async with self._connections.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(query, parameters)
            return await cursor.fetchone()

    async def _all(self, query: str, parameters: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self._connections.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(query, parameters)
            return await cursor.fetchall()

    async def list_products(self, limit: int) -> list[Product]:
        """At most ``limit`` products, by id."""
        rows = await self._all(f"SELECT {_PRODUCT} FROM products ORDER BY id LIMIT %s", (limit,))
        return [Product(**row) for row in rows]

    async def get_product(self, product_id: int) -> Product | None:
        """One product, or None."""
        row = await self._one(f"SELECT {_PRODUCT} FROM products WHERE id = %s", (product_id,))
        return Product(**row) if row is not None else None

    async def add_user(self, sid: str, username: str, email: str, password_hash: str) -> User:
        """Insert a user; AlreadyExists names the field a unique constraint refused."""
        try:
            row = await self._one(
                "INSERT INTO users (sid, username, email, password_hash)"
                f" VALUES (%s, %s, %s, %s) RETURNING {_USER}",
                (sid, username, email, password_hash),
            )
        except psycopg.errors.UniqueViolation as error:
            raise _taken(error) from None
        assert row is not None
        return User(**row)

    async def begin_login_attempt(
        self, username: str, window_s: int, max_failures: int
    ) -> tuple[int, float, int]:
        """Count failures and attempts in progress within the window; below the bound, note one.

        One username's attempts are counted one at a time (a transaction-scoped advisory lock
        on the name), so concurrent attempts each see the ones before them. Returns the
        failures, the oldest one's age (s) and the new attempt's id (0 when failures and
        attempts in progress reach the bound).
        """
        async with self._connections.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (username,))
            await cursor.execute(
                "DELETE FROM login_failures WHERE username = %s"
                " AND failed_at < now() - make_interval(secs => %s)",
                (username, window_s),
            )
            await cursor.execute(
                "SELECT count(*) FILTER (WHERE settled) AS failures,"
                " count(*) FILTER (WHERE NOT settled) AS in_progress,"
                " coalesce(extract(epoch FROM now() - min(failed_at)), 0) AS oldest_age_s"
                " FROM login_failures WHERE username = %s",
                (username,),
            )
            row = await cursor.fetchone()
            assert row is not None
            failures, in_progress = int(row["failures"]), int(row["in_progress"])
            oldest_age_s = float(row["oldest_age_s"])
            if failures + in_progress >= max_failures:
                return failures, oldest_age_s, 0
            await cursor.execute(
                "INSERT INTO login_failures (username, settled) VALUES (%s, false) RETURNING id",
                (username,),
            )
            noted = await cursor.fetchone()
            assert noted is not None
            return failures, oldest_age_s, int(noted["id"])

    async def settle_login_attempt(self, attempt_id: int, failed: bool) -> None:
        """The attempt ended: a failure is kept as one, anything else forgotten."""
        async with self._connections.connection() as connection:
            if failed:
                await connection.execute(
                    "UPDATE login_failures SET settled = true WHERE id = %s", (attempt_id,)
                )
            else:
                await connection.execute("DELETE FROM login_failures WHERE id = %s", (attempt_id,))

    async def forget_expired(self, login_window_s: int, idempotency_key_ttl_s: int) -> int:
        """Delete login failures past their window and idempotency keys past their lifetime."""
        async with self._connections.connection() as connection:
            failures = await connection.execute(
                "DELETE FROM login_failures WHERE failed_at < now() - make_interval(secs => %s)",
                (login_window_s,),
            )
            keys = await connection.execute(
                "DELETE FROM order_idempotency_keys"
                " WHERE created_at < now() - make_interval(secs => %s)",
                (idempotency_key_ttl_s,),
            )
            return int(failures.rowcount) + int(keys.rowcount)

    async def active_user_by_name(self, username: str) -> tuple[User, str] | None:
        """The active user and their password hash, or None."""
        row = await self._one(
            f"SELECT {_USER}, password_hash FROM users WHERE username = %s AND active",
            (username,),
        )
        if row is None:
            return None
        password_hash = str(row.pop("password_hash"))
        return User(**row), password_hash

    async def password_hash_of(self, user_id: int) -> str | None:
        """An active user's password hash, or None."""
        row = await self._one(
            "SELECT password_hash FROM users WHERE id = %s AND active", (user_id,)
        )
        return str(row["password_hash"]) if row is not None else None

    async def get_user(self, user_id: int) -> User | None:
        """An active user, or None."""
        row = await self._one(f"SELECT {_USER} FROM users WHERE id = %s AND active", (user_id,))
        return User(**row) if row is not None else None

    async def update_user(
        self, user_id: int, email: str | None, password_hash: str | None
    ) -> User | None:
        """One statement: the new values, and a new token generation with a new password."""
        try:
            row = await self._one(
                "UPDATE users SET email = coalesce(%s, email),"
                " password_hash = coalesce(%s, password_hash),"
                " token_generation = token_generation + (%s::text IS NOT NULL)::int"
                f" WHERE id = %s AND active RETURNING {_USER}",
                (email, password_hash, password_hash, user_id),
            )
        except psycopg.errors.UniqueViolation as error:
            raise _taken(error) from None
        return User(**row) if row is not None else None

    async def deactivate_user(self, user_id: int) -> bool:
        """Deactivate and start a new token generation; False if no active user."""
        async with self._connections.connection() as connection:
            cursor = await connection.execute(
                "UPDATE users SET active = false, token_generation = token_generation + 1"
                " WHERE id = %s AND active",
                (user_id,),
            )
            return cursor.rowcount > 0

    async def list_orders(self, user_id: int, after_id: int, limit: int) -> list[Order]:
        """The user's orders after ``after_id``, by id."""
        rows = await self._all(
            f"SELECT {_ORDER} FROM orders WHERE user_id = %s AND id > %s ORDER BY id LIMIT %s",
            (user_id, after_id, limit),
        )
        return [Order(**row) for row in rows]

    async def get_order(self, order_id: int) -> Order | None:
        """Any user's order, or None."""
        row = await self._one(f"SELECT {_ORDER} FROM orders WHERE id = %s", (order_id,))
        return Order(**row) if row is not None else None
