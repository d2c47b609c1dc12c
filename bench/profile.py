"""Where the time goes on the hot paths: a py-spy profile of each service under its load.

Run: ``make bench-profile``, or ``.venv/bin/python -m bench.profile [--broker kafka]``

On each broker (the embedded one and Apache Kafka), each service below is recorded by py-spy
while the load its benchmark puts on it runs. py-spy samples the running process from outside
(``--nonblocking``: it never pauses it), so what is measured is the code as it runs:

- receiver: ``POST /purchase_a_sword`` from 32 wrk connections (``bench.brokers``' first row);
- event-logger: ingesting messages already on ``event_log`` (its ingest row);
- logging-service: one batched stream of log lines (its lines/s row);
- store-api: ``GET /products`` from 32 connections at INFO, shipping its log lines
  (``bench.logging_service``'s shipping on vs off).

Each gives a flame graph, ``docs/benchmarks/profiles/<path>-<broker>.svg``, and beside it the
functions with the most samples of their own (``.txt``), which are also printed. Only samples of
threads that were running count (py-spy leaves idle ones out): the graphs show where CPU goes,
not what a request waits for.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx

from bench.event_logger import event_logger, payloads
from bench.harness import BROKERS, BenchServers, servers_on, stopped
from bench.logging_service import sample_lines, stream_rate
from bench.pipeline import BODY, start
from bench.store_api import start_store
from bench.wrk import post_load, require_wrk, run_load
from tests.support.kafka import produce_all
from tests.support.processes import ServiceProcess, free_port, wait_until

PROFILES = Path(os.environ.get("MERCHSTORE_BENCH_PROFILES", "docs/benchmarks/profiles"))
"""Where the flame graphs and their tables go."""
RATE = 250
"""Samples per second: enough for a few seconds to show the per-request work."""
CLIENTS = 32
TOP = 20
"""How many functions each table lists."""
ENTRY = (
    "__main__.py)",
    "/cli.py)",
    "/services.py)",
    "/main.py)",
    "serving/http.py)",
    "serving/grpc.py)",
)
"""Where every stack starts (the command, a service's entry point, its server): left out of
the inclusive table, which they would top with nearly every sample."""


def py_spy() -> str:
    """The py-spy of this environment (a dev dependency)."""
    path = Path(sys.executable).parent / "py-spy"
    if not path.exists():
        raise SystemExit("py-spy is missing: make install (it is a dev dependency)")
    return str(path)


@contextmanager
def recording(pid: int, name: str) -> Iterator[None]:
    """Record ``pid`` with py-spy while the block runs: a flame graph and raw stacks."""
    PROFILES.mkdir(parents=True, exist_ok=True)
    recorders = [
        subprocess.Popen(
            [
                py_spy(),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(RATE),
                "--nonblocking",
                "--format",
                form,
                "--output",
                str(PROFILES / f"{name}{suffix}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for form, suffix in (("flamegraph", ".svg"), ("raw", ".stacks"))
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
        for recorder in recorders:
            _, errors = recorder.communicate(timeout=60)
            if recorder.returncode not in (0, -signal.SIGINT):
                raise SystemExit(f"py-spy failed on {name}: {errors[-2000:]}")


def _function(frame: str) -> str:
    """A py-spy frame without its line number: ``name (file)``."""
    return re.sub(r":\d+\)$", ")", frame)


def samples_by_function(stacks: Path) -> tuple[Counter[str], Counter[str], int]:
    """Samples per function, from py-spy's raw output.

    Three figures: per function of its own (innermost frame), per merchstore function anywhere
    on the stack (inclusive), and all samples.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        functions = [_function(frame) for frame in frames.split(";")]
        own[functions[-1]] += int(count)
        for function in set(functions):
            if "merchstore/" in function and not function.endswith(ENTRY):
                inclusive[function] += int(count)
        total += int(count)
    return own, inclusive, total


def summarize(name: str, what: str) -> str:
    """The tables of ``name``'s profile, written beside its flame graph; also returned."""
    stacks = PROFILES / f"{name}.stacks"
    own, inclusive, total = samples_by_function(stacks)
    lines = [f"{name}: {what}", f"{total:,} samples of running threads at {RATE}/s", ""]
    lines.append("own samples (the function itself running):")
    lines += [f"{count / max(total, 1):6.1%}  {frame}" for frame, count in own.most_common(TOP)]
    lines += ["", "merchstore's functions, with what they call:"]
    lines += [
        f"{count / max(total, 1):6.1%}  {frame}" for frame, count in inclusive.most_common(TOP)
    ]
    table = "\n".join(lines) + "\n"
    (PROFILES / f"{name}.txt").write_text(table)
    stacks.unlink()
    return table


def profile_receiver(servers: BenchServers, broker: str, seconds: int) -> None:
    """The receiver under wrk's POSTs."""
    with stopped(start("receiver", servers)) as receiver:
        post_load(f"{receiver.url}/purchase_a_sword", BODY, CLIENTS, 1)  # warm up
        assert receiver.process is not None
        with recording(receiver.process.pid, name := f"receiver-{broker}"):
            post_load(f"{receiver.url}/purchase_a_sword", BODY, CLIENTS, seconds)
    print(summarize(name, f"POST /purchase_a_sword, {CLIENTS} connections, {seconds} s"))


def profile_event_logger(servers: BenchServers, broker: str, messages: int) -> None:
    """The event-logger, ready and waiting, storing messages as they are written."""
    topic = servers.with_topics(event_log="event-log-profile").settings.topics.event_log
    values = payloads(messages)
    service = event_logger(servers.work / "event-logger-profile", servers.bootstrap, topic)
    with stopped(service.start()):
        assert service.process is not None
        with recording(service.process.pid, name := f"event-logger-{broker}"):
            produce_all(servers.bootstrap, topic, values)
            wait_until(lambda: counted(service) >= messages, 600, "the event-logger's ingest")
    print(summarize(name, f"storing {messages:,} messages written to event_log"))


def counted(service: ServiceProcess) -> int:
    """What the event-logger has stored so far (0 while it does not answer yet)."""
    try:
        return sum(httpx.get(f"{service.url}/events_stats", timeout=5).json().values())
    except httpx.HTTPError:
        return 0


def profile_logging_service(servers: BenchServers, broker: str, lines: int) -> None:
    """logging-service taking one batched stream."""
    port = free_port()
    service = ServiceProcess(
        "logging-service",
        servers.service_env(MERCHSTORE_LOGGING_SERVICE__PORT=str(port)),
        port,
        servers.work / "logging-service-profile.out",
        grpc=True,
    )
    sample = sample_lines(lines)
    with stopped(service.start()):
        stream_rate(port, sample[: len(sample) // 10 or 1], True)  # warm up
        assert service.process is not None
        with recording(service.process.pid, name := f"logging-service-{broker}"):
            stream_rate(port, sample, True)
    print(summarize(name, f"one batched stream of {lines:,} lines"))


def profile_store_api(servers: BenchServers, broker: str, seconds: int) -> None:
    """store-api answering GET /products while it ships its request lines."""
    logging_port = free_port()
    env = servers.service_env(
        MERCHSTORE_LOGGING_SERVICE__PORT=str(logging_port), MERCHSTORE_LOG_LEVEL="INFO"
    )
    logging_service = ServiceProcess(
        "logging-service", env, logging_port, servers.work / "shipping.out", grpc=True
    )
    with stopped(logging_service.start()):
        processes, url = start_store(servers.work, "profile", env, per_request=False, cache_s=1.0)
        try:
            run_load(f"{url}/products", CLIENTS, 1)  # warm up
            api = processes[-1].process
            assert api is not None
            with recording(api.pid, name := f"store-api-{broker}"):
                run_load(f"{url}/products", CLIENTS, seconds)
        finally:
            for process in processes:
                process.stop()
    print(summarize(name, f"GET /products at INFO, shipping on, {CLIENTS} connections"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="load duration per profile")
    parser.add_argument("--messages", type=int, default=60_000, help="event-logger messages")
    parser.add_argument("--lines", type=int, default=100_000, help="log lines in the stream")
    parser.add_argument("--broker", choices=BROKERS, action="append", help="default: both")
    arguments = parser.parse_args()
    require_wrk()
    py_spy()
    paths: list[Callable[[BenchServers, str], None]] = [
        partial(profile_receiver, seconds=arguments.seconds),
        partial(profile_event_logger, messages=arguments.messages),
        partial(profile_logging_service, lines=arguments.lines),
        partial(profile_store_api, seconds=arguments.seconds),
    ]
    for broker in arguments.broker or BROKERS:
        with servers_on(broker, "profile") as servers:
            for profile in paths:
                profile(servers, broker)
    print(f"flame graphs and tables in {PROFILES}/")


if __name__ == "__main__":
    main()
