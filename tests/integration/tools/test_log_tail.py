"""``merchstore logs tail`` as a real process: prints lines and writes hourly files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from merchstore.common.config import Settings
from tests.support.kafka import produce_all
from tests.support.processes import wait_until


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


def test_prints_filters_and_writes_hourly_files(settings: Settings, tmp_path: Path) -> None:
    produce_all(
        settings.bootstrap_servers,
        settings.topics.log_channel,
        [
            line("store-api", "GET /products 200 3.1ms", "2026-11-22T06:59:59.000Z"),
            line("db-service", "ListProducts OK", "2026-11-22T07:00:00.000Z"),
            line("store-api", "GET /orders 200 5.0ms", "2026-11-22T07:00:01.000Z"),
        ],
    )
    tail = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "merchstore",
            "logs",
            "tail",
            "--from-beginning",
            "--service",
            "store-api",
        ],
        env={
            **os.environ,
            "MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "MERCHSTORE_TOPICS__LOG_CHANNEL": settings.topics.log_channel,
            "MERCHSTORE_DATA_DIR": str(tmp_path),
        },
        stdout=subprocess.PIPE,
        text=True,
    )
    assert tail.stdout is not None
    printed = [tail.stdout.readline().rstrip("\n") for _ in range(2)]
    hourly = [tmp_path / "logs" / f"log_20261122_{hour}.jsonl" for hour in ("06", "07")]
    wait_until(lambda: all(path.exists() for path in hourly), 10, "both hourly files")
    tail.send_signal(signal.SIGTERM)
    assert tail.wait(30) == 0
    assert "WARNING" in printed[0] and "[store-api] GET /products 200 3.1ms" in printed[0]
    assert "trace=abc" in printed[0]
    assert "GET /orders" in printed[1]
    six = (tmp_path / "logs" / "log_20261122_06.jsonl").read_text().splitlines()
    seven = (tmp_path / "logs" / "log_20261122_07.jsonl").read_text().splitlines()
    assert [json.loads(x)["message"] for x in six] == ["GET /products 200 3.1ms"]
    assert [json.loads(x)["message"] for x in seven] == ["GET /orders 200 5.0ms"]


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
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "merchstore",
            "logs",
            "tail",
            "--from-beginning",
            "--level",
            "warning",
            "--trace",
            "t1",
            "--json",
            "-n",
            "2",
        ],
        env={
            **os.environ,
            "MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "MERCHSTORE_TOPICS__LOG_CHANNEL": settings.topics.log_channel,
            "MERCHSTORE_DATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(x)["message"] for x in result.stdout.splitlines()] == [
        "loud one",
        "loud two",
    ]
