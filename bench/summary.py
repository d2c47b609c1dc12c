"""One table of every benchmark goal, a plot per path, and ``docs/benchmarks.md``.

Run: ``make bench`` (every benchmark, then this), or ``.venv/bin/python -m bench.summary``
after any of them. Reads ``bench/results/*.json``; writes ``docs/benchmarks/*.png`` and
``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt

from bench.report import GOAL_HEADER, RESULTS, Curve, Goal, goal_rows, print_goals

DOCS = Path(os.environ.get("MERCHSTORE_BENCH_REPORT") or Path(__file__).parent.parent / "docs")
"""Where the report and its plots go (a test's own folder for the smallest setting)."""
PLOTS = DOCS / "benchmarks"
ORDER = (
    "store",
    "pipeline",
    "logging",
    "event-logger",
    "scale",
    "embedded-broker",
    "brokers",
    "tracing",
    "security",
)
COMMANDS = {
    "store": "make bench-store",
    "pipeline": "make bench-pipeline",
    "logging": "make bench-logging",
    "event-logger": "make bench-event-logger",
    "scale": "make bench-scale",
    "embedded-broker": "make bench-broker",
    "brokers": "make bench-brokers",
    "tracing": "make bench-tracing",
    "security": "make bench-security",
}


def load_results() -> list[dict[str, object]]:
    """Every saved benchmark result, in a fixed order."""
    found = {path.stem: json.loads(path.read_text()) for path in RESULTS.glob("*.json")}
    return [found[name] for name in (*ORDER, *sorted(set(found) - set(ORDER))) if name in found]


def plot(curve: Curve, target: Path) -> None:
    """Throughput against clients, every setup of the path as a line beside its ceiling."""
    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for name, values in curve.figures.items():
        style = "--" if name in ("hello", "psycopg", "per-request") else "-"
        axes.plot(curve.clients, values, style, marker="o", label=name)
    axes.set_xscale("log", base=2)
    axes.set_xticks(curve.clients, [str(c) for c in curve.clients])
    axes.set_xlabel("concurrent clients")
    axes.set_ylabel(curve.unit)
    axes.set_ylim(bottom=0)
    axes.set_title(curve.path)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(target)
    plt.close(figure)


def slug(text: str) -> str:
    """A file name for a path's plot."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def markdown_table(goals: list[Goal]) -> list[str]:
    """The goals as a Markdown table."""
    lines = ["| " + " | ".join(GOAL_HEADER) + " |", "|" + "---|" * len(GOAL_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in goal_rows(goals)]
    return lines


def main() -> None:
    results = load_results()
    if not results:
        raise SystemExit("no results in bench/results: run `make bench` first")
    PLOTS.mkdir(parents=True, exist_ok=True)
    every_goal: list[Goal] = []
    sections: list[str] = []
    machines = sorted({str(result["machine"]) for result in results})
    for result in results:
        name = str(result["name"])
        goals = [Goal(**goal) for goal in result["goals"]]  # type: ignore[attr-defined]
        every_goal += goals
        section = [f"## {name}", "", f"`{COMMANDS.get(name, 'python -m bench.' + name)}`", ""]
        section += markdown_table(goals)
        for raw in result["curves"]:  # type: ignore[attr-defined]
            curve = Curve(**raw)
            target = PLOTS / f"{slug(name + '-' + curve.path)}.png"
            plot(curve, target)
            section += ["", f"![{curve.path}](benchmarks/{target.name})"]
        section += ["", *[f"- {note}" for note in result["notes"]]]  # type: ignore[attr-defined]
        sections.append("\n".join(section))
    print_goals(every_goal)
    verdicts = [goal.verdict.split()[0] for goal in every_goal]
    noisy = sum(goal.within_spread for goal in every_goal)
    print(
        f"\n{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS,"
        f" {verdicts.count('FAIL')} FAIL ({noisy} within their turns' spread);"
        f" plots in {PLOTS}, table in {DOCS / 'benchmarks.md'}"
    )
    document = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.summary`); do not edit by hand.",
        "",
        f"Measured on: {'; '.join(machines)}, on {datetime.now(UTC):%Y-%m-%d}.",
        "Every service, the embedded PostgreSQL and broker, and the load generator (wrk, one",
        "thread) share that machine. Each figure is the median of three runs interleaved with",
        "its reference (measured in the same run, under the same conditions), every other",
        "round in the reverse order; the two goals whose ratio moves most between turns",
        "(receiver alone, shipping on vs off) take five.",
        "",
        "## Every goal",
        "",
        *markdown_table(every_goal),
        "",
        "\n\n".join(sections),
        "",
    ]
    (DOCS / "benchmarks.md").write_text("\n".join(document))


if __name__ == "__main__":
    main()
