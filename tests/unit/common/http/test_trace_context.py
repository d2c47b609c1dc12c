"""`TraceContext`: a request's W3C trace context where no span is ever exported."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import propagate, trace

from merchstore.common.http.tracing import TraceContext, add_tracing

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def client() -> TestClient:
    """An app whose route answers the trace context current while it runs."""
    app = FastAPI()

    @app.get("/{path:path}")
    def context_of_the_request(path: str) -> dict[str, str]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        span = trace.get_current_span()
        return {**carrier, "recording": str(span.is_recording())}

    add_tracing(app)  # nothing exported in a unit test: the context-only middleware
    assert [getattr(m, "cls", None) for m in app.user_middleware] == [TraceContext]
    return TestClient(app)


def test_a_clients_trace_is_continued_by_a_span_of_the_request_that_is_not_recorded() -> None:
    with client() as http:
        answer = http.get(
            "/products",
            headers={"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": "vendor=value"},
        ).json()
    version, trace_id, span_id, flags = answer["traceparent"].split("-")
    assert (version, trace_id) == ("00", TRACE)
    assert span_id != SPAN and int(span_id, 16) != 0  # the request's own span
    assert flags == "00" and answer["recording"] == "False"  # nothing recorded here
    assert answer["tracestate"] == "vendor=value"


def test_a_request_without_a_context_starts_a_trace_of_its_own() -> None:
    with client() as http:
        first = http.get("/products").json()["traceparent"]
        second = http.get("/products").json()["traceparent"]
    assert first[3:35] != second[3:35]
    assert all(int(value[3:35], 16) != 0 for value in (first, second))


def test_the_probes_get_no_context() -> None:
    with client() as http:
        for path in ("/health", "/metrics"):
            assert "traceparent" not in http.get(path).json(), path
