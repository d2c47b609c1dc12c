"""``merchstore logs tail`` as a real process: prints lines, saves each once to hourly files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from merchstore.settings import Settings
from tests.support.broker import kafka_environment
from tests.support.kafka import produce_all


def line(service: str, message: str, timestamp: str) -> bytes:
    return json.dumps(
        {
            "level": "WARNING",
            "service_name": service,
            "message": message,
            "timestamp": timestamp,
            "trace_id": "abc",
        }
    ).encode()


def run_tail(settings: Settings, data_dir: Path, *options: str) -> list[str]:
    """``merchstore logs tail OPTIONS`` to its end (``-n``): the lines it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "merchstore", "logs", "tail", *options],
        env={
            **os.environ,
            **kafka_environment(settings),
            "MERCHSTORE_TOPICS__LOG_CHANNEL": settings.topics.log_channel,
            "MERCHSTORE_DATA_DIR": str(data_dir),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def saved(data_dir: Path, hour: str) -> list[str]:
    """The messages in the hourly file of ``hour`` (``20261122_06``), in order."""
    path = data_dir / "logs" / f"log_{hour}.jsonl"
    return [json.loads(x)["message"] for x in path.read_text().splitlines()]


def test_prints_filtered_lines_and_saves_each_line_once(settings: Settings, tmp_path: Path) -> None:
    produce_all(
        settings.bootstrap_servers,
        settings.topics.log_channel,
        [
            line("store-api", "GET /products 200 3.1ms", "2026-11-22T06:59:59.000Z"),
            line("db-service", "ListProducts OK", "2026-11-22T07:00:00.000Z"),
            line("store-api", "GET /orders 200 5.0ms", "2026-11-22T07:00:01.000Z"),
        ],
    )
    printed = run_tail(settings, tmp_path, "--from-beginning", "--service", "store-api", "-n", "2")
    assert "WARNING" in printed[0] and "[store-api] GET /products 200 3.1ms" in printed[0]
    assert "trace=abc" in printed[0]
    assert "GET /orders" in printed[1] and len(printed) == 2
    # The filter chose what was printed; every line read is saved, in the file of its hour.
    assert saved(tmp_path, "20261122_06") == ["GET /products 200 3.1ms"]
    assert saved(tmp_path, "20261122_07") == ["ListProducts OK", "GET /orders 200 5.0ms"]

    # Read again from the beginning, then once more with a new line: each line saved once.
    run_tail(settings, tmp_path, "--from-beginning", "-n", "3")
    produce_all(
        settings.bootstrap_servers,
        settings.topics.log_channel,
        [line("store-api", "POST /orders 201 9.0ms", "2026-11-22T07:30:00.000Z")],
    )
    run_tail(settings, tmp_path, "--from-beginning", "-n", "4")
    assert saved(tmp_path, "20261122_06") == ["GET /products 200 3.1ms"]
    assert saved(tmp_path, "20261122_07") == [
        "ListProducts OK",
        "GET /orders 200 5.0ms",
        "POST /orders 201 9.0ms",
    ]


def test_level_trace_json_and_max_messages(settings: Settings, tmp_path: Path) -> None:
    lines = [
        json.dumps({"level": level, "service_name": "s", "message": m, "trace_id": trace}).encode()
        for level, m, trace in [
            ("INFO", "quiet", "t1"),
            ("ERROR", "loud one", "t1"),
            ("WARNING", "other trace", "t2"),
            ("CRITICAL", "loud two", "t1"),
            ("ERROR", "loud three", "t1"),
        ]
    ]
    produce_all(settings.bootstrap_servers, settings.topics.log_channel, lines)
    printed = run_tail(
        settings,
        tmp_path,
        *("--from-beginning", "--level", "warning", "--trace", "t1", "--json", "-n", "2"),
    )
    assert [json.loads(x)["message"] for x in printed] == [
        "loud one",
        "loud two",
    ]
