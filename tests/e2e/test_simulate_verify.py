"""``merchstore simulate`` and ``verify`` against a running ``merchstore up``.

Both find the system from its data directory alone (no port setting), as a user's would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from merchstore.tools.ledger import LedgerWriter
from tests.support.broker import broker_kinds
from tests.support.processes import stop_process, wait_until
from tests.support.store import Store
from tests.support.up import UpProcess, free_up_ports, start_simulate, stop_up, up_environment

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The data directory of a running ``merchstore up``."""
    directory = tmp_path_factory.mktemp("simulate") / "data"
    up = UpProcess(directory, up_environment(free_up_ports()))
    try:
        up.wait_for("merchstore is up")
        yield directory
    finally:
        stop_up(up.process, directory)


def merchstore(*arguments: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """A merchstore command with no MERCHSTORE_ setting: it finds the system by its data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERCHSTORE_")}
    return subprocess.run(
        [sys.executable, "-m", "merchstore", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def records(ledger: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in ledger.read_text().splitlines()]


def verdicts(output: str) -> dict[str, str]:
    """Each row of verify's table: the check's first words and its verdict."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 7 and cells[5] in ("ok", "FAIL", "skipped"):
            rows[cells[0]] = cells[5]
    return rows


def test_what_the_simulation_got_acknowledged_verifies_and_a_made_up_event_does_not(
    data_dir: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    simulated = merchstore(
        "simulate",
        "--data-dir",
        str(data_dir),
        "--duration",
        "15",
        "--rate",
        "25",
        "--players",
        "4",
        "--shoppers",
        "3",
        "--ledger",
        str(ledger),
        "--seed",
        "7",
    )
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    assert "merchstore simulate:" in simulated.stdout  # the summary table
    kinds = [record["kind"] for record in records(ledger)]
    assert kinds[0] == "run" and kinds[-1] == "end"
    assert kinds.count("event") > 20 and kinds.count("order") > 3, kinds
    assert kinds.count("shopper") == 3 and kinds.count("request") > 20

    verified = merchstore("verify", "--data-dir", str(data_dir), "--ledger", str(ledger))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    rows = verdicts(verified.stdout)
    assert len(rows) == 6 and set(rows.values()) == {"ok"}, verified.stdout

    # An acknowledgement the system never gave, and an order it never placed: both missing.
    with ledger.open("a") as file:
        file.write(json.dumps({"kind": "event", "event_id": str(uuid.uuid4())}) + "\n")
        shopper = next(r for r in records(ledger) if r["kind"] == "shopper")
        file.write(
            json.dumps(
                {
                    "kind": "order",
                    "order_id": 10**9,
                    "user_id": shopper["user_id"],
                    "product_id": 1,
                    "quantity": 1,
                }
            )
            + "\n"
        )
    tampered = merchstore(
        "verify", "--data-dir", str(data_dir), "--ledger", str(ledger), "--settle", "3"
    )
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    rows = verdicts(tampered.stdout)
    assert [name for name, verdict in rows.items() if verdict == "FAIL"] == [
        "game events stored once",
        "orders once, with their",
        "order events stored once",
    ], tampered.stdout


def test_ctrl_c_stops_the_simulation_with_its_summary_and_a_whole_ledger(
    data_dir: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    process = start_simulate(data_dir, "--duration", "0", "--ledger", str(ledger))
    try:
        wait_until(
            lambda: ledger.exists() and ledger.read_text().count('"kind":"event"') >= 20,
            120,
            "20 events acknowledged",
        )
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        stop_process(process, 10)
    assert process.returncode == 0, out + err
    assert "merchstore simulate:" in out, out
    assert records(ledger)[-1]["kind"] == "end"
    verified = merchstore("verify", "--data-dir", str(data_dir), "--ledger", str(ledger))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_with_no_system_running_simulate_says_so_in_one_line(tmp_path: Path) -> None:
    answer = merchstore(
        "simulate",
        "--data-dir",
        str(tmp_path),
        "--store-url",
        "http://127.0.0.1:9",
        "--receiver-url",
        "http://127.0.0.1:9",
        timeout_s=60,
    )
    assert answer.returncode == 1
    assert answer.stderr.count("\n") == 1 and "does not answer" in answer.stderr, answer.stderr


def test_verify_reads_every_page_of_a_shoppers_orders(data_dir: Path, tmp_path: Path) -> None:
    """More orders than one page of GET /orders holds (200): each one is found."""
    urls = json.loads((data_dir / "run" / "services.json").read_text())
    store = Store(urls["store-api"])
    shopper = store.register("pages")
    placed = []
    for index in range(205):
        answer = store.http.post(
            "/orders",
            json={"product_id": 1 + index % 3, "quantity": 1},
            headers=shopper.auth,
        )
        assert answer.status_code == 201, answer.text
        placed.append(answer.json()["id"])
    ledger = tmp_path / "ledger.jsonl"
    with LedgerWriter(ledger) as writer:
        writer.add("run", store_url=urls["store-api"], event_log_baseline=None)
        writer.add(
            "shopper", user_id=shopper.id, username=shopper.username, password=shopper.password
        )
        for index, order_id in enumerate(placed):
            writer.add(
                "order",
                order_id=order_id,
                user_id=shopper.id,
                product_id=1 + index % 3,
                quantity=1,
            )
    verified = merchstore("verify", "--data-dir", str(data_dir), "--ledger", str(ledger))
    rows = verdicts(verified.stdout)
    assert rows["orders once, with their"] == "ok", verified.stdout
    assert "│ 205 " in verified.stdout


@pytest.mark.parametrize("broker", ["embedded", "kafka"])
def test_verify_after_a_restart_checks_what_it_can_and_names_what_it_cannot(
    broker: str, tmp_path: Path
) -> None:
    """The embedded broker keeps nothing across a restart; Apache Kafka keeps its topics."""
    if broker not in broker_kinds():
        pytest.skip(f"{broker} is not among this run's brokers")
    directory, ledger = tmp_path / "data", tmp_path / "ledger.jsonl"
    env = up_environment(free_up_ports())
    options = ("--broker", "kafka") if broker == "kafka" else ()
    up = UpProcess(directory, env, *options)
    try:
        up.wait_for("merchstore is up")
        simulated = merchstore(
            "simulate",
            *("--data-dir", str(directory), "--duration", "8", "--rate", "20"),
            *("--players", "3", "--shoppers", "2", "--ledger", str(ledger), "--seed", "3"),
        )
        assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    finally:
        stop_up(up.process, directory)
    up = UpProcess(directory, env, *options)
    try:
        up.wait_for("merchstore is up")
        verified = merchstore("verify", "--data-dir", str(directory), "--ledger", str(ledger))
    finally:
        stop_up(up.process, directory)
    said = verified.stdout + verified.stderr
    assert verified.returncode == 0, said
    rows = verdicts(verified.stdout)
    assert len(rows) == 6 and "FAIL" not in rows.values(), said
    if broker == "embedded":
        skipped = sorted(name for name, verdict in rows.items() if verdict == "skipped")
        assert [name.split()[0] for name in skipped] == ["event-logger", "store"], said
        assert "the broker was restarted since this ledger was written" in said
    else:
        assert set(rows.values()) == {"ok"}, said
        assert "restarted" not in said
