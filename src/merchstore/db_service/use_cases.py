"""The store's use cases: every rule of products, users and orders, over a repository.

Nothing here knows PostgreSQL or gRPC. The repository (:class:`StoreRepository`) stores and
finds; a unit of work (:class:`StoreUnitOfWork`) groups the steps of one change so that they
commit together or not at all. The rules (validation, password checks, login throttling,
ownership, stock, idempotency) are decided here, so they are tested against an in-memory
repository (``tests/db_service/test_service_rules.py``) as well as against PostgreSQL.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Protocol

from merchstore.common.messages import DomainEvent
from merchstore.db_service import domain
from merchstore.db_service.adapters.passwords import PasswordWork
from merchstore.db_service.domain import (
    Busy,
    Conflict,
    InvalidArgument,
    NotFound,
    Order,
    PermissionDenied,
    Product,
    Unauthenticated,
    User,
)


class StoreUnitOfWork(Protocol):
    """The steps of one change, committed together when the unit of work ends without error."""

    async def claim_idempotency_key(
        self, user_id: int, key: str, fingerprint: str, ttl_s: int
    ) -> tuple[str, Order] | None:
        """Take ``key`` for this change; or, if a committed change took it, its request and order.

        A concurrent change claiming the same key waits until this one ends; a key taken longer
        than ``ttl_s`` ago has expired and is taken anew.
        """
        ...

    async def link_idempotency_key(self, user_id: int, key: str, order_id: int) -> None:
        """Record the order a claimed key produced."""
        ...

    async def take_stock(self, product_id: int, quantity: int) -> Decimal | None:
        """Take ``quantity`` if that many are in stock; the unit price, or None if not taken."""
        ...

    async def stock_of(self, product_id: int) -> int | None:
        """The product's stock, or None if there is no such product."""
        ...

    async def add_order(
        self, user_id: int, product_id: int, quantity: int, total_price: Decimal
    ) -> Order:
        """Record a new placed order."""
        ...

    async def order_for_update(self, order_id: int) -> Order | None:
        """The order, locked until this unit of work ends; None if there is none."""
        ...

    async def mark_cancelled(self, order_id: int) -> Order:
        """Mark the order cancelled (now)."""
        ...

    async def restore_stock(self, product_id: int, quantity: int) -> None:
        """Put ``quantity`` back in stock."""
        ...

    async def add_to_outbox(self, event: DomainEvent) -> None:
        """Keep ``event`` to be published once this change has committed."""
        ...


class StoreRepository(Protocol):
    """Where products, users and orders are kept."""

    def unit_of_work(self) -> AbstractAsyncContextManager[StoreUnitOfWork]:
        """A unit of work: committed on a normal exit, rolled back if anything raised."""
        ...

    async def list_products(self, limit: int) -> list[Product]:
        """At most ``limit`` products, by id."""
        ...

    async def get_product(self, product_id: int) -> Product | None:
        """One product, or None."""
        ...

    async def add_user(self, sid: str, username: str, email: str, password_hash: str) -> User:
        """A new active user; AlreadyExists (naming the field) if sid, username or email taken."""
        ...

    async def begin_login_attempt(
        self, username: str, window_s: int, max_failures: int
    ) -> tuple[int, float, int]:
        """Count failed logins and those in progress within the window; below the bound, note one.

        Attempts of one username are counted one after the other, whatever runs at once: each
        sees those before it. Returns the failures, the oldest one's age (s), and the new
        attempt's id (0 when failures and attempts in progress reach ``max_failures``).
        """
        ...

    async def settle_login_attempt(self, attempt_id: int, failed: bool) -> None:
        """The noted attempt ended: a failure is kept as one, anything else forgotten."""
        ...

    async def forget_expired(self, login_window_s: int, idempotency_key_ttl_s: int) -> int:
        """Delete failures past the window and idempotency keys past their lifetime."""
        ...

    async def active_user_by_name(self, username: str) -> tuple[User, str] | None:
        """The active user called ``username`` and their password hash, or None."""
        ...

    async def password_hash_of(self, user_id: int) -> str | None:
        """The password hash of an active user, or None."""
        ...

    async def get_user(self, user_id: int) -> User | None:
        """An active user, or None."""
        ...

    async def update_user(
        self, user_id: int, email: str | None, password_hash: str | None
    ) -> User | None:
        """Change what is given of an active user; a new password starts a new token generation.

        None if there is no such active user; AlreadyExists if the email is taken.
        """
        ...

    async def deactivate_user(self, user_id: int) -> bool:
        """Deactivate an active user and start a new token generation; False if none."""
        ...

    async def list_orders(self, user_id: int, after_id: int, limit: int) -> list[Order]:
        """At most ``limit`` of the user's orders with an id above ``after_id``, by id."""
        ...

    async def get_order(self, order_id: int) -> Order | None:
        """Any user's order, or None."""
        ...


class StoreService:
    """The store's use cases; raises the store errors of :mod:`domain` for every refusal."""

    def __init__(self, repository: StoreRepository, passwords: PasswordWork) -> None:
        self._repository = repository
        self._passwords = passwords

    async def list_products(self) -> list[Product]:
        """Every product, by id (bounded, as every reply is)."""
        return await self._repository.list_products(domain.MAX_PRODUCTS_LISTED)

    async def get_product(self, product_id: int) -> Product:
        """One product; NotFound if there is none."""
        product = await self._repository.get_product(product_id)
        if product is None:
            raise NotFound(f"product {product_id} not found")
        return product

    async def create_user(self, sid: str, username: str, email: str, password: str) -> User:
        """Register a user; AlreadyExists if the sid, username or email is taken."""
        domain.check_new_user(sid, username, email, password)
        password_hash = await self._passwords.hash(password)
        return await self._repository.add_user(sid, username, email, password_hash)

    async def authenticate(self, username: str, password: str) -> User:
        """The active user with these credentials; Unauthenticated otherwise.

        Throttled after too many failed logins for the username within the window: checked
        before the costly password check, so throttled attempts cost no hashing. Each attempt
        is noted as a failure before its password is checked and forgotten if it was right, so
        concurrent guesses cannot all pass the count before any is recorded.
        """
        domain.check_lengths(
            username=(username, domain.MAX_USERNAME_LENGTH),
            password=(password, domain.MAX_PASSWORD_LENGTH),
        )
        failures, oldest_age_s, attempt = await self._repository.begin_login_attempt(
            username, domain.LOGIN_WINDOW_S, domain.MAX_LOGIN_FAILURES
        )
        domain.check_login_allowed(failures, oldest_age_s)
        if not attempt:  # the bound is reached only with attempts still being checked
            raise Busy("logins for this username are being checked; try again shortly")
        found = await self._repository.active_user_by_name(username)
        # Verified even for an unknown name, so the answer takes as long either way.
        password_hash = found[1] if found else None
        try:
            verified = await self._passwords.verify(password_hash, password)
        except Busy:
            await self._repository.settle_login_attempt(attempt, failed=False)  # no guess made
            raise
        failed = not verified or found is None
        await self._repository.settle_login_attempt(attempt, failed)
        if failed or found is None:
            raise Unauthenticated("wrong username or password")
        return found[0]

    async def forget_expired(self) -> int:
        """Delete login failures and idempotency keys that can no longer matter."""
        return await self._repository.forget_expired(
            domain.LOGIN_WINDOW_S, domain.IDEMPOTENCY_KEY_TTL_S
        )

    async def get_user(self, user_id: int) -> User:
        """An active user; NotFound for an unknown or deactivated one."""
        user = await self._repository.get_user(user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

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
        domain.check_lengths(current_password=(current_password, domain.MAX_PASSWORD_LENGTH))
        if email is not None:
            domain.check_email(email)
        password_hash = None
        if password is not None:
            domain.check_password(password)
            if current_password is None:
                raise PermissionDenied("current_password is required to change the password")
            current_hash = await self._repository.password_hash_of(user_id)
            if current_hash is None:
                raise NotFound(f"user {user_id} not found")
            if not await self._passwords.verify(current_hash, current_password):
                raise PermissionDenied("current_password is wrong")
            password_hash = await self._passwords.hash(password)
        user = await self._repository.update_user(user_id, email, password_hash)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

    async def deactivate_user(self, user_id: int) -> None:
        """Deactivate a user: login and tokens stop working."""
        if not await self._repository.deactivate_user(user_id):
            raise NotFound(f"user {user_id} not found")

    async def place_order(
        self, user_id: int, product_id: int, quantity: int, idempotency_key: str = ""
    ) -> Order:
        """Take stock and record the order and its event, all or nothing.

        Stock is taken only if enough is left, so concurrent orders for the last items never
        oversell. With an idempotency key, a concurrent or later repeat gets the same order
        back; the same key with another request is InvalidArgument.
        """
        domain.check_quantity(quantity)
        if idempotency_key:
            domain.check_idempotency_key(idempotency_key)
        fingerprint = domain.order_fingerprint(product_id, quantity)
        async with self._repository.unit_of_work() as work:
            if idempotency_key:
                earlier = await work.claim_idempotency_key(
                    user_id, idempotency_key, fingerprint, domain.IDEMPOTENCY_KEY_TTL_S
                )
                if earlier is not None:
                    earlier_fingerprint, earlier_order = earlier
                    if earlier_fingerprint != fingerprint:
                        raise InvalidArgument(
                            "this Idempotency-Key was used with another request body"
                        )
                    return earlier_order
            price = await work.take_stock(product_id, quantity)
            if price is None:
                stock = await work.stock_of(product_id)
                if stock is None:
                    raise NotFound(f"product {product_id} not found")
                raise Conflict(f"not enough stock: {stock} left, {quantity} asked")
            order = await work.add_order(user_id, product_id, quantity, price * quantity)
            if idempotency_key:
                await work.link_idempotency_key(user_id, idempotency_key, order.id)
            await work.add_to_outbox(domain.order_event("order_placed", order))
        return order

    async def list_orders(
        self, user_id: int, limit: int = 0, after_id: int = 0
    ) -> tuple[list[Order], int]:
        """One page of the user's orders, oldest first, and the id to continue after (0)."""
        size = domain.page_size(limit)
        found = await self._repository.list_orders(user_id, after_id, size + 1)
        orders = found[:size]
        return orders, orders[-1].id if len(found) > size else 0

    async def get_order(self, order_id: int, user_id: int) -> Order:
        """One of the caller's orders; NotFound, or PermissionDenied if someone else's."""
        return _owned(await self._repository.get_order(order_id), order_id, user_id)

    async def cancel_order(self, order_id: int, user_id: int) -> Order:
        """Cancel the caller's order and restore its stock, all or nothing."""
        async with self._repository.unit_of_work() as work:
            order = _owned(await work.order_for_update(order_id), order_id, user_id)
            if order.status == "cancelled":
                raise Conflict(f"order {order_id} is already cancelled")
            cancelled = await work.mark_cancelled(order_id)
            await work.restore_stock(order.product_id, order.quantity)
            await work.add_to_outbox(domain.order_event("order_cancelled", cancelled))
        return cancelled


def _owned(order: Order | None, order_id: int, user_id: int) -> Order:
    if order is None:
        raise NotFound(f"order {order_id} not found")
    if order.user_id != user_id:
        raise PermissionDenied(f"order {order_id} belongs to another user")
    return order
