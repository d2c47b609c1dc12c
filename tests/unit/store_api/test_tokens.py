"""Access tokens across replicas whose clocks differ a little."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from merchstore.store_api.adapters.tokens import ALGORITHM, TokenIssuer
from merchstore.store_api.domain import InvalidToken

SECRET = "s" * 40


def token_issued(seconds_from_now: float, ttl_s: float = 3600) -> str:
    """A token as a replica whose clock is ``seconds_from_now`` ahead of this one issues it."""
    issued = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    claims = {"sub": "7", "gen": 0, "iat": issued, "exp": issued + timedelta(seconds=ttl_s)}
    return jwt.encode(claims, SECRET, algorithm=ALGORITHM)


def test_a_token_from_a_replica_whose_clock_is_a_few_seconds_ahead_is_taken() -> None:
    tokens = TokenIssuer(SECRET, 3600, leeway_s=10)
    assert tokens.read(token_issued(3)).user_id == 7


def test_a_token_just_expired_by_another_clock_is_taken_within_the_leeway() -> None:
    tokens = TokenIssuer(SECRET, 3600, leeway_s=10)
    assert tokens.read(token_issued(-63, ttl_s=60)).user_id == 7


def test_beyond_the_leeway_a_token_is_refused() -> None:
    tokens = TokenIssuer(SECRET, 3600, leeway_s=10)
    with pytest.raises(InvalidToken, match="expired"):
        tokens.read(token_issued(-75, ttl_s=60))
    with pytest.raises(InvalidToken):
        tokens.read(token_issued(60))
