"""What the simulation counts: outcomes per kind, percentiles, and its retry pauses."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from merchstore.tools.traffic import (
    PLAYER_ACTIONS,
    Tally,
    percentile,
    player_metadata,
    retry_pause_s,
)


@given(st.lists(st.floats(0, 1e6), min_size=1), st.floats(0.01, 1))
def test_a_percentile_is_a_value_with_at_least_that_share_at_or_below_it(
    values: list[float], share: float
) -> None:
    ordered = sorted(values)
    found = percentile(ordered, share)
    assert found in ordered
    assert sum(1 for v in ordered if v <= found) >= share * len(ordered)


def test_no_latency_has_no_percentile() -> None:
    assert percentile([], 0.5) is None


def test_outcomes_and_retries_add_up_per_kind_and_in_all() -> None:
    tally = Tally()
    tally.ended("order", "acknowledged", retries=2)
    tally.ended("order", "refused")
    tally.ended("browse", "failed", retries=5)
    tally.answered("order", 3.0)
    tally.answered("browse", 9.0)
    whole = tally.total()
    assert (whole.sent, whole.acknowledged, whole.refused, whole.failed) == (3, 1, 1, 1)
    assert whole.retried == 7
    assert tally.of("order").quantiles() == (3.0, 3.0)
    line = tally.progress_line(12.0)
    assert "sent 3" in line and "failed 1" in line and "p99 9.0 ms" in line


@given(st.integers(1, 50), st.integers(0, 2**32))
def test_retry_pauses_double_and_stay_within_four_seconds(attempt: int, seed: int) -> None:
    pause = retry_pause_s(attempt, random.Random(seed))
    assert 0.125 <= pause <= 4.0
    assert pause <= 0.25 * 2 ** (attempt - 1)


def test_every_player_action_gets_metadata_the_receiver_takes() -> None:
    rng = random.Random(1)
    for event_type, method, _, _ in PLAYER_ACTIONS:
        metadata = player_metadata(event_type, rng)
        assert len(metadata) <= 16
        assert all(isinstance(v, str) and len(v) <= 256 for v in metadata.values())
        assert method == "POST" or not metadata
