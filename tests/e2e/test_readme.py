"""The tour (``docs/tour.md``), every command in order, against a fresh ``merchstore up``.

The README's "Try it" is a few of the tour's commands, in the tour's order, with the same
comments: running the tour runs them. The commands run as a newcomer types them: in one bash,
from a folder holding the repository's ``.venv`` and ``up``'s default data directory
``.merchstore``, with no ``MERCHSTORE_*`` variable set. Only the ports move (the suite's own,
free ones). Each command has a check here of what its comment claims; a command added to the
tour without one, or a comment changed, fails the test until this file says what the new
claim means.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPOSITORY
from tests.support.processes import wait_until
from tests.support.up import UpProcess, free_up_ports, stop_up, up_environment

README = REPOSITORY / "README.md"
TOUR = REPOSITORY / "docs" / "tour.md"
DEFAULT_PORTS = {
    "store_api": 8000,
    "receiver": 8080,
    "storage": 8090,
    "processor": 8100,
    "event_logger": 8120,
    "dashboard": 8130,
    "kafka": 9092,
}


@dataclass(frozen=True)
class Command:
    """One command of the section (continuation lines joined) and the comment above it."""

    text: str
    claim: str


def try_it_commands(text: str) -> list[Command]:
    """Every command of the page's bash blocks, in order, with its claim."""
    commands: list[Command] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        claim = ""
        pending = ""
        for line in block.splitlines():
            if not pending and line.startswith("#"):
                claim = line.lstrip("# ").strip()
                continue
            pending += line + "\n"
            if not line.endswith("\\"):
                commands.append(Command(pending.rstrip("\n"), claim))
                pending = ""
    return commands


class Shell:
    """One bash, fed a command at a time; each command's output and exit status read back."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.stderr = cwd / "shell-stderr.log"
        self._stderr_file = self.stderr.open("w")
        self.process = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def run(self, command: str, timeout_s: float = 120) -> tuple[str, int]:
        """Run ``command``; its standard output and exit status."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\nprintf '\\n@@done %s\\n' \"$?\"\n")
        self.process.stdin.flush()
        out: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError(
                    f"{command!r} did not end within {timeout_s:.0f} s; printed so far:\n"
                    + "".join(out)
                    + self.stderr.read_text()[-2000:]
                ) from None
            if line.startswith("@@done "):
                text = "".join(out)
                return text[:-1] if text.endswith("\n") else text, int(line.split()[1])
            out.append(line)

    def value(self, variable: str) -> str:
        """The shell variable's value."""
        return self.run(f'printf %s "${variable}"')[0]

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr_file.close()


@dataclass
class Seen:
    """What earlier commands answered, for the claims that refer back to them."""

    shell: Shell
    workdir: Path
    products: list[dict[str, Any]] = field(default_factory=list)


Check = Callable[[str, Seen], None]


def json_of(output: str) -> Any:
    return json.loads(output)


def headers_and_body(output: str) -> tuple[int, dict[str, str], str]:
    """``curl -i`` output: the status, the headers (lower-case names) and the body."""
    head, _, body = output.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def products(output: str, seen: Seen) -> None:
    seen.products = json_of(output)
    assert [(p["id"], p["stock"]) for p in seen.products] == [(1, 500), (2, 500), (3, 500)]


def quiet(output: str, seen: Seen) -> None:
    assert output == ""


def alice_registered(output: str, seen: Seen) -> None:
    assert output == ""
    assert seen.shell.value("ALICE") == "1"


def logged_in(output: str, seen: Seen) -> None:
    assert output == ""
    assert seen.shell.value("TOKEN").count(".") == 2, "a JWT: header.payload.signature"


def ordered(output: str, seen: Seen) -> None:
    assert output == ""
    assert seen.shell.value("ORDER") == "1"


def order_placed(output: str, seen: Seen) -> None:
    order = json_of(output)
    assert (order["id"], order["product_id"], order["quantity"]) == (1, 1, 2)
    assert order["status"] == "placed"


def stock_of_product_1(stock: int) -> Check:
    def check(output: str, seen: Seen) -> None:
        assert json_of(output)["stock"] == stock

    return check


def order_cancelled(output: str, seen: Seen) -> None:
    assert json_of(output)["status"] == "cancelled"


def one_order_three_times(output: str, seen: Seen) -> None:
    assert output.splitlines() == ["2", "2", "2"]


def first_page(output: str, seen: Seen) -> None:
    status, headers, body = headers_and_body(output)
    assert status == 200
    assert [order["id"] for order in json.loads(body)] == [1]
    assert 'rel="next"' in headers["link"] and "after=1" in headers["link"], headers


def password_changed(output: str, seen: Seen) -> None:
    user = json_of(output)
    assert user["username"] == "alice"
    assert not {"password", "password_hash"} & set(user)


def old_token_refused(output: str, seen: Seen) -> None:
    assert headers_and_body(output)[0] == 401


def event_acknowledged(output: str, seen: Seen) -> None:
    assert re.fullmatch(r"[0-9a-f-]{36}", json_of(output)["event_id"])


def stored_count(output: str, seen: Seen) -> None:
    assert json_of(output) == {"count": 6, "dead_letters": 0}


def stored_events(output: str, seen: Seen) -> None:
    events = json_of(output)
    assert Counter(e["event_type"] for e in events) == {
        "purchase_sword": 1,
        "join_guild": 2,
        "order_placed": 2,
        "order_cancelled": 1,
    }
    # The GET form took the player from the query; without one, the player is anonymous.
    guild = sorted(str(e["user_id"]) for e in events if e["event_type"] == "join_guild")
    assert guild == ["7", "anonymous"], guild
    assert any(e["user_id"] == "42" for e in events if e["event_type"] == "purchase_sword")


def ran(output: str, seen: Seen) -> None:
    assert set(json_of(output)) >= {"at", "new_events", "alerted"}


def statistics(output: str, seen: Seen) -> None:
    stats = json_of(output)
    assert stats["total_events"] == 6
    assert stats["counts"]["purchase_sword"] == 1 and stats["counts"]["join_guild"] == 2
    price_of_2 = Decimal(next(p["price"] for p in seen.products if p["id"] == 2))
    # Order 1 was cancelled: the revenue is the one product 2 of the retried order.
    assert stats["orders"] == {"placed": 2, "cancelled": 1, "revenue": f"{price_of_2:.2f}"}


def every_service_ready(output: str, seen: Seen) -> None:
    rows = [line.split() for line in output.splitlines() if line.strip()]
    assert len(rows) == 8 and all(row[1] == "ready" for row in rows), output


def lines_of_one_request(output: str, seen: Seen) -> None:
    lines = output.splitlines()
    assert len(lines) == 2 and all("request=demo-1" in line for line in lines), lines
    # One request, one trace: both lines carry its W3C trace id.
    assert len({re.findall(r"trace=([0-9a-f]{32})", line)[0] for line in lines}) == 1, lines
    assert {"[store-api]", "[db-service]"} == {re.findall(r"\[[a-z-]+\]", x)[0] for x in lines}


def five_lines(output: str, seen: Seen) -> None:
    assert len(output.splitlines()) == 5
    assert all(re.match(r"\S+ (DEBUG|INFO|WARNING|ERROR) ", line) for line in output.splitlines())


def hourly_files(output: str, seen: Seen) -> None:
    files = output.split()
    assert files and all(
        re.fullmatch(r"\.merchstore/logs/log_\d{8}_\d{2}\.jsonl", f) for f in files
    )
    lines = [
        line for name in files for line in (seen.workdir / name).read_text().splitlines() if line
    ]
    # Two tails read the start of log-channel: each line is saved once all the same.
    assert len(lines) == len(set(lines)) >= 5
    assert all(json.loads(line)["service_name"] for line in lines)


def two_orders_on_events(output: str, seen: Seen) -> None:
    lines = output.splitlines()
    assert len(lines) == 2 and all('"order_placed"' in line for line in lines), lines


def counted_once(output: str, seen: Seen) -> None:
    counts = json_of(output)
    assert counts == {
        "0001": 1,
        "0002": 1,
        "0003": 1,
        "0004": 0,
        "0005": 1,
        "0006": 1,
        "0007": 1,
    }, counts


def receivers_announcement(output: str, seen: Seen) -> None:
    entries = json_of(output)
    assert [(e["code"], e["service"]) for e in entries] == [("0001", "receiver")]


def every_message_on_events(output: str, seen: Seen) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 6 and all(json.loads(line)["event_type"] for line in lines), lines


def topics_listed(output: str, seen: Seen) -> None:
    assert re.search(r'topic "events" with 3 partitions', output), output
    assert re.search(r'topic "event_log" with 1 partitions', output), output


def simulated(output: str, seen: Seen) -> None:
    assert "merchstore simulate:" in output, output
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if "│" in line}
    assert {"purchase_sword", "order", "register", "all"} <= set(rows), output


def verified(output: str, seen: Seen) -> None:
    verdicts = re.findall(r"│ (ok|FAIL)\s+│", output)
    assert verdicts == ["ok"] * 6, output


@dataclass(frozen=True)
class Expected:
    """What a command of the tour must be (its start and its comment) and what it does."""

    starts: str
    claim: str
    check: Check
    eventually: bool = False  # answered by a consumer: asked again until it holds


REGISTER_CLAIM = (
    "Register alice (user 1), then log in: $TOKEN is her token for the routes that need one"
)
EXPECTED = [
    Expected("curl localhost:8000/products", "Three products, 500 in stock each", products),
    Expected("field() {", "`field NAME` prints one field of the JSON answer it reads", quiet),
    Expected("ALICE=$(curl", REGISTER_CLAIM, alice_registered),
    Expected("TOKEN=$(curl", REGISTER_CLAIM, logged_in),
    *(
        Expected(
            start, "Order two of product 1; the order is placed, and product 1 has 498 left", c
        )
        for start, c in [
            ("ORDER=$(curl", ordered),
            ("curl localhost:8000/orders/$ORDER", order_placed),
            ("curl localhost:8000/products/1", stock_of_product_1(498)),
        ]
    ),
    *(
        Expected(start, "Cancel it: the order is cancelled, and product 1 has its 500 again", c)
        for start, c in [
            ("curl -X DELETE localhost:8000/orders/$ORDER", order_cancelled),
            ("curl localhost:8000/products/1", stock_of_product_1(500)),
        ]
    ),
    Expected(
        "for attempt in 1 2 3",
        "Retry-safe: the same Idempotency-Key and body place one order however often sent "
        "(the same id three times)",
        one_order_three_times,
    ),
    Expected(
        "curl -i 'localhost:8000/orders?limit=1'",
        "Alice's orders one page at a time: her first, and a Link header to the next page",
        first_page,
    ),
    *(
        Expected(
            start,
            "A new password needs the current one; every token issued before stops working (401)",
            c,
        )
        for start, c in [
            ("curl -X PATCH localhost:8000/users/$ALICE", password_changed),
            ("curl -i localhost:8000/orders", old_token_refused),
        ]
    ),
    Expected(
        "curl -X POST localhost:8080/purchase_a_sword",
        "A sword bought: the answer comes once the broker has the event, with its event_id",
        event_acknowledged,
    ),
    *(
        Expected(start, "The classic GET form works too, and takes the player from the query", c)
        for start, c in [
            ("curl localhost:8080/join_guild", event_acknowledged),
            ("curl 'localhost:8080/join_guild?user_id=7'", event_acknowledged),
        ]
    ),
    *(
        Expected(
            start,
            "Stored by storage within a moment: the three above and the store's three "
            "(two orders, one cancel)",
            c,
            eventually=True,
        )
        for start, c in [
            ("curl localhost:8090/events/count", stored_count),
            ("curl 'localhost:8090/events?", stored_events),
        ]
    ),
    *(
        Expected(
            start,
            "Statistics run every 5 s; this runs them now: totals per type, orders placed and "
            "cancelled, revenue",
            c,
        )
        for start, c in [
            ("curl -X POST localhost:8100/runs", ran),
            ("curl localhost:8100/stats", statistics),
        ]
    ),
    Expected(
        ".venv/bin/merchstore status",
        "Every service of the running system and whether it is ready (exit status 0: all are)",
        every_service_ready,
    ),
    *(
        Expected(
            start, "One request's lines, found by its X-Request-ID: store-api's and db-service's", c
        )
        for start, c in [
            ("curl -s -H 'X-Request-ID: demo-1'", quiet),
            (
                ".venv/bin/merchstore logs tail --from-beginning --trace demo-1",
                lines_of_one_request,
            ),
        ]
    ),
    Expected(
        ".venv/bin/merchstore logs tail --from-beginning -n 5",
        "Every line so far, then it follows until Ctrl-C (-n N stops after N lines)",
        five_lines,
    ),
    Expected(
        "ls .merchstore/logs/log_*.jsonl",
        "What the tail read is saved once per line, a file per hour",
        hourly_files,
    ),
    Expected(
        ".venv/bin/merchstore events tail --from-beginning --type order_placed",
        "The two orders placed above, as the outbox relay put them on `events`",
        two_orders_on_events,
    ),
    *(
        Expected(
            start,
            "Each service announced itself once on event_log; the event-logger counted each once",
            c,
            eventually=True,
        )
        for start, c in [
            ("curl localhost:8120/events_stats", counted_once),
            ("curl 'localhost:8120/events?code=0001", receivers_announcement),
        ]
    ),
    *(
        Expected(
            start,
            "kcat, as in the classic course setup: every message on `events`, then exit; "
            "then the topics",
            c,
        )
        for start, c in [
            (".venv/bin/kcat -C -b localhost:9092 -t events", every_message_on_events),
            (".venv/bin/kcat -L -b localhost:9092", topics_listed),
        ]
    ),
    Expected(
        ".venv/bin/merchstore simulate --duration 30",
        "Players and shoppers for 30 s: a live progress line, then a summary of every kind of "
        "request",
        simulated,
    ),
    Expected(
        ".venv/bin/merchstore verify",
        "Everything acknowledged is stored once: every row says ok, and the exit status is 0",
        verified,
    ),
]


def test_every_command_has_its_check() -> None:
    commands = try_it_commands(TOUR.read_text())
    found = [(c.text.split("\n")[0][:60], c.claim) for c in commands]
    expected = [(e.starts[:60], e.claim) for e in EXPECTED]
    assert len(commands) == len(EXPECTED), (found, expected)
    for command, want in zip(commands, EXPECTED, strict=True):
        assert command.text.startswith(want.starts), (command.text, want.starts)
        assert command.claim == want.claim, (command.text, command.claim, want.claim)


def test_the_readmes_commands_are_the_tours_in_its_order() -> None:
    readme = README.read_text()
    section = readme.split("\n## Try it\n", 1)[1].split("\n## ", 1)[0]
    first = try_it_commands(section)
    tour = iter(try_it_commands(TOUR.read_text()))
    assert len(first) >= 3, first
    for command in first:
        # Each one is in the tour, with the same comment, after the one before it.
        assert any(command == later for later in tour), f"not in the tour, in order: {command}"


def on_ports(command: str, ports: dict[str, int]) -> str:
    """The command with the default ports replaced by this run's."""
    for name, default in DEFAULT_PORTS.items():
        command = command.replace(f"localhost:{default}", f"localhost:{ports[name]}")
    return command


@pytest.fixture
def fresh_up(tmp_path: Path) -> Iterator[tuple[Path, dict[str, int]]]:
    """``merchstore up`` on its default data directory, in a folder holding the ``.venv``."""
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(REPOSITORY / ".venv")
    ports = free_up_ports()
    up = UpProcess(workdir / ".merchstore", up_environment(ports), cwd=workdir)
    try:
        up.wait_for("merchstore is up")
        yield workdir, ports
    finally:
        stop_up(up.process, workdir / ".merchstore")


@pytest.mark.timeout(900)
def test_try_it_does_what_its_comments_say(fresh_up: tuple[Path, dict[str, int]]) -> None:
    workdir, ports = fresh_up
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERCHSTORE_")}
    shell = Shell(workdir, env)
    seen = Seen(shell, workdir)
    try:
        commands = try_it_commands(TOUR.read_text())
        assert len(commands) == len(EXPECTED)
        for command, expected in zip(commands, EXPECTED, strict=True):
            typed = on_ports(command.text, ports)
            if not expected.eventually:
                output, status = shell.run(typed)
                assert status == 0, (command.text, output, shell.stderr.read_text()[-2000:])
                expected.check(output, seen)
                continue
            failures: list[str] = []

            def holds(
                typed: str = typed, expected: Expected = expected, failures: list[str] = failures
            ) -> bool:
                output, status = shell.run(typed)
                try:
                    assert status == 0, output
                    expected.check(output, seen)
                except (AssertionError, ValueError, KeyError) as error:
                    failures[:] = [f"{output}\n{error!r}"]
                    return False
                return True

            try:
                wait_until(holds, 60, command.claim)
            except AssertionError:
                raise AssertionError(f"{command.text}\n{failures}") from None
    finally:
        shell.close()
