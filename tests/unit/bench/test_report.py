"""The benchmarks' reporting rules: interleaved turns, medians, verdicts."""

from __future__ import annotations

from collections.abc import Callable

from bench.report import Goal, interleaved, median_by


def test_runs_take_turns() -> None:
    order: list[str] = []

    def taking(name: str, result: int) -> Callable[[], int]:
        def run() -> int:
            order.append(name)
            return result

        return run

    results = interleaved({"a": taking("a", 1), "b": taking("b", 2)}, repeats=3)
    assert order == ["a", "b", "a", "b", "a", "b"]
    assert results == {"a": [1, 1, 1], "b": [2, 2, 2]}


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
