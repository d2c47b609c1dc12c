"""The request log: one line per request, the system's own probes only when asked for."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from merchstore.common.http.tracing import native_telemetry, traced
from merchstore.common.logs.requests import PROBE_PATHS, RequestLogging

LOGGER = "merchstore.test.requests"


def client(log_probes: bool) -> TestClient:
    provider = TracerProvider(sampler=ALWAYS_OFF)
    app = FastAPI(telemetry=native_telemetry(provider))

    @app.get("/{path:path}")
    def anything(path: str) -> dict[str, str]:
        return {"path": path}

    app.add_middleware(RequestLogging, logger_name=LOGGER, log_probes=log_probes)
    # As every service: the request's span outermost (nothing recorded, trace ids all the same).
    return TestClient(traced(app, provider))


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


def test_each_line_carries_the_request_id_and_its_answer_echoes_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with client(False) as http:
        answer = http.get("/products", headers={"X-Request-ID": "request-7"})
        unnamed = http.get("/products", headers={"X-Request-ID": "not safe; in logs"})
    assert answer.headers["X-Request-ID"] == "request-7"
    first, second = [r for r in caplog.records if r.name == LOGGER]
    assert getattr(first, "request_id", None) == "request-7"
    # An id unfit for logs and metadata is not kept: the answer names the trace instead.
    assert getattr(second, "request_id", "") is None
    assert re.fullmatch("[0-9a-f]{32}", unnamed.headers["X-Request-ID"])
    assert unnamed.headers["X-Request-ID"] == getattr(second, "traceparent", "")[3:35]


def test_a_clients_traceparent_is_continued_and_its_trace_id_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with client(False) as http:
        http.get("/products", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
        http.get("/products")
    continued, fresh = [r for r in caplog.records if r.name == LOGGER]
    assert getattr(continued, "traceparent", "")[3:35] == trace_id
    assert getattr(fresh, "traceparent", "")[3:35] not in ("", trace_id)  # a new trace


def test_a_path_full_of_terminal_escapes_is_logged_as_escapes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with client(False) as http:
        http.get("/%1b%5d0;x%07%0aFAKE")
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert "/\\x1b]0;x\\x07\\nFAKE" in record.getMessage()
    assert not any(ord(c) < 0x20 for c in record.getMessage())
