"""store-api's own rules: who a token names, and when a token no longer counts (no I/O).

The store's other rules (stock, ownership, passwords, idempotency) are db-service's, which
alone owns the data; store-api decides who asks.
"""

from __future__ import annotations

from dataclasses import dataclass


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
