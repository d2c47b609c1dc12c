"""Access tokens as HS256 JWTs whose subject is the user id (PyJWT at the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from merchstore.store_api.domain import InvalidToken, TokenClaims

ALGORITHM = "HS256"


def create_access_token(user_id: int, generation: int, secret: str, ttl_s: int) -> str:
    """A token for ``user_id`` that expires in ``ttl_s`` seconds.

    ``gen`` is the user's token generation: a password change or a deactivation bumps it, and
    every token of an earlier generation is refused from then on.
    """
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "gen": generation,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def claims_from_token(token: str, secret: str, leeway_s: float = 0.0) -> TokenClaims:
    """What a valid token says; InvalidToken otherwise.

    ``leeway_s`` is how far the clocks of the replica that issued it and of this one may differ:
    a token is taken that long after it expired, and that long before its ``iat``.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "gen"]},
            leeway=leeway_s,
        )
        return TokenClaims(int(claims["sub"]), int(claims["gen"]))
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired; log in again") from None
    except (jwt.InvalidTokenError, ValueError):
        raise InvalidToken("the token is invalid") from None


@dataclass(frozen=True)
class TokenIssuer:
    """Issues and reads this deployment's tokens: one signing secret, one lifetime."""

    secret: str
    ttl_s: int
    leeway_s: float = 0.0

    def issue(self, user_id: int, generation: int) -> str:
        """A new token for ``user_id`` at token generation ``generation``."""
        return create_access_token(user_id, generation, self.secret, self.ttl_s)

    def read(self, token: str) -> TokenClaims:
        """What a valid token says; InvalidToken otherwise."""
        return claims_from_token(token, self.secret, self.leeway_s)
