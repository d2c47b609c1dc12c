"""The store API's request and response bodies (the OpenAPI schemas)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_ID = 2**63 - 1
Money = Annotated[str, Field(pattern=r"^\d+\.\d{2}$", examples=["49.99"])]
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


Username = Annotated[Text, Field(pattern=r"^[A-Za-z0-9_.-]{3,32}$", examples=["alice_01"])]
Password = Annotated[Text, Field(min_length=8, max_length=256, examples=["correct horse"])]
Email = Annotated[
    Text,
    Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254, examples=["alice@example.com"]),
]


class UserRegistration(_Input):
    """Who registers."""

    sid: Annotated[
        Text, Field(min_length=1, max_length=15, pattern=r"^\S+$", examples=["12010001"])
    ]
    username: Username
    email: Email
    password: Password


class Credentials(_Input):
    """Username and password to log in with."""

    username: Annotated[Text, Field(max_length=64)]
    password: Annotated[Text, Field(max_length=256)]


class AccessToken(BaseModel):
    """A bearer token for the Authorization header."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


class UserChanges(_Input):
    """New email and/or password (at least one); a new password needs the current one."""

    email: Email | None = None
    password: Password | None = None
    current_password: Annotated[Text, Field(max_length=256)] | None = Field(
        None, description="Required with `password`: 403 when wrong, 422 when missing"
    )


class OrderRequest(_Input):
    """What to order."""

    product_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    quantity: Annotated[int, Field(ge=1, le=3)]


class ErrorDetail(BaseModel):
    """Why the request failed."""

    detail: str
