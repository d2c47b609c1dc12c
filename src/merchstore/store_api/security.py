"""Access tokens: HS256 JWTs whose subject is the user id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is malformed, tampered with or expired."""


def create_access_token(user_id: int, secret: str, ttl_s: int) -> str:
    """A token for ``user_id`` that expires in ``ttl_s`` seconds."""
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(seconds=ttl_s)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def user_id_from_token(token: str, secret: str) -> int:
    """The user id a valid token names; InvalidToken otherwise."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
        return int(claims["sub"])
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired; log in again") from None
    except (jwt.InvalidTokenError, ValueError):
        raise InvalidToken("the token is invalid") from None
