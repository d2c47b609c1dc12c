"""The store's rules and records, independent of gRPC and SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from merchstore.common.messages import DomainEvent, EventType
from merchstore.common.store_fields import EMAIL_PATTERN, SID_PATTERN, USERNAME_PATTERN

USERNAME = re.compile(USERNAME_PATTERN)
EMAIL = re.compile(EMAIL_PATTERN)
SID = re.compile(SID_PATTERN)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
"""As store-api's request bodies: argon2 hashes nothing longer."""
MAX_USERNAME_LENGTH = 64
"""What a login may name (a registered username is 3 to 32 characters)."""
MAX_EMAIL_LENGTH = 254
MAX_SID_LENGTH = 15
MAX_QUANTITY = 3


class StoreError(Exception):
    """A request the store refuses; the message is shown to the user."""


class NotFound(StoreError):
    """No such product, user or order."""


class AlreadyExists(StoreError):
    """The sid, username or email is taken."""


class InvalidArgument(StoreError):
    """The input breaks a rule (username pattern, password length, quantity ...)."""


class Conflict(StoreError):
    """The state forbids it: not enough stock, order already cancelled."""


class Unauthenticated(StoreError):
    """Wrong credentials, or a deactivated user."""


class PermissionDenied(StoreError):
    """Someone else's resource, or a wrong current password."""


class Throttled(StoreError):
    """Too many failed logins for one username; try again after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Busy(StoreError):
    """Too many passwords are being hashed at once; try again shortly."""


MAX_LOGIN_FAILURES = 10
"""Failed logins for one username within `LOGIN_WINDOW_S` before further ones are throttled."""
LOGIN_WINDOW_S = 60
MAX_IDEMPOTENCY_KEY_LENGTH = 255
IDEMPOTENCY_KEY_TTL_S = 24 * 3600
"""An Idempotency-Key is kept this long (as Stripe keeps keys); then it may be used again."""
ORDERS_PAGE_DEFAULT = 50
ORDERS_PAGE_MAX = 200
MAX_PRODUCTS_LISTED = 1000


def check_login_allowed(failures: int, oldest_age_s: float) -> None:
    """Raise Throttled once a username had too many failed logins within the window."""
    if failures >= MAX_LOGIN_FAILURES:
        wait = max(int(LOGIN_WINDOW_S - oldest_age_s) + 1, 1)
        raise Throttled(f"too many failed logins for this username; try again in {wait} s", wait)


def check_idempotency_key(key: str) -> None:
    """Raise InvalidArgument unless the key is 1 to 255 characters."""
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidArgument(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
        )


def order_fingerprint(product_id: int, quantity: int) -> str:
    """What an order request asked for, to tell a repeat from a different request."""
    return f"product_id={product_id};quantity={quantity}"


def page_size(requested: int) -> int:
    """The page size to use: 0 means the default; otherwise 1 to the maximum."""
    if requested == 0:
        return ORDERS_PAGE_DEFAULT
    if not 1 <= requested <= ORDERS_PAGE_MAX:
        raise InvalidArgument(f"limit must be 1 to {ORDERS_PAGE_MAX}")
    return requested


@dataclass(frozen=True)
class Product:
    """A product for sale."""

    id: int
    name: str
    description: str
    category: str
    price: Decimal
    slogan: str
    stock: int
    created_at: datetime


@dataclass(frozen=True)
class User:
    """A store user, without credentials."""

    id: int
    sid: str
    username: str
    email: str
    created_at: datetime
    token_generation: int = 0


@dataclass(frozen=True)
class Order:
    """An order of 1 to 3 items of one product."""

    id: int
    user_id: int
    product_id: int
    quantity: int
    total_price: Decimal
    status: str
    created_at: datetime


def check_lengths(**fields: tuple[str | None, int]) -> None:
    """Raise InvalidArgument for the first field longer than its bound.

    Every text a request carries is measured before any pattern or hash sees it: a pattern may
    take time that grows faster than the text (an address of 8,000 characters took a second),
    and a request may be as large as the server takes.
    """
    for name, (value, bound) in fields.items():
        if value is not None and len(value) > bound:
            raise InvalidArgument(f"{name} must be at most {bound} characters")


def check_new_user(sid: str, username: str, email: str, password: str) -> None:
    """Raise InvalidArgument unless the registration is acceptable."""
    check_lengths(
        sid=(sid, MAX_SID_LENGTH),
        username=(username, MAX_USERNAME_LENGTH),
        email=(email, MAX_EMAIL_LENGTH),
        password=(password, MAX_PASSWORD_LENGTH),
    )
    if not SID.fullmatch(sid):
        raise InvalidArgument(f"sid must be 1 to {MAX_SID_LENGTH} characters, no spaces")
    if not USERNAME.fullmatch(username):
        raise InvalidArgument(
            "username must be 3 to 32 characters of letters, digits, '_', '.' or '-'"
        )
    check_email(email)
    check_password(password)


def check_email(email: str) -> None:
    """Raise InvalidArgument unless ``email`` looks like an address (length first)."""
    check_lengths(email=(email, MAX_EMAIL_LENGTH))
    if not EMAIL.fullmatch(email):
        raise InvalidArgument("email must be an address like name@example.com")


def check_password(password: str) -> None:
    """Raise InvalidArgument unless the password is 8 to 256 characters."""
    check_lengths(password=(password, MAX_PASSWORD_LENGTH))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def check_quantity(quantity: int) -> None:
    """Raise InvalidArgument unless 1 <= quantity <= 3."""
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidArgument(f"quantity must be between 1 and {MAX_QUANTITY}")


def order_event(event_type: EventType, order: Order) -> DomainEvent:
    """The ``events`` message announcing a placed or cancelled order."""
    return DomainEvent.new(
        event_type,
        str(order.user_id),
        {
            "order_id": str(order.id),
            "product_id": str(order.product_id),
            "quantity": str(order.quantity),
            "total_price": f"{order.total_price:.2f}",
        },
    )
