"""The benchmarks' reporting rules: interleaved turns, medians, verdicts."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import bench.report
from bench.report import Goal, goal_rows, interleaved, median_by
from bench.wrk import LoadResult, load_goal


def test_runs_take_turns() -> None:
    order: list[str] = []

    def taking(name: str, result: int) -> Callable[[], int]:
        def run() -> int:
            order.append(name)
            return result

        return run

    results = interleaved(
        {"a": taking("a", 1), "b": taking("b", 2), "c": taking("c", 3)}, repeats=3
    )
    assert order == ["a", "b", "c", "c", "b", "a", "a", "b", "c"], "every other round reversed"
    assert results == {"a": [1, 1, 1], "b": [2, 2, 2], "c": [3, 3, 3]}


def test_warm_up_turns_run_first_and_are_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.report, "SMOKE", False)
    turns = iter(range(100))
    results = interleaved({"a": lambda: next(turns), "b": lambda: next(turns)}, 2, warm_up=2)
    assert results == {"a": [4, 7], "b": [5, 6]}, "turns 0 to 3 warmed up, then a, b; b, a"


def test_the_smallest_setting_warms_nothing_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.report, "SMOKE", True)
    turns = iter(range(100))
    assert interleaved({"a": lambda: next(turns)}, 1, warm_up=3) == {"a": [0]}


def test_each_turn_waits_for_the_last_to_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.report, "SMOKE", False)
    order: list[str] = []
    monkeypatch.setattr(time, "sleep", lambda s: order.append(f"pause {s}"))

    def run() -> int:
        order.append("turn")
        return 1

    interleaved({"a": run, "b": run}, 1, warm_up=1, settle_s=6.0)
    assert order == ["pause 6.0", "turn"] * 4


def test_the_median_is_the_middle_run() -> None:
    assert median_by([5.0, 1.0, 3.0], lambda x: x) == 3.0
    assert median_by([4.0, 1.0, 3.0, 2.0], lambda x: x) == 2.0


def test_verdicts() -> None:
    def goal(figure: float, reference: float | None, target: str) -> str:
        return Goal("p", figure, "u", "ref", reference, target).verdict

    assert goal(50, 100, "ratio>=:0.5") == "PASS"
    assert goal(49, 100, "ratio>=:0.5") == "MISS"
    assert goal(300, 100, "ratio>=:3") == "PASS"
    assert goal(150, 100, "ratio<=:1.5") == "PASS"
    assert goal(151, 100, "ratio<=:1.5") == "MISS"
    assert goal(20, None, "<=:20") == "PASS"
    assert goal(21, None, "<=:20") == "MISS"
    assert goal(1, None, "ratio>=:0.5") == "MISS"
    assert goal(1, 2, "report") == "REPORT"


def test_a_goal_with_failed_requests_fails_however_fast() -> None:
    fast = Goal("p", 1000, "req/s", "ref", 100, "ratio>=:0.5", failed=1)
    assert fast.verdict == "FAIL"
    assert goal_rows([fast])[0][-1] == "FAIL (1 failed)"


def test_a_bound_inside_the_turns_spread_is_reported_as_such() -> None:
    noisy = Goal.from_turns("p", [88, 95, 92], "req/s", "ref", [100, 100, 100], "ratio>=:0.9")
    assert noisy.figure == 92 and noisy.reference == 100
    assert noisy.spread == [0.88, 0.95, 0.92]
    assert noisy.verdict == "PASS (within spread)"
    assert noisy.spread_text == "88.0% to 95.0% (3)"
    clear = Goal.from_turns("p", [95, 96, 97], "req/s", "ref", [100, 100, 100], "ratio>=:0.9")
    assert clear.verdict == "PASS" and not clear.within_spread
    latency = Goal.from_turns("p", [19, 21, 22], "ms", "", None, "<=:20")
    assert latency.verdict == "MISS (within spread)"
    assert Goal.from_turns("p", [1, 2], "u", "ref", [1, 1], "report").verdict == "REPORT"


def test_throughput_counts_accepted_answers_only() -> None:
    half_errors = LoadResult(requests=1000, failed=500, seconds=2.0, p50_ms=1, p99_ms=2)
    assert half_errors.per_second == 250
    goal = load_goal("p", [half_errors], "ref", [half_errors], "ratio>=:0.5")
    assert goal.verdict == "FAIL" and goal.failed == 1000
