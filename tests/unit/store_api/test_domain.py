"""store-api's token rule: a token of an earlier generation no longer counts."""

from __future__ import annotations

import pytest

from merchstore.store_api.domain import InvalidToken, TokenClaims


def test_a_token_of_the_current_generation_counts() -> None:
    claims = TokenClaims(user_id=7, generation=2)
    claims.check_current(2)
    assert claims.user_id == 7


@pytest.mark.parametrize("current", [0, 1, 3])
def test_a_token_of_another_generation_is_refused(current: int) -> None:
    with pytest.raises(InvalidToken, match="issued before the password changed"):
        TokenClaims(user_id=7, generation=2).check_current(current)
