"""``merchstore events tail`` as a real process against a real broker."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from merchstore.common.messages import DomainEvent
from merchstore.settings import Settings
from tests.support.broker import PrivateBroker, kafka_environment
from tests.support.kafka import produce_all
from tests.support.processes import free_port


class Tail:
    def __init__(self, settings: Settings, *arguments: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "merchstore", "events", "tail", *arguments],
            env={**os.environ, **kafka_environment(settings)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.notes: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None and self.process.stderr is not None
        for stream, lines in ((self.process.stdout, self.lines), (self.process.stderr, self.notes)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _read(stream: IO[str], lines: queue.Queue[str]) -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    def wait_following(self, timeout_s: float = 30) -> str:
        """The tail's note (on stderr) that it follows the topic: what is sent next, it shows."""
        note = self.notes.get(timeout=timeout_s)
        assert "following" in note, note
        return note

    def next_lines(self, count: int, timeout_s: float = 30) -> list[str]:
        return [self.lines.get(timeout=timeout_s) for _ in range(count)]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def test_from_beginning_prints_old_and_new_messages(settings: Settings) -> None:
    topic = settings.topics.log_channel
    produce_all(settings.bootstrap_servers, topic, [b"one", b"two"], key=b"k")
    tail = Tail(settings, "--topic", topic, "--from-beginning")
    try:
        first = tail.next_lines(2)
        assert first[0].endswith("key=k one") and first[0].startswith(f"{topic}[0]@0")
        assert first[1].endswith("key=k two")
        produce_all(settings.bootstrap_servers, topic, [b"three"])
        assert tail.next_lines(1)[0].endswith("three")
    finally:
        assert tail.stop() == 0


def test_without_from_beginning_prints_only_new_messages(settings: Settings) -> None:
    topic = settings.topics.events
    produce_all(settings.bootstrap_servers, topic, [b"old"] * 5)
    tail = Tail(settings, "--topic", topic)
    try:
        assert "from now" in tail.wait_following()
        produce_all(settings.bootstrap_servers, topic, [b"new"], key=b"user-1")
        assert tail.next_lines(1)[0].endswith("key=user-1 new")
        assert tail.lines.empty()
    finally:
        assert tail.stop() == 0


def test_unknown_topic_is_a_clear_error(settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "merchstore", "events", "tail", "--topic", "no-such-topic"],
        env={**os.environ, **kafka_environment(settings)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no-such-topic" in result.stderr


@pytest.mark.parametrize("command", [["events", "tail"], ["logs", "tail"]])
@pytest.mark.parametrize("broker", ["none running here", "unreachable"])
def test_without_a_broker_the_tails_exit_within_15_s_with_one_line(
    tmp_path: Path, command: list[str], broker: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERCHSTORE_")}
    if broker == "unreachable":
        env["MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "merchstore", *command, "--data-dir", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert time.monotonic() - started < 15
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "merchstore up" in lines[0] or "not reachable" in lines[0]


def test_type_json_and_max_messages(settings: Settings) -> None:
    topic = settings.topics.events
    events = [
        DomainEvent.new("join_guild", "1").to_json(),
        DomainEvent.new("purchase_sword", "2").to_json(),
        b"not json",
        DomainEvent.new("purchase_sword", "3").to_json(),
        DomainEvent.new("purchase_sword", "4").to_json(),
    ]
    produce_all(settings.bootstrap_servers, topic, events, key=b"k")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "merchstore",
            "events",
            "tail",
            "--topic",
            topic,
            "--from-beginning",
            "--type",
            "purchase_sword",
            "--json",
            "-n",
            "2",
        ],
        env={**os.environ, **kafka_environment(settings)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [json.loads(line)["user_id"] for line in lines] == ["2", "3"]


def test_the_tail_survives_a_broker_restart(private_broker: PrivateBroker) -> None:
    broker, settings = private_broker, private_broker.settings
    tail = Tail(settings)
    try:
        tail.wait_following()
        produce_all(settings.bootstrap_servers, settings.topics.events, [b"before"])
        assert tail.next_lines(1)[0].endswith(" before")
        broker.stop()
        time.sleep(2)  # the tail meets the outage
        broker.start()
        # One a second until the tail shows one: the embedded broker comes back empty and may
        # serve nothing below the tail's old position until its log passes it again.
        shown: list[str] = []
        deadline = time.monotonic() + 90
        while not shown and time.monotonic() < deadline:
            produce_all(settings.bootstrap_servers, settings.topics.events, [b"after"])
            with contextlib.suppress(queue.Empty):
                shown = tail.next_lines(1, timeout_s=1)
        assert shown and shown[0].endswith(" after"), "the tail follows again"
        assert tail.process.poll() is None, "still following"
    finally:
        assert tail.stop() == 0
