"""PostgreSQL adapter of db-service: every multi-statement change is one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from merchstore.common.domain_events import DomainEvent
from merchstore.db_service import domain
from merchstore.db_service.domain import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    NotFound,
    Order,
    PermissionDenied,
    Product,
    Unauthenticated,
    User,
)
from merchstore.db_service.passwords import PasswordWork

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


class StoreRepository:
    """Products, users, orders and the outbox."""

    def __init__(self, connections: ConnectionSource, passwords: PasswordWork) -> None:
        self._connections = connections
        self._passwords = passwords

    async def list_products(self) -> list[Product]:
        """Every product, by id."""
        async with self._connections.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            rows = await (
                # Bounded, as every reply is: far above any catalogue, far below gRPC's 4 MB.
                await cursor.execute(
                    f"SELECT {_PRODUCT} FROM products ORDER BY id LIMIT %s",
                    (domain.MAX_PRODUCTS_LISTED,),
                )
            ).fetchall()
        return [Product(**row) for row in rows]

    async def get_product(self, product_id: int) -> Product:
        """One product; NotFound if there is none."""
        async with self._connections.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(f"SELECT {_PRODUCT} FROM products WHERE id = %s", (product_id,))
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"product {product_id} not found")
        return Product(**row)

    async def create_user(self, sid: str, username: str, email: str, password: str) -> User:
        """Register a user; AlreadyExists if the sid, username or email is taken."""
        domain.check_new_user(sid, username, email, password)
        password_hash = await self._passwords.hash(password)
        try:
            async with self._connections.connection() as connection:
                cursor = connection.cursor(row_factory=dict_row)
                await cursor.execute(
                    "INSERT INTO users (sid, username, email, password_hash)"
                    f" VALUES (%s, %s, %s, %s) RETURNING {_USER}",
                    (sid, username, email, password_hash),
                )
                row = await cursor.fetchone()
        except psycopg.errors.UniqueViolation as error:
            raise _taken(error) from None
        assert row is not None
        return User(**row)

    async def authenticate(self, username: str, password: str) -> User:
        """The active user with these credentials; Unauthenticated otherwise.

        Throttled after too many failed logins for the username within the window: checked
        before the costly password check, so throttled attempts cost the database one query.
        """
        async with self._connections.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(
                "SELECT count(*) AS failures,"
                " coalesce(extract(epoch FROM now() - min(failed_at)), 0) AS oldest_age_s"
                " FROM login_failures WHERE username = %s"
                " AND failed_at > now() - make_interval(secs => %s)",
                (username, domain.LOGIN_WINDOW_S),
            )
            recent = await cursor.fetchone()
            assert recent is not None
            domain.check_login_allowed(int(recent["failures"]), float(recent["oldest_age_s"]))
            await cursor.execute(
                f"SELECT {_USER}, password_hash FROM users WHERE username = %s AND active",
                (username,),
            )
            row = await cursor.fetchone()
        password_hash = row.pop("password_hash") if row else None
        if not await self._passwords.verify(password_hash, password) or row is None:
            async with self._connections.connection() as connection:
                await connection.execute(
                    "DELETE FROM login_failures WHERE username = %s"
                    " AND failed_at < now() - make_interval(secs => %s)",
                    (username, domain.LOGIN_WINDOW_S),
                )
                await connection.execute(
                    "INSERT INTO login_failures (username) VALUES (%s)", (username,)
                )
            raise Unauthenticated("wrong username or password")
        return User(**row)

    async def get_user(self, user_id: int) -> User:
        """An active user; NotFound for an unknown or deactivated one."""
        async with self._connections.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(f"SELECT {_USER} FROM users WHERE id = %s AND active", (user_id,))
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return User(**row)

    async def update_user(
        self,
        user_id: int,
        email: str | None,
        password: str | None,
        current_password: str | None = None,
    ) -> User:
        """Change the email and/or password of an active user.

        A new password needs the current one, and makes every earlier token stale.
        """
        if email is not None:
            domain.check_email(email)
        password_hash = None
        if password is not None:
            domain.check_password(password)
            if current_password is None:
                raise PermissionDenied("current_password is required to change the password")
            await self._check_current_password(user_id, current_password)
            password_hash = await self._passwords.hash(password)
        try:
            async with self._connections.connection() as connection:
                cursor = connection.cursor(row_factory=dict_row)
                await cursor.execute(
                    "UPDATE users SET email = coalesce(%s, email),"
                    " password_hash = coalesce(%s, password_hash),"
                    " token_generation = token_generation + (%s::text IS NOT NULL)::int"
                    f" WHERE id = %s AND active RETURNING {_USER}",
                    (email, password_hash, password_hash, user_id),
                )
                row = await cursor.fetchone()
        except psycopg.errors.UniqueViolation as error:
            raise _taken(error) from None
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return User(**row)

    async def _check_current_password(self, user_id: int, current_password: str) -> None:
        async with self._connections.connection() as connection:
            cursor = await connection.execute(
                "SELECT password_hash FROM users WHERE id = %s AND active", (user_id,)
            )
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"user {user_id} not found")
        if not await self._passwords.verify(row[0], current_password):
            raise PermissionDenied("current_password is wrong")

    async def deactivate_user(self, user_id: int) -> None:
        """Deactivate a user: login and tokens stop working."""
        async with self._connections.connection() as connection:
            cursor = await connection.execute(
                "UPDATE users SET active = false, token_generation = token_generation + 1"
                " WHERE id = %s AND active",
                (user_id,),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"user {user_id} not found")

    async def place_order(
        self, user_id: int, product_id: int, quantity: int, idempotency_key: str = ""
    ) -> Order:
        """Take stock and record the order and its event, all or nothing.

        The stock update is conditional (``stock >= quantity``) on a locked row, so concurrent
        orders for the last items never oversell. With an idempotency key, the key is stored
        in the same transaction: a concurrent or later repeat waits for it and gets the same
        order back; the same key with another request is InvalidArgument.
        """
        domain.check_quantity(quantity)
        if idempotency_key:
            domain.check_idempotency_key(idempotency_key)
        fingerprint = domain.order_fingerprint(product_id, quantity)
        async with self._connections.connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=dict_row)
            if idempotency_key:
                earlier = await self._order_for_key(cursor, user_id, idempotency_key, fingerprint)
                if earlier is not None:
                    return earlier
            await cursor.execute(
                "UPDATE products SET stock = stock - %s WHERE id = %s AND stock >= %s"
                " RETURNING price",
                (quantity, product_id, quantity),
            )
            taken = await cursor.fetchone()
            if taken is None:
                await cursor.execute("SELECT stock FROM products WHERE id = %s", (product_id,))
                product = await cursor.fetchone()
                if product is None:
                    raise NotFound(f"product {product_id} not found")
                raise Conflict(f"not enough stock: {product['stock']} left, {quantity} asked")
            await cursor.execute(
                "INSERT INTO orders (user_id, product_id, quantity, total_price)"
                f" VALUES (%s, %s, %s, %s * %s) RETURNING {_ORDER}",
                (user_id, product_id, quantity, taken["price"], quantity),
            )
            row = await cursor.fetchone()
            assert row is not None
            order = Order(**row)
            if idempotency_key:
                await cursor.execute(
                    "UPDATE order_idempotency_keys SET order_id = %s"
                    " WHERE user_id = %s AND idempotency_key = %s",
                    (order.id, user_id, idempotency_key),
                )
            await self._add_to_outbox(connection, domain.order_event("order_placed", order))
        return order

    @staticmethod
    async def _order_for_key(
        cursor: psycopg.AsyncCursor[dict[str, Any]],
        user_id: int,
        key: str,
        fingerprint: str,
    ) -> Order | None:
        """Claim the key in this transaction, or return the order it already names.

        A concurrent request with the same key blocks on the insert until this transaction
        ends, then finds the key taken and the order committed with it.
        """
        # order_id is filled in before this transaction commits.
        await cursor.execute(
            "INSERT INTO order_idempotency_keys (user_id, idempotency_key, request_fingerprint)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING user_id",
            (user_id, key, fingerprint),
        )
        if await cursor.fetchone() is not None:
            return None
        await cursor.execute(
            "SELECT k.request_fingerprint, o.* FROM order_idempotency_keys k"
            " JOIN orders o ON o.id = k.order_id"
            " WHERE k.user_id = %s AND k.idempotency_key = %s",
            (user_id, key),
        )
        row = await cursor.fetchone()
        assert row is not None
        if row.pop("request_fingerprint") != fingerprint:
            raise InvalidArgument("this Idempotency-Key was used with another request body")
        return Order(**{k: row[k] for k in _ORDER.split(", ")})

    async def list_orders(
        self, user_id: int, limit: int = 0, after_id: int = 0
    ) -> tuple[list[Order], int]:
        """One page of the user's orders, oldest first, and the id to continue after (0)."""
        size = domain.page_size(limit)
        async with self._connections.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(
                f"SELECT {_ORDER} FROM orders WHERE user_id = %s AND id > %s ORDER BY id LIMIT %s",
                (user_id, after_id, size + 1),
            )
            rows = await cursor.fetchall()
        orders = [Order(**row) for row in rows[:size]]
        return orders, orders[-1].id if len(rows) > size else 0

    async def get_order(self, order_id: int, user_id: int) -> Order:
        """One of the caller's orders; NotFound, or PermissionDenied if someone else's."""
        async with self._connections.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(f"SELECT {_ORDER} FROM orders WHERE id = %s", (order_id,))
            row = await cursor.fetchone()
        return _owned(row, order_id, user_id)

    async def cancel_order(self, order_id: int, user_id: int) -> Order:
        """Cancel the caller's order and restore its stock, all or nothing."""
        async with self._connections.connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(
                f"SELECT {_ORDER} FROM orders WHERE id = %s FOR UPDATE", (order_id,)
            )
            order = _owned(await cursor.fetchone(), order_id, user_id)
            if order.status == "cancelled":
                raise Conflict(f"order {order_id} is already cancelled")
            await cursor.execute(
                "UPDATE orders SET status = 'cancelled', cancelled_at = now()"
                f" WHERE id = %s RETURNING {_ORDER}",
                (order_id,),
            )
            row = await cursor.fetchone()
            await cursor.execute(
                "UPDATE products SET stock = stock + %s WHERE id = %s",
                (order.quantity, order.product_id),
            )
            assert row is not None
            cancelled = Order(**row)
            await self._add_to_outbox(connection, domain.order_event("order_cancelled", cancelled))
        return cancelled

    @staticmethod
    async def _add_to_outbox(connection: psycopg.AsyncConnection[Any], event: DomainEvent) -> None:
        await connection.execute(
            "INSERT INTO outbox (event_id, message_key, payload) VALUES (%s, %s, %s)",
            (event.event_id, event.user_id, event.to_json().decode()),
        )


def _owned(row: dict[str, Any] | None, order_id: int, user_id: int) -> Order:
    if row is None:
        raise NotFound(f"order {order_id} not found")
    order = Order(**row)
    if order.user_id != user_id:
        raise PermissionDenied(f"order {order_id} belongs to another user")
    return order
