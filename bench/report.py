"""How every benchmark measures and reports: interleaved repeats, medians, goals, curves.

A figure is only compared with a reference measured in the same run under the same conditions:
``interleaved`` runs the product and its reference one after the other, three times over, and
each is reported by its median. Each benchmark saves its goals and curves to
``bench/results/<name>.json``; ``python -m bench.summary`` prints them as one table, draws a
plot per path and writes ``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

SMOKE = os.environ.get("MERCHSTORE_BENCH_SMOKE") == "1"
"""The smallest setting, as ``make test`` runs every benchmark: one turn of each measurement,
at the goal's number of clients only. Only that a benchmark runs end to end and prints its
table is checked then; its figures judge nothing."""
RESULTS = Path(os.environ.get("MERCHSTORE_BENCH_RESULTS") or Path(__file__).parent / "results")
"""Where each benchmark's results go (a test's own folder for the smallest setting)."""
REPEATS = 1 if SMOKE else 3
GOAL_REPEATS = 1 if SMOKE else 5
"""Turns for a goal whose two sides share this machine's two cores with the broker and wrk:
their ratio moves most from one turn to the next, so it is the median of more turns."""


def interleaved(
    runs: Mapping[str, Callable[[], T]],
    repeats: int = REPEATS,
    *,
    warm_up: int = 0,
    settle_s: float = 0.0,
) -> dict[str, list[T]]:
    """Each run ``repeats`` times, taking turns, so drift hits all alike.

    Every other round goes the other way round (a, b, c; c, b, a; a, b, c; ...): a drift
    through the rounds (a table that grows, a machine that warms) would otherwise always favour
    whichever runs first in a round over whichever runs last.

    ``warm_up``: that many turns of each first, not counted (none at the smallest setting). For
    what is measured first on a server just started: a Java broker compiles its hot code in its
    first ten seconds or so under load, on the cores the measured process needs, which a
    broker that has been running, as users run one, no longer does.

    ``settle_s``: a pause before each turn (none at the smallest setting), for runs that leave
    work behind them when their figure is taken: it would land on the next run's turn.
    """
    pause_s = 0.0 if SMOKE else settle_s

    def turn(run: Callable[[], T]) -> T:
        if pause_s:
            time.sleep(pause_s)
        return run()

    for _ in range(0 if SMOKE else warm_up):
        for run in runs.values():
            turn(run)
    results: dict[str, list[T]] = {name: [] for name in runs}
    names = list(runs)
    for round_number in range(repeats):
        for name in names if round_number % 2 == 0 else reversed(names):
            results[name].append(turn(runs[name]))
    return results


def client_levels(levels: Sequence[int], goal: int) -> Sequence[int]:
    """The numbers of clients to measure: all of ``levels``, or only the goal's at ``SMOKE``."""
    return (goal,) if SMOKE else levels


def median_by(results: list[T], key: Callable[[T], float]) -> T:
    """The result whose ``key`` is the median (the lower middle one for an even count)."""
    ordered = sorted(results, key=key)
    return ordered[(len(ordered) - 1) // 2]


@dataclass(frozen=True)
class Goal:
    """One goal of the issue: the figure, its reference, and whether it is met."""

    path: str
    figure: float
    unit: str
    reference_name: str
    reference: float | None
    # "ratio>=0.5": figure / reference at least 0.5; "<=20": the figure itself at most 20;
    # "report": no goal, reported as it comes out.
    target: str
    spread: list[float] = field(default_factory=list)
    """What the goal compares, turn by turn (each turn's ratio, or figure): its run-to-run
    spread. A bound inside it is a verdict the noise could turn."""
    failed: int = 0
    """Requests that failed (non-2xx, socket errors) or work lost in the figure's runs: any
    makes the goal FAIL, however fast the rest was."""

    @classmethod
    def from_turns(
        cls,
        path: str,
        figures: Sequence[float],
        unit: str,
        reference_name: str,
        references: Sequence[float] | None,
        target: str,
        failed: int = 0,
    ) -> Goal:
        """A goal from interleaved turns: the medians, and each turn's ratio as the spread."""
        figure = statistics.median(figures)
        if references is None:
            return cls(path, figure, unit, reference_name, None, target, list(figures), failed)
        spread = [f / r for f, r in zip(figures, references, strict=True) if r]
        reference = statistics.median(references)
        return cls(path, figure, unit, reference_name, reference, target, spread, failed)

    @property
    def within_spread(self) -> bool:
        """Whether the goal's bound lies inside the spread of its turns."""
        kind, _, bound = self.target.partition(":")
        if kind == "report" or len(self.spread) < 2:
            return False
        return min(self.spread) <= float(bound) <= max(self.spread)

    @property
    def ratio(self) -> float | None:
        """Figure over reference, when there is a reference."""
        if not self.reference:
            return None
        return self.figure / self.reference

    @property
    def ratio_text(self) -> str:
        """The ratio as its goal states it: a percentage, or a multiple (``3.08x``)."""
        if self.ratio is None:
            return "-"
        return f"{self.ratio:.2f}x" if self.written_as_multiple else f"{self.ratio:.1%}"

    @property
    def written_as_multiple(self) -> bool:
        """Whether ratios read as a multiple (``3.08x``): a bound of 1 or more, or a ratio of 2."""
        _, _, bound = self.target.partition(":")
        return bool((bound and float(bound) >= 1) or (self.ratio or 0) >= 2)

    @property
    def verdict(self) -> str:
        """PASS, MISS, FAIL (failures) or REPORT; "(within spread)" if noise could turn it."""
        kind, _, bound = self.target.partition(":")
        if self.failed:
            return "FAIL"
        if kind == "report":
            return "REPORT"
        value = self.ratio if kind.startswith("ratio") else self.figure
        if value is None:
            return "MISS"
        met = value >= float(bound) if kind.endswith(">=") else value <= float(bound)
        verdict = "PASS" if met else "MISS"
        return f"{verdict} (within spread)" if self.within_spread else verdict

    @property
    def spread_text(self) -> str:
        """The lowest and highest turn, as the ratio is written, and how many turns."""
        if len(self.spread) < 2:
            return "-"
        low, high = min(self.spread), max(self.spread)
        if self.reference is None:
            low_text, high_text = format_figure(low, ""), format_figure(high, self.unit)
            return f"{low_text.strip()} to {high_text} ({len(self.spread)})"
        multiple = self.written_as_multiple
        text = f"{low:.2f}x to {high:.2f}x" if multiple else f"{low:.1%} to {high:.1%}"
        return f"{text} ({len(self.spread)})"

    @property
    def goal_text(self) -> str:
        """The target in words a reader takes in at once."""
        kind, _, bound = self.target.partition(":")
        if kind == "report":
            return "reported"
        sign = "≥" if kind.endswith(">=") else "≤"
        if kind.startswith("ratio"):
            return (
                f"ratio {sign} {float(bound):.0%}" if float(bound) < 1 else f"ratio {sign} {bound}x"
            )
        return f"{sign} {bound} {self.unit}"


@dataclass
class Curve:
    """Throughput against clients for one path, beside its ceiling measured at the same levels."""

    path: str
    unit: str
    clients: list[int] = field(default_factory=list)
    figures: dict[str, list[float]] = field(default_factory=dict)

    def add(self, clients: int, **figures: float) -> None:
        """The medians of one concurrency level."""
        if clients not in self.clients:
            self.clients.append(clients)
        for name, value in figures.items():
            self.figures.setdefault(name, []).append(value)


def machine() -> str:
    """The machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}"


def save(name: str, goals: list[Goal], curves: list[Curve], notes: list[str]) -> Path:
    """Store one benchmark's results for the summary, and print its goals."""
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"{name}.json"
    target.write_text(
        json.dumps(
            {
                "name": name,
                "machine": machine(),
                "goals": [asdict(goal) for goal in goals],
                "curves": [asdict(curve) for curve in curves],
                "notes": notes,
            },
            indent=2,
        )
    )
    print_goals(goals)
    return target


def format_figure(value: float | None, unit: str) -> str:
    """A figure with its unit, thousands separated."""
    if value is None:
        return "-"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


GOAL_HEADER = ("path", "figure", "reference (same run)", "ratio", "turns (low to high)", "goal", "")
"""The columns of a goal table."""


def goal_rows(goals: list[Goal]) -> list[tuple[str, ...]]:
    """Table rows: path, figure, reference, ratio, the turns' spread, goal, verdict."""
    return [
        (
            goal.path,
            format_figure(goal.figure, goal.unit),
            f"{goal.reference_name} {format_figure(goal.reference, goal.unit)}"
            if goal.reference
            else goal.reference_name or "-",
            goal.ratio_text,
            goal.spread_text,
            goal.goal_text,
            goal.verdict if not goal.failed else f"FAIL ({goal.failed:,} failed)",
        )
        for goal in goals
    ]


def print_goals(goals: list[Goal]) -> None:
    """The goals as an aligned text table."""
    header = GOAL_HEADER
    rows = [header, *goal_rows(goals)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for number, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            print("  ".join("-" * width for width in widths))
