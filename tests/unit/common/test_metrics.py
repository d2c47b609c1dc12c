"""/metrics: request counters and duration histograms by route template, consumer counts."""

from __future__ import annotations

import importlib

import pytest
from fastapi.testclient import TestClient

from merchstore.services import SERVICES
from tests.support.metrics import value


@pytest.mark.parametrize(
    "spec", [s for s in SERVICES if s.protocol == "http"], ids=lambda s: s.name
)
def test_every_http_service_counts_requests_by_route_template(spec: object) -> None:
    module = importlib.import_module(spec.api_module)  # type: ignore[attr-defined]
    client = TestClient(module.create_app(lambda: None), raise_server_exceptions=False)
    before = client.get("/metrics").text
    client.get("/health")
    client.get("/no/such/path/42")
    text = client.get("/metrics").text
    assert (
        value(text, "http_requests_total", route="/health", status="200")
        - value(before, "http_requests_total", route="/health", status="200")
        == 1
    )
    assert value(text, "http_request_duration_seconds_count", route="/health") >= 1
    assert value(text, "http_requests_total", route="<unmatched>", status="404") >= 1
    assert "/no/such/path/42" not in text, "never a raw path as a label"


def test_store_api_labels_paths_with_their_template() -> None:
    module = importlib.import_module("merchstore.store_api.api")
    client = TestClient(module.create_app(), raise_server_exceptions=False)
    client.get("/orders/12345")
    text = client.get("/metrics").text
    assert value(text, "http_requests_total", route="/orders/{id}") >= 1
    assert "12345" not in text
