"""Start merchstore services as real subprocesses and wait for them to be healthy."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx

from merchstore.common.health_probe import check_health
from tests.support.grpc_tls import tls_of_environment

# Ports are handed out below the kernel's ephemeral range. A port the kernel picks for a probe
# comes from that range, and any outgoing connection (a client, a broker link) can take it in
# the moment between the probe and the server's bind: CI saw "address already in use" from it.
# Each xdist worker hands out its own slice of the range below, so workers never pick the
# same port either.
_LOWEST_TEST_PORT = 12000
_DEFAULT_EPHEMERAL_LOW = 32768


def _ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections."""
    try:
        low = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
    except (OSError, IndexError):
        return _DEFAULT_EPHEMERAL_LOW
    return int(low)


def _worker_slice() -> range:
    """The ports this process may hand out: its xdist worker's share of the free range."""
    ports = range(_LOWEST_TEST_PORT, _ephemeral_low())
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    share = len(ports) // max(workers, 1)
    return ports[worker * share : (worker + 1) * share]


class _PortAllocator:
    """Hands out each port of a slice once, in turn, skipping ports something has bound."""

    def __init__(self, ports: range) -> None:
        self._ports = ports
        # A random start, so two runs on one machine (a benchmark beside the suite) rarely
        # walk the same ports in step.
        self._next = random.randrange(len(ports)) if ports else 0
        self._handed_out: set[int] = set()

    def take(self, count: int = 1, spacing: int = 0) -> int:
        """A port free now, with ``count - 1`` more free ones every ``spacing`` above it."""
        if len(self._ports) < 1000:  # the kernel's range leaves too little below it
            return _kernel_port()
        for _sweep in range(2):
            for _ in range(len(self._ports)):
                port = self._ports[self._next % len(self._ports)]
                self._next += 1
                wanted = [port + spacing * index for index in range(count)]
                if all(self._available(each) for each in wanted):
                    self._handed_out.update(wanted)
                    return port
            # Every port was handed out once: the servers of the first ones are long gone.
            self._handed_out.clear()
        raise RuntimeError(f"no free port in {self._ports}")

    def _available(self, port: int) -> bool:
        """Whether ``port`` is ours, not handed out yet, and unbound."""
        return port in self._ports and port not in self._handed_out and _bindable(port)


def _bindable(port: int) -> bool:
    """Whether nothing holds ``port`` on the loopback interface right now."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _kernel_port() -> int:
    """A port the kernel picks: the fallback when no range is left below its own."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_allocator = _PortAllocator(_worker_slice())


def free_port() -> int:
    """A TCP port nothing listens on, handed out once per test process."""
    return _allocator.take()


def free_port_pair(offset: int = 100) -> int:
    """A free port whose ``port + offset`` is free too (a gRPC port and its metrics port)."""
    return _allocator.take(count=2, spacing=offset)


def wait_until(
    condition: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.1
) -> None:
    """Poll ``condition`` until it is truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def holds_for(
    condition: Callable[[], object], duration_s: float, what: str, interval_s: float = 0.2
) -> None:
    """Check ``condition`` again and again for ``duration_s``; fail the first time it is false.

    For what must *not* happen (a message counted twice, a transaction left open): the check
    runs all the while, not once after a pause.
    """
    deadline = time.monotonic() + duration_s
    while True:
        if not condition():
            raise AssertionError(f"no longer true: {what}")
        if time.monotonic() >= deadline:
            return
        time.sleep(interval_s)


def stop_process(process: subprocess.Popen[str], timeout_s: float) -> None:
    """SIGTERM ``process``, and SIGKILL it if it has not ended within ``timeout_s``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def http_ok(url: str) -> bool:
    """Whether ``url`` answers 200 (any page; for a service's readiness use service_ready)."""
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def service_ready(url: str) -> bool:
    """Whether the service answering at ``url`` (``http://`` or ``grpc://``) says it is ready."""
    parsed = urlsplit(url)
    protocol: Literal["http", "grpc"] = "grpc" if parsed.scheme == "grpc" else "http"
    assert parsed.hostname and parsed.port, url
    return check_health(protocol, parsed.hostname, parsed.port, timeout_s=1.0).ready


class ServiceProcess:
    """One service run as ``python -m merchstore serve NAME`` with its own environment."""

    def __init__(
        self, name: str, env: Mapping[str, str], port: int, log_file: Path, grpc: bool = False
    ) -> None:
        self.name = name
        self.grpc = grpc
        self.env = {**os.environ, **env}
        self.port = port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True, timeout_s: float = 60.0) -> ServiceProcess:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._stopping = False
        with self.log_file.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "merchstore", "serve", self.name],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        if wait:
            try:
                self.wait_healthy(timeout_s)
            except BaseException:
                self.stop()  # a process that never became healthy is not left behind
                raise
        return self

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            protocol: Literal["http", "grpc"] = "grpc" if self.grpc else "http"
            # A service with mutual TLS is asked with its own certificate.
            tls = tls_of_environment(self.env) if self.grpc else None
            return check_health(protocol, "127.0.0.1", self.port, timeout_s=1.0, tls=tls).ready

        wait_until(healthy, timeout_s, f"{self.name} to be healthy")

    def kill(self) -> None:
        """SIGKILL: a crash at an arbitrary instant."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def terminate(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def request_stop(self) -> None:
        """SIGTERM, once (a second one would cut the graceful shutdown short)."""
        if self.process is not None and self.process.poll() is None and not self._stopping:
            self._stopping = True
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM (unless already sent) and wait; SIGKILL after 20 s."""
        if self.process is not None and self.process.poll() is None:
            self.request_stop()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
