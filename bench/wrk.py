"""Run wrk (Debian package) against one URL and read its figures."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.report import Goal

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class LoadResult:
    """What one wrk run measured."""

    requests: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def accepted(self) -> int:
        """Requests answered 2xx (or 3xx)."""
        return max(self.requests - self.failed, 0)

    @property
    def per_second(self) -> float:
        """Accepted answers per second: a fast error is no throughput."""
        return self.accepted / self.seconds


def require_wrk() -> str:
    """The wrk binary, or a clear message on how to get it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (or run `make bench`)")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_load(
    url: str,
    connections: int,
    seconds: int,
    *,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Send ``method`` requests to ``url`` from ``connections`` connections for ``seconds``."""
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = [[{body}]]")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    for name, value in (headers or {}).items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text("\n".join(lines) + "\n")
    output = subprocess.run(
        [
            require_wrk(),
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    totals = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", output)
    assert totals, output
    requests = int(totals.group(1))
    elapsed_s = float(totals.group(2)) * _SECONDS[totals.group(3)]
    failed_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = int(failed_match.group(1)) if failed_match else 0
    if errors:
        failed += sum(int(n) for n in errors.groups())
    return LoadResult(
        requests=requests,
        failed=failed,
        seconds=elapsed_s,
        p50_ms=_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
    )


def post_load(url: str, body: str, connections: int, seconds: int) -> LoadResult:
    """POST ``body`` to ``url`` from ``connections`` connections for ``seconds``."""
    return run_load(url, connections, seconds, method="POST", body=body)


def load_goal(
    path: str,
    runs: list[LoadResult],
    reference_name: str,
    reference_runs: list[LoadResult] | None,
    target: str,
    unit: str = "req/s",
) -> Goal:
    """A goal over interleaved wrk turns: accepted answers only, FAIL if any request failed.

    A failure on the reference's side fails the goal too: the ceiling was not measured.
    """
    every = [*runs, *(reference_runs or [])]
    return Goal.from_turns(
        path,
        [run.per_second for run in runs],
        unit,
        reference_name,
        None if reference_runs is None else [run.per_second for run in reference_runs],
        target,
        failed=sum(run.failed for run in every),
    )
