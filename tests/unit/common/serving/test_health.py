"""Health helpers: HTTP /health from real readiness, gRPC health and reflection."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from merchstore.common.health_probe import HealthAnswer, read_http_health
from merchstore.common.serving.health import health_router


def test_http_health_follows_readiness() -> None:
    ready: list[str | None] = ["still starting"]
    app = FastAPI()
    app.state.is_ready = lambda: ready[0]
    app.include_router(health_router)
    client = TestClient(app)
    answer = client.get("/health")
    assert answer.status_code == 503
    assert answer.json()["detail"] == "still starting"
    ready[0] = None
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_a_not_ready_answer_carries_the_service_s_own_reason() -> None:
    stalled = httpx.Response(503, json={"status": "unavailable", "detail": "no progress for 31 s"})
    assert read_http_health(stalled) == HealthAnswer(False, "503: no progress for 31 s")
    assert read_http_health(httpx.Response(502, text="bad gateway")) == HealthAnswer(
        False, "health answered 502"
    )
    assert read_http_health(httpx.Response(200, json={"status": "ok"})) == HealthAnswer(True)
