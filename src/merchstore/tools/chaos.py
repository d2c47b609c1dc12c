"""The chaos run (``make chaos``): ``up`` and ``simulate`` while processes die, then ``verify``.

It starts ``merchstore up`` on a fresh data directory, runs ``merchstore simulate`` at a steady
rate for the whole run, and meanwhile, every 10 to 30 s, sends SIGKILL or SIGTERM to one
service process drawn at random (any of the eight; with ``--broker kafka`` the Apache Kafka
node too). `up` restarts what dies. A watcher asks every service's health twice a second and
keeps each one's longest unavailability. When the simulation ends, the run waits for every
service to be ready again and verifies the ledger: the run passes only when nothing
acknowledged was lost or doubled.

    python -m merchstore.tools.chaos --minutes 10 [--broker kafka] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from merchstore.common.run_folder import RUN_DIR, broker_of_running_system
from merchstore.runtime.supervision import PID_FILE
from merchstore.runtime.up import KAFKA_PID_FILE, Member
from merchstore.services import SERVICES
from merchstore.settings import Settings, load_settings
from merchstore.tools.ledger import Ledger
from merchstore.tools.verify import Check, SystemAddress, SystemReader, checks_table, verify

KAFKA = "kafka"
"""The name the Apache Kafka node is killed under."""


@dataclass
class Kill:
    """One process killed."""

    at_s: float
    target: str
    signal_name: str
    pid: int


@dataclass
class Availability:
    """How long each service was not ready, at the longest, as seen by its health check."""

    down_since: dict[str, float] = field(default_factory=dict)
    longest_s: dict[str, float] = field(default_factory=dict)

    def saw(self, name: str, ready: bool, now: float) -> None:
        """One health check's answer."""
        if ready:
            since = self.down_since.pop(name, None)
            if since is not None:
                self.longest_s[name] = max(self.longest_s.get(name, 0.0), now - since)
        else:
            self.down_since.setdefault(name, now)

    def longest(self, name: str, now: float) -> float:
        """The longest unavailability of ``name`` so far, an ongoing one included."""
        ongoing = now - self.down_since[name] if name in self.down_since else 0.0
        return max(self.longest_s.get(name, 0.0), ongoing)


def service_pids(run_dir: Path) -> dict[str, int]:
    """The pid of each service process supervisord runs for the `up` of ``run_dir``."""
    try:
        supervisord = psutil.Process(int((run_dir / PID_FILE).read_text().strip()))
        children = supervisord.children()
    except (OSError, ValueError, psutil.Error):
        return {}
    names = {spec.name for spec in SERVICES}
    pids = {}
    for child in children:
        try:
            command = child.cmdline()
        except psutil.Error:
            continue
        if "serve" in command and command[-1] in names:
            pids[command[-1]] = child.pid
    return pids


def kafka_pid(run_dir: Path) -> int | None:
    """The Apache Kafka node's pid, when `up` runs one."""
    try:
        pid = int((run_dir / KAFKA_PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


class ChaosRun:
    """One chaos run: its processes, its kills, and what it measured."""

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        minutes: float,
        rate: float,
        broker: str,
        seed: int,
        say: Callable[[str], None],
        first: str | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.run_dir = data_dir / RUN_DIR
        self.duration_s = minutes * 60
        self.rate = rate
        self.broker = broker
        self.rng = random.Random(seed)
        self.say = say
        self.kills: list[Kill] = []
        self.availability = Availability()
        self.started = time.monotonic()
        self.ledger = data_dir / "chaos-ledger.jsonl"
        self._stop = threading.Event()
        self._deck: list[str] = []
        self._first = first
        self.members = {
            spec.name: Member.of_service(spec, settings, loopback=True) for spec in SERVICES
        }

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def _command(self, *arguments: str) -> list[str]:
        return [sys.executable, "-m", "merchstore", *arguments, "--data-dir", str(self.data_dir)]

    def _forward(self, process: subprocess.Popen[str], prefix: str) -> threading.Thread:
        def forward() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self.say(f"{prefix} {line.rstrip()}")

        thread = threading.Thread(target=forward, daemon=True)
        thread.start()
        return thread

    def run(self) -> tuple[list[Check], Ledger]:
        """Everything, in order; the verification's checks and the ledger read back."""
        up_command = self._command("up")
        if self.broker == KAFKA:
            up_command += ["--broker", KAFKA]
        up = subprocess.Popen(
            up_command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._forward(up, "up │")
        try:
            self._wait_ready(up, timeout_s=300)
            watchers = [
                threading.Thread(target=self._watch, args=(name,), daemon=True)
                for name in self.members
            ]
            for watcher in watchers:
                watcher.start()
            self.started = time.monotonic()
            simulate = subprocess.Popen(
                [
                    *self._command("simulate"),
                    "--duration",
                    str(self.duration_s),
                    "--rate",
                    str(self.rate),
                    "--ledger",
                    str(self.ledger),
                    "--seed",
                    str(self.rng.randrange(2**32)),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            forwarding = self._forward(simulate, "simulate │")
            self._kill_until(simulate)
            simulate.wait()
            forwarding.join(timeout=10)
            if up.poll() is not None:
                raise RuntimeError(f"merchstore up exited ({up.returncode}) during the run")
            self.say("chaos: the simulation ended; waiting for every service to be ready")
            self._wait_ready(up, timeout_s=180)
            ledger = Ledger.read(self.ledger)
            reader = SystemReader(
                self.settings.model_copy(
                    update={"kafka_bootstrap_servers": broker_of_running_system(self.settings)}
                ),
                SystemAddress(
                    self.members["store-api"].url,
                    self.members["storage"].url,
                    self.members["event-logger"].url,
                ),
            )
            try:
                checks = verify(
                    ledger, reader, settle_s=180, note=lambda line: self.say(f"verify │ {line}")
                )
            finally:
                reader.close()
            return checks, ledger
        finally:
            self._stop.set()
            self._stop_up(up)

    def _wait_ready(self, up: subprocess.Popen[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(member.healthy(timeout_s=2.0) for member in self.members.values()):
            if up.poll() is not None:
                raise RuntimeError(f"merchstore up exited ({up.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not every service was ready after {timeout_s:.0f} s")
            time.sleep(0.5)

    def _watch(self, name: str) -> None:
        member = self.members[name]
        while not self._stop.is_set():
            ready = member.healthy(timeout_s=1.0)
            self.availability.saw(name, ready, time.monotonic())
            self._stop.wait(0.5)

    def _next_target(self) -> str:
        """The next of a shuffled deck of every target: each is hit once before any twice.

        A ``first`` target given is hit before the first deck is dealt.
        """
        if self._first is not None:
            first, self._first = self._first, None
            return first
        if not self._deck:
            self._deck = [*self.members, *([KAFKA] if self.broker == KAFKA else [])]
            self.rng.shuffle(self._deck)
        return self._deck.pop()

    def _kill_until(self, simulate: subprocess.Popen[str]) -> None:
        """Kill one random process every 10 to 30 s while the simulation runs (not near its end)."""
        end = self.started + self.duration_s - 20
        while True:
            pause = self.rng.uniform(10, 30)
            if time.monotonic() + pause > end or simulate.poll() is not None:
                return
            if self._stop.wait(pause):
                return
            target = self._next_target()
            chosen = self.rng.choice([signal.SIGKILL, signal.SIGTERM])
            pid = (
                kafka_pid(self.run_dir)
                if target == KAFKA
                else service_pids(self.run_dir).get(target)
            )
            if pid is None:
                self.say(f"chaos: {self.elapsed():6.1f} s  {target} has no process now; skipped")
                continue
            try:
                os.kill(pid, chosen)
            except ProcessLookupError:
                continue
            self.kills.append(Kill(self.elapsed(), target, chosen.name, pid))
            self.say(f"chaos: {self.elapsed():6.1f} s  {chosen.name} {target} (pid {pid})")

    def _stop_up(self, up: subprocess.Popen[str]) -> None:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()

    def figures(self, checks: list[Check], ledger: Ledger) -> Table:
        """The figures of the run, for the closing note of whoever quotes it."""
        now = time.monotonic()
        end = ledger.ends[-1] if ledger.ends else {}
        table = Table(title="merchstore chaos run", title_justify="left", show_header=False)
        table.add_column("figure")
        table.add_column("value")
        table.add_row("minutes run", f"{self.duration_s / 60:.1f} ({self.broker} broker)")
        by_target = Counter(kill.target for kill in self.kills)
        table.add_row(
            "kills",
            f"{len(self.kills)}: "
            + ", ".join(f"{target} {count}" for target, count in sorted(by_target.items())),
        )
        by_signal = Counter(kill.signal_name for kill in self.kills)
        table.add_row("signals", ", ".join(f"{s} {n}" for s, n in sorted(by_signal.items())))
        for figure in ("sent", "acknowledged", "refused", "failed"):
            table.add_row(f"requests {figure}", str(end.get(figure, "?")))
        table.add_row("lost", str(sum(check.lost for check in checks)))
        table.add_row("doubled", str(sum(check.doubled for check in checks)))
        table.add_row(
            "longest unavailability",
            ", ".join(
                f"{name} {self.availability.longest(name, now):.1f} s" for name in self.members
            ),
        )
        return table


def main(argv: list[str] | None = None) -> int:
    """Run the chaos run; 0 only when nothing acknowledged was lost or doubled."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--minutes", type=float, default=float(os.environ.get("CHAOS_MINUTES", "10"))
    )
    parser.add_argument("--rate", type=float, default=20.0, help="simulated actions per second")
    parser.add_argument("--broker", choices=["embedded", KAFKA], default="embedded")
    parser.add_argument("--seed", type=int, default=None, help="for a run that kills the same")
    parser.add_argument(
        "--first",
        choices=[*(spec.name for spec in SERVICES), KAFKA],
        default=None,
        help="the process to kill first (then a shuffled deck of all of them)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="default: a fresh temporary one"
    )
    arguments = parser.parse_args(argv)
    seed = arguments.seed if arguments.seed is not None else random.randrange(2**32)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)

    def say(line: str) -> None:
        console.print(line, soft_wrap=True, markup=False)

    data_dir = (arguments.data_dir or Path(tempfile.mkdtemp(prefix="merchstore-chaos-"))).resolve()
    settings = load_settings(data_dir=data_dir)
    say(
        f"chaos: {arguments.minutes:g} minutes on the {arguments.broker} broker, seed {seed}, "
        f"data in {data_dir}"
    )
    if arguments.first == KAFKA and arguments.broker != KAFKA:
        parser.error("--first kafka needs --broker kafka (the embedded broker keeps no data)")
    run = ChaosRun(
        settings,
        data_dir,
        arguments.minutes,
        arguments.rate,
        arguments.broker,
        seed,
        say,
        first=arguments.first,
    )
    checks, ledger = run.run()
    console.print(checks_table(checks))
    console.print(run.figures(checks, ledger))
    passed = all(check.holds for check in checks)
    if arguments.data_dir is None and passed:
        shutil.rmtree(data_dir, ignore_errors=True)
    elif not passed:
        say(f"chaos: kept {data_dir} (logs, ledger, databases) to look into")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
