"""Every store rule, decided by the service layer, against the in-memory repository."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from merchstore.db_service import domain
from merchstore.db_service.adapters.passwords import PasswordWork
from merchstore.db_service.domain import (
    AlreadyExists,
    Busy,
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Product,
    Throttled,
    Unauthenticated,
)
from merchstore.db_service.use_cases import StoreService
from tests.unit.db_service.memory_repository import NOW, MemoryStoreRepository

T = TypeVar("T")
HOODIE = Product(1, "SUSTech Hoodie", "warm", "Apparel", Decimal("49.99"), "wear it", 5, NOW)


def run(work: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(work)


@pytest.fixture
def repository() -> MemoryStoreRepository:
    return MemoryStoreRepository([HOODIE])


@pytest.fixture
def store(repository: MemoryStoreRepository) -> StoreService:
    return StoreService(repository, PasswordWork(max_concurrent=2, max_waiting=8))


def register(store: StoreService, name: str = "alice", password: str = "password-1") -> int:
    user = run(
        store.create_user(f"S{abs(hash(name)) % 10**8:08d}", name, f"{name}@x.org", password)
    )
    return user.id


def test_a_registered_user_logs_in_with_the_right_password_only(store: StoreService) -> None:
    user_id = register(store)
    assert run(store.authenticate("alice", "password-1")).id == user_id
    with pytest.raises(Unauthenticated):
        run(store.authenticate("alice", "wrong-password"))
    with pytest.raises(Unauthenticated):
        run(store.authenticate("nobody", "password-1"))


def test_a_taken_sid_username_or_email_is_named(store: StoreService) -> None:
    run(store.create_user("S1", "alice", "alice@x.org", "password-1"))
    for sid, name, email, field in (
        ("S1", "bob", "bob@x.org", "sid"),
        ("S2", "alice", "bob@x.org", "username"),
        ("S3", "bob", "alice@x.org", "email"),
    ):
        with pytest.raises(AlreadyExists, match=field):
            run(store.create_user(sid, name, email, "password-1"))


def test_invalid_new_users_are_refused_before_anything_is_stored(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    with pytest.raises(InvalidArgument):
        run(store.create_user("S1", "alice", "not-an-email", "password-1"))
    with pytest.raises(InvalidArgument):
        run(store.create_user("S1", "alice", "alice@x.org", "short"))
    assert repository.state.accounts == {}


def test_ten_failures_within_the_window_throttle_the_username(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    register(store)
    for _ in range(domain.MAX_LOGIN_FAILURES):
        with pytest.raises(Unauthenticated):
            run(store.authenticate("alice", "wrong-password"))
    with pytest.raises(Throttled) as throttled:
        run(store.authenticate("alice", "password-1"))
    assert 1 <= throttled.value.retry_after_s <= domain.LOGIN_WINDOW_S + 1
    repository.state.clock_s += domain.LOGIN_WINDOW_S + 1
    assert run(store.authenticate("alice", "password-1")).username == "alice"


def test_a_password_change_needs_the_current_one_and_starts_a_new_token_generation(
    store: StoreService,
) -> None:
    user_id = register(store)
    with pytest.raises(PermissionDenied, match="required"):
        run(store.update_user(user_id, None, "password-2"))
    with pytest.raises(PermissionDenied, match="wrong"):
        run(store.update_user(user_id, None, "password-2", "not-it"))
    before = run(store.get_user(user_id)).token_generation
    changed = run(store.update_user(user_id, None, "password-2", "password-1"))
    assert changed.token_generation == before + 1
    assert run(store.authenticate("alice", "password-2")).id == user_id
    email_only = run(store.update_user(user_id, "new@x.org", None))
    assert (email_only.email, email_only.token_generation) == ("new@x.org", before + 1)


def test_a_deactivated_user_is_gone_and_cannot_log_in(store: StoreService) -> None:
    user_id = register(store)
    run(store.deactivate_user(user_id))
    with pytest.raises(NotFound):
        run(store.get_user(user_id))
    with pytest.raises(Unauthenticated):
        run(store.authenticate("alice", "password-1"))
    with pytest.raises(NotFound):
        run(store.deactivate_user(user_id))


def test_an_order_takes_stock_and_queues_its_event_together(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    user_id = register(store)
    order = run(store.place_order(user_id, 1, 3))
    assert (order.quantity, order.total_price, order.status) == (3, Decimal("149.97"), "placed")
    assert repository.state.products[1].stock == 2
    [event] = repository.state.outbox
    assert (event.event_type, event.metadata["order_id"]) == ("order_placed", str(order.id))


def test_stock_never_goes_below_zero_and_a_refusal_changes_nothing(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    user_id = register(store)
    run(store.place_order(user_id, 1, 3))
    with pytest.raises(Conflict, match="2 left, 3 asked"):
        run(store.place_order(user_id, 1, 3))
    assert repository.state.products[1].stock == 2
    assert len(repository.state.orders) == 1 and len(repository.state.outbox) == 1
    with pytest.raises(NotFound):
        run(store.place_order(user_id, 99, 1))
    for quantity in (0, 4):
        with pytest.raises(InvalidArgument):
            run(store.place_order(user_id, 1, quantity))


def test_orders_for_the_last_items_are_refused_once_the_stock_is_gone(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    # Eight orders at once for five items: the rule (five succeed, three are refused with
    # Conflict, stock 0) given orders that the unit of work runs one at a time, as the fake's
    # lock does. That PostgreSQL's unit of work serialises them is proven on the real database
    # by tests/integration/store_api/test_integrity.py (200 clients, never oversold).
    user_id = register(store)

    async def buy_all() -> list[object]:
        orders = [store.place_order(user_id, 1, 1) for _ in range(8)]
        return list(await asyncio.gather(*orders, return_exceptions=True))

    outcomes = run(buy_all())
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 5
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, BaseException))
    assert repository.state.products[1].stock == 0


def test_an_idempotency_key_makes_one_order_and_refuses_another_body(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    user_id = register(store)
    first = run(store.place_order(user_id, 1, 2, "key-1"))
    again = run(store.place_order(user_id, 1, 2, "key-1"))
    assert again == first
    assert repository.state.products[1].stock == 3 and len(repository.state.outbox) == 1
    with pytest.raises(InvalidArgument, match="another request body"):
        run(store.place_order(user_id, 1, 1, "key-1"))
    with pytest.raises(InvalidArgument):
        run(store.place_order(user_id, 1, 1, "k" * (domain.MAX_IDEMPOTENCY_KEY_LENGTH + 1)))


def test_a_refused_order_leaves_its_idempotency_key_free(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    user_id = register(store)
    with pytest.raises(NotFound):
        run(store.place_order(user_id, 99, 1, "key-1"))
    assert repository.state.keys == {}
    assert run(store.place_order(user_id, 1, 1, "key-1")).product_id == 1


def test_orders_belong_to_their_owner(store: StoreService) -> None:
    alice, bob = register(store, "alice"), register(store, "bob")
    order = run(store.place_order(alice, 1, 1))
    assert run(store.get_order(order.id, alice)) == order
    with pytest.raises(PermissionDenied):
        run(store.get_order(order.id, bob))
    with pytest.raises(PermissionDenied):
        run(store.cancel_order(order.id, bob))
    with pytest.raises(NotFound):
        run(store.get_order(99, alice))
    assert run(store.list_orders(bob)) == ([], 0)


def test_cancelling_restores_stock_once_and_queues_its_event(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    user_id = register(store)
    order = run(store.place_order(user_id, 1, 2))
    cancelled = run(store.cancel_order(order.id, user_id))
    assert cancelled.status == "cancelled" and repository.state.products[1].stock == 5
    with pytest.raises(Conflict, match="already cancelled"):
        run(store.cancel_order(order.id, user_id))
    assert repository.state.products[1].stock == 5
    assert [e.event_type for e in repository.state.outbox] == ["order_placed", "order_cancelled"]


def test_orders_are_listed_a_bounded_page_at_a_time(store: StoreService) -> None:
    user_id = register(store)
    placed = [run(store.place_order(user_id, 1, 1)).id for _ in range(5)]
    page, after = run(store.list_orders(user_id, limit=2))
    assert [o.id for o in page] == placed[:2] and after == placed[1]
    page, after = run(store.list_orders(user_id, limit=2, after_id=after))
    assert [o.id for o in page] == placed[2:4]
    page, after = run(store.list_orders(user_id, limit=2, after_id=after))
    assert [o.id for o in page] == placed[4:] and after == 0
    with pytest.raises(InvalidArgument):
        run(store.list_orders(user_id, limit=domain.ORDERS_PAGE_MAX + 1))


def test_an_unknown_product_is_not_found(store: StoreService) -> None:
    assert run(store.get_product(1)) == HOODIE
    assert run(store.list_products()) == [HOODIE]
    with pytest.raises(NotFound):
        run(store.get_product(2))


def test_concurrent_guesses_get_no_more_tries_than_the_bound(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    register(store, "erin")

    async def guess_at_once() -> list[BaseException | object]:
        guesses = [store.authenticate("erin", f"guess-{n:04d}") for n in range(30)]
        return list(await asyncio.gather(*guesses, return_exceptions=True))

    outcomes = run(guess_at_once())
    checked = [o for o in outcomes if isinstance(o, Unauthenticated)]
    assert len(checked) == domain.MAX_LOGIN_FAILURES
    # The others: throttled, or asked to retry while the first ten are being checked.
    assert all(isinstance(o, Unauthenticated | Throttled | Busy) for o in outcomes)
    with pytest.raises(Throttled):
        run(store.authenticate("erin", "password-1"))  # ten failures: even the right one waits


def test_a_successful_login_is_not_counted_as_a_failure(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    register(store, "fay")
    for _ in range(domain.MAX_LOGIN_FAILURES - 1):
        with pytest.raises(Unauthenticated):
            run(store.authenticate("fay", "wrong-password"))
    for _ in range(5):
        assert run(store.authenticate("fay", "password-1")).username == "fay"


def test_an_idempotency_key_expires_after_its_lifetime(
    store: StoreService, repository: MemoryStoreRepository
) -> None:
    user_id = register(store)
    first = run(store.place_order(user_id, 1, 1, "key-1"))
    repository.state.clock_s += domain.IDEMPOTENCY_KEY_TTL_S - 1
    assert run(store.place_order(user_id, 1, 1, "key-1")) == first
    repository.state.clock_s += 2
    assert run(store.place_order(user_id, 1, 1, "key-1")).id != first.id
    repository.state.clock_s += domain.IDEMPOTENCY_KEY_TTL_S + 1
    assert run(store.forget_expired()) == 1 and repository.state.keys == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a@" + "." * 100_000 + "@"),
        ("sid", "1" * 100_000),
        ("username", "u" * 100_000),
        ("password", "p" * 100_000),
    ],
)
def test_a_field_past_its_bound_is_refused_before_any_pattern_or_hash_sees_it(
    store: StoreService, monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    class PatternThatMustNotRun:
        def fullmatch(self, text: str) -> None:
            raise AssertionError(f"a pattern ran on {len(text)} characters")

    for pattern in ("EMAIL", "SID", "USERNAME"):
        monkeypatch.setattr(domain, pattern, PatternThatMustNotRun())
    fields = {"sid": "S1", "username": "alice", "email": "a@x.org", "password": "password-1"}
    with pytest.raises(InvalidArgument, match=f"{field} must be at most"):
        run(store.create_user(**{**fields, field: value}))
    with pytest.raises(InvalidArgument, match="must be at most"):
        run(store.authenticate("u" * 100_000, "password-1"))
    with pytest.raises(InvalidArgument, match="must be at most"):
        run(store.update_user(1, "a@" + "." * 100_000 + "@", None))
