"""The shared lifecycle on real service processes: how they stop."""

from __future__ import annotations

import signal

import pytest

from tests.conftest import ServiceLauncher


@pytest.mark.parametrize("service", ["event-logger", "logging-service"], ids=["http", "grpc"])
def test_a_closed_terminal_stops_a_service_gracefully(
    services: ServiceLauncher, service: str
) -> None:
    running = services.start(service)
    assert running.process is not None
    running.process.send_signal(signal.SIGHUP)
    # Left to its default, SIGHUP would end the process at once (exit status -1).
    assert running.process.wait(30) == 0, running.log_tail()
