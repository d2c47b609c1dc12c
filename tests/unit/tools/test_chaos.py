"""The chaos run's own rules: who is killed next, and how unavailability is measured."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from merchstore.services import SERVICES
from merchstore.settings import load_settings
from merchstore.tools.chaos import KAFKA, Availability, ChaosRun


def run(broker: str, seed: int) -> ChaosRun:
    return ChaosRun(load_settings(), Path("/nonexistent"), 1, 10, broker, seed, lambda _: None)


@given(st.sampled_from(["embedded", KAFKA]), st.integers(0, 2**32))
def test_every_target_is_hit_once_before_any_is_hit_twice(broker: str, seed: int) -> None:
    chaos = run(broker, seed)
    everyone = {spec.name for spec in SERVICES} | ({KAFKA} if broker == KAFKA else set())
    first_round = [chaos._next_target() for _ in everyone]
    second_round = [chaos._next_target() for _ in everyone]
    assert set(first_round) == set(second_round) == everyone
    assert len(everyone) == (9 if broker == KAFKA else 8)


def test_a_first_target_is_hit_first_and_again_in_the_deck() -> None:
    chaos = ChaosRun(load_settings(), Path("/n"), 1, 10, KAFKA, 1, lambda _: None, first=KAFKA)
    hits = [chaos._next_target() for _ in range(10)]
    assert hits[0] == KAFKA and hits[1:].count(KAFKA) == 1


def test_the_same_seed_kills_in_the_same_order() -> None:
    assert [run("embedded", 5)._next_target() for _ in range(3)] == [
        run("embedded", 5)._next_target() for _ in range(3)
    ]


def test_the_longest_unavailability_counts_whole_outages_and_the_one_under_way() -> None:
    seen = Availability()
    for now, ready in [(0, True), (1, False), (2, False), (4, True), (5, False), (5.5, True)]:
        seen.saw("storage", ready, now)
    assert seen.longest("storage", 10) == 3
    seen.saw("storage", False, 10)
    assert seen.longest("storage", 14.5) == 4.5
    assert seen.longest("receiver", 14.5) == 0
