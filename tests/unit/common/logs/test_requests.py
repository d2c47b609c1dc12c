"""The request log: one line per request, the system's own probes only when asked for."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from merchstore.common.logs.requests import PROBE_PATHS, RequestLogging

LOGGER = "merchstore.test.requests"


def client(log_probes: bool) -> TestClient:
    app = FastAPI()

    @app.get("/{path:path}")
    def anything(path: str) -> dict[str, str]:
        return {"path": path}

    app.add_middleware(RequestLogging, logger_name=LOGGER, log_probes=log_probes)
    return TestClient(app)


def logged_paths(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split()[1] for r in caplog.records if r.name == LOGGER]


@pytest.mark.parametrize("log_probes", [False, True])
def test_probes_are_logged_only_when_asked_for(
    log_probes: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with client(log_probes) as http:
        for path in (*sorted(PROBE_PATHS), "/products", "/metrics/extra"):
            assert http.get(path).status_code == 200
    users = ["/products", "/metrics/extra"]
    assert logged_paths(caplog) == ([*sorted(PROBE_PATHS), *users] if log_probes else users)


def test_each_line_carries_the_request_trace_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with client(False) as http:
        answer = http.get("/products", headers={"X-Request-ID": "trace-7"})
    assert answer.headers["X-Request-ID"] == "trace-7"
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert getattr(record, "trace_id", None) == "trace-7"


def test_a_path_full_of_terminal_escapes_is_logged_as_escapes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with client(False) as http:
        http.get("/%1b%5d0;x%07%0aFAKE")
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert "/\\x1b]0;x\\x07\\nFAKE" in record.getMessage()
    assert not any(ord(c) < 0x20 for c in record.getMessage())
