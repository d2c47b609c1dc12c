"""store-api's records and rules: what a valid request is, and who a token names (no I/O).

The records are the store's as store-api answers them (their schemas are the OpenAPI
document's); the rules here are those checked before db-service is asked: field formats and
bounds, and when a token no longer counts. The store's other rules (stock, ownership,
passwords, idempotency) are db-service's, which alone owns the data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from merchstore.common.clean_text import CLEAN_TEXT_SCHEMA
from merchstore.common.store_fields import EMAIL_PATTERN as EMAIL
from merchstore.common.store_fields import SID_PATTERN as SID
from merchstore.common.store_fields import USERNAME_PATTERN as USERNAME


class InvalidToken(Exception):
    """The token is malformed, tampered with, expired, or issued before it was revoked."""


@dataclass(frozen=True)
class TokenClaims:
    """Who a valid token names, and the token generation it was issued for."""

    user_id: int
    generation: int

    def check_current(self, generation: int) -> None:
        """Raise InvalidToken unless the token is of the user's current ``generation``.

        A password change or a deactivation bumps the user's generation: every token issued
        before it is refused from then on.
        """
        if generation != self.generation:
            raise InvalidToken("the token was issued before the password changed; log in again")


MAX_ID = 2**63 - 1
Money = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]{2}$", examples=["49.99"])]
Timestamp = Annotated[
    str, Field(description="RFC 3339, UTC", examples=["2026-11-22T06:00:00.123Z"])
]


def _encodable(value: str) -> str:
    # Strings go to gRPC (UTF-8) and PostgreSQL (no NUL): refuse what neither can carry.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_encodable)]


def _matching(pattern: str, what: str) -> Callable[[str], str]:
    # Python's re, as db-service reads the pattern (pydantic's own engine differs from it).
    # The patterns spell every character class out, so JSON Schema tools, whose regular
    # expressions are ECMAScript's, read them the same way: the schema, store-api and
    # db-service agree.
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return check


class Product(BaseModel):
    """A product for sale."""

    id: int
    name: str
    description: str
    category: str
    price: Money
    slogan: str
    stock: int
    created_at: Timestamp


class User(BaseModel):
    """A store user (never with a password or its hash)."""

    id: int
    sid: str
    username: str
    email: str
    created_at: Timestamp


class Order(BaseModel):
    """An order of 1 to 3 items of one product."""

    id: int
    user_id: int
    product_id: int
    quantity: int
    total_price: Money
    status: Literal["placed", "cancelled"]
    created_at: Timestamp


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


Username = Annotated[
    Text,
    Field(examples=["alice_01"], json_schema_extra={"pattern": USERNAME}),
    AfterValidator(_matching(USERNAME, "3 to 32 letters, digits, '_', '.' or '-'")),
]
Password = Annotated[
    Text,
    Field(
        min_length=8,
        max_length=256,
        examples=["correct horse"],
        json_schema_extra=CLEAN_TEXT_SCHEMA,
    ),
]
Email = Annotated[
    Text,
    Field(max_length=254, examples=["alice@example.com"], json_schema_extra={"pattern": EMAIL}),
    AfterValidator(_matching(EMAIL, "an address like name@example.com")),
]


class UserRegistration(_Input):
    """Who registers."""

    sid: Annotated[
        Text,
        Field(
            min_length=1, max_length=15, examples=["12010001"], json_schema_extra={"pattern": SID}
        ),
        AfterValidator(_matching(SID, "1 to 15 characters, no spaces")),
    ]
    username: Username
    email: Email
    password: Password


class Credentials(_Input):
    """Username and password to log in with."""

    username: Annotated[Text, Field(max_length=64, json_schema_extra=CLEAN_TEXT_SCHEMA)]
    password: Annotated[Text, Field(max_length=256, json_schema_extra=CLEAN_TEXT_SCHEMA)]


class UserChanges(_Input):
    """New email and/or password (at least one); a new password needs the current one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [{"required": ["email"]}, {"required": ["password"]}],
            "dependentRequired": {"password": ["current_password"]},
        },
    )

    # null is taken as "not given" but not documented: give the fields you change.
    email: Email | SkipJsonSchema[None] = None
    password: Password | SkipJsonSchema[None] = None
    current_password: (
        Annotated[Text, Field(max_length=256, json_schema_extra=CLEAN_TEXT_SCHEMA)]
        | SkipJsonSchema[None]
    ) = Field(None, description="Required with `password`: 403 when missing or wrong")


class OrderRequest(_Input):
    """What to order."""

    product_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    quantity: Annotated[int, Field(ge=1, le=3)]
