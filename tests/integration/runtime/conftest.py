"""Fixtures of the ``merchstore up`` tests: the process, its output, free ports for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.up import (
    UpProcess,
    free_up_ports,
    postmaster_pid,
    processes_of,
    still_running,
    stop_up,
    up_environment,
)

__all__ = ["UpProcess", "postmaster_pid", "processes_of", "still_running", "stop_up"]


@pytest.fixture
def up_ports() -> dict[str, int]:
    """Free ports for the broker, Prometheus and every service (keys: ``event_logger``, ...)."""
    return free_up_ports()


@pytest.fixture
def up_env(up_ports: dict[str, int]) -> dict[str, str]:
    """The environment that puts `up`'s broker, Prometheus and services on ``up_ports``."""
    return up_environment(up_ports)


@pytest.fixture
def running_up(tmp_path: Path, up_env: dict[str, str]) -> Iterator[UpProcess]:
    # With the Prometheus it can run: that it scrapes every service is checked through it.
    up = UpProcess(tmp_path / "data", up_env, "--prometheus")
    try:
        yield up
    finally:
        stop_up(up.process, tmp_path / "data")
