"""The store's rules and records, independent of gRPC and SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from merchstore.common.domain_events import DomainEvent, EventType

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8
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
    """Someone else's resource."""


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


def check_new_user(sid: str, username: str, email: str, password: str) -> None:
    """Raise InvalidArgument unless the registration is acceptable."""
    if not 1 <= len(sid) <= MAX_SID_LENGTH:
        raise InvalidArgument(f"sid must be 1 to {MAX_SID_LENGTH} characters")
    if not USERNAME.match(username):
        raise InvalidArgument(
            "username must be 3 to 32 characters of letters, digits, '_', '.' or '-'"
        )
    check_email(email)
    check_password(password)


def check_email(email: str) -> None:
    """Raise InvalidArgument unless ``email`` looks like an address."""
    if not EMAIL.match(email) or len(email) > 254:
        raise InvalidArgument("email must be an address like name@example.com")


def check_password(password: str) -> None:
    """Raise InvalidArgument unless the password is long enough."""
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
