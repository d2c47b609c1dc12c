"""The store's repository in memory: the same contract as PostgreSQL's, for unit tests.

A unit of work holds one lock (changes run one at a time, as row locks make them) and works
on a copy of the state, which replaces the state only if the unit of work ends without error.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from merchstore.common.messages import DomainEvent
from merchstore.db_service.domain import AlreadyExists, Order, Product, User

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


@dataclass
class _Account:
    user: User
    password_hash: str
    active: bool = True


@dataclass
class StoreState:
    """Everything the store keeps."""

    products: dict[int, Product] = field(default_factory=dict)
    accounts: dict[int, _Account] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    keys: dict[tuple[int, str], tuple[str, int | None, float]] = field(default_factory=dict)
    """(fingerprint, order id, when it was taken) by (user id, key)."""
    outbox: list[DomainEvent] = field(default_factory=list)
    login_failures: dict[str, dict[int, tuple[float, bool]]] = field(default_factory=dict)
    """When each noted attempt was made and whether it ended as a failure, by id, per username."""
    attempts: int = 0
    clock_s: float = 0.0


class MemoryUnitOfWork:
    """The steps of one change, on a working copy of the state."""

    def __init__(self, state: StoreState) -> None:
        self.state = state

    async def claim_idempotency_key(
        self, user_id: int, key: str, fingerprint: str, ttl_s: int
    ) -> tuple[str, Order] | None:
        taken = self.state.keys.get((user_id, key))
        if taken is None or taken[2] < self.state.clock_s - ttl_s:
            self.state.keys[(user_id, key)] = (fingerprint, None, self.state.clock_s)
            return None
        fingerprint_taken, order_id, _ = taken
        assert order_id is not None
        return fingerprint_taken, self.state.orders[order_id]

    async def link_idempotency_key(self, user_id: int, key: str, order_id: int) -> None:
        fingerprint, _, taken_at = self.state.keys[(user_id, key)]
        self.state.keys[(user_id, key)] = (fingerprint, order_id, taken_at)

    async def take_stock(self, product_id: int, quantity: int) -> Decimal | None:
        product = self.state.products.get(product_id)
        if product is None or product.stock < quantity:
            return None
        self.state.products[product_id] = replace(product, stock=product.stock - quantity)
        return product.price

    async def stock_of(self, product_id: int) -> int | None:
        product = self.state.products.get(product_id)
        return product.stock if product is not None else None

    async def add_order(
        self, user_id: int, product_id: int, quantity: int, total_price: Decimal
    ) -> Order:
        order = Order(
            len(self.state.orders) + 1, user_id, product_id, quantity, total_price, "placed", NOW
        )
        self.state.orders[order.id] = order
        return order

    async def order_for_update(self, order_id: int) -> Order | None:
        return self.state.orders.get(order_id)

    async def mark_cancelled(self, order_id: int) -> Order:
        cancelled = replace(self.state.orders[order_id], status="cancelled")
        self.state.orders[order_id] = cancelled
        return cancelled

    async def restore_stock(self, product_id: int, quantity: int) -> None:
        product = self.state.products[product_id]
        self.state.products[product_id] = replace(product, stock=product.stock + quantity)

    async def add_to_outbox(self, event: DomainEvent) -> None:
        self.state.outbox.append(event)


class MemoryStoreRepository:
    """:class:`~merchstore.db_service.use_cases.StoreRepository` over plain dictionaries."""

    def __init__(self, products: list[Product] | None = None) -> None:
        self.state = StoreState(products={p.id: p for p in products or []})
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[MemoryUnitOfWork]:
        async with self._lock:
            work = MemoryUnitOfWork(copy.deepcopy(self.state))
            yield work
            self.state = work.state  # reached only without an error: a commit

    async def list_products(self, limit: int) -> list[Product]:
        return [self.state.products[i] for i in sorted(self.state.products)][:limit]

    async def get_product(self, product_id: int) -> Product | None:
        return self.state.products.get(product_id)

    async def add_user(self, sid: str, username: str, email: str, password_hash: str) -> User:
        for account in self.state.accounts.values():
            for name, value in (("sid", sid), ("username", username), ("email", email)):
                if getattr(account.user, name) == value:
                    raise AlreadyExists(f"{name} is already taken")
        user = User(len(self.state.accounts) + 1, sid, username, email, NOW)
        self.state.accounts[user.id] = _Account(user, password_hash)
        return user

    async def begin_login_attempt(
        self, username: str, window_s: int, max_failures: int
    ) -> tuple[int, float, int]:
        now = self.state.clock_s
        noted = self.state.login_failures.setdefault(username, {})
        for attempt, (at, _) in list(noted.items()):
            if at < now - window_s:
                del noted[attempt]
        failures = sum(settled for _, settled in noted.values())
        in_progress = len(noted) - failures
        oldest_age_s = (now - min(at for at, _ in noted.values())) if noted else 0.0
        if failures + in_progress >= max_failures:
            return failures, oldest_age_s, 0
        self.state.attempts += 1
        noted[self.state.attempts] = (now, False)
        return failures, oldest_age_s, self.state.attempts

    async def settle_login_attempt(self, attempt_id: int, failed: bool) -> None:
        for noted in self.state.login_failures.values():
            if attempt_id in noted:
                if failed:
                    noted[attempt_id] = (noted[attempt_id][0], True)
                else:
                    del noted[attempt_id]

    async def forget_expired(self, login_window_s: int, idempotency_key_ttl_s: int) -> int:
        now, forgotten = self.state.clock_s, 0
        for noted in self.state.login_failures.values():
            for attempt, (at, _) in list(noted.items()):
                if at < now - login_window_s:
                    del noted[attempt]
                    forgotten += 1
        for key, (_, _, taken_at) in list(self.state.keys.items()):
            if taken_at < now - idempotency_key_ttl_s:
                del self.state.keys[key]
                forgotten += 1
        return forgotten

    async def active_user_by_name(self, username: str) -> tuple[User, str] | None:
        for account in self.state.accounts.values():
            if account.active and account.user.username == username:
                return account.user, account.password_hash
        return None

    async def password_hash_of(self, user_id: int) -> str | None:
        account = self.state.accounts.get(user_id)
        return account.password_hash if account and account.active else None

    async def get_user(self, user_id: int) -> User | None:
        account = self.state.accounts.get(user_id)
        return account.user if account and account.active else None

    async def update_user(
        self, user_id: int, email: str | None, password_hash: str | None
    ) -> User | None:
        account = self.state.accounts.get(user_id)
        if account is None or not account.active:
            return None
        if email is not None and any(
            a.user.email == email for i, a in self.state.accounts.items() if i != user_id
        ):
            raise AlreadyExists("email is already taken")
        user = replace(
            account.user,
            email=email if email is not None else account.user.email,
            token_generation=account.user.token_generation + (password_hash is not None),
        )
        account.user = user
        account.password_hash = password_hash or account.password_hash
        return user

    async def deactivate_user(self, user_id: int) -> bool:
        account = self.state.accounts.get(user_id)
        if account is None or not account.active:
            return False
        account.active = False
        account.user = replace(account.user, token_generation=account.user.token_generation + 1)
        return True

    async def list_orders(self, user_id: int, after_id: int, limit: int) -> list[Order]:
        mine = [o for i, o in sorted(self.state.orders.items()) if o.user_id == user_id]
        return [o for o in mine if o.id > after_id][:limit]

    async def get_order(self, order_id: int) -> Order | None:
        return self.state.orders.get(order_id)
