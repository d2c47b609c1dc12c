"""`SampledRequests`: FastAPI's span for sampled requests, the trace context for others."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased

from merchstore.common.http.tracing import native_telemetry, traced
from merchstore.common.tracing import PresetTraceIds, is_sampled

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def client(
    sampler: Sampler, exported: InMemorySpanExporter | None = None, *, wrapped: bool = True
) -> TestClient:
    """An app whose route answers the trace context current while it runs."""
    provider = TracerProvider(sampler=sampler, id_generator=PresetTraceIds())
    app = FastAPI(telemetry=native_telemetry(provider))

    @app.get("/{path:path}")
    def context_of_the_request(path: str) -> dict[str, str]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return {**carrier, "recording": str(trace.get_current_span().is_recording())}

    if exported is not None:
        provider.add_span_processor(SimpleSpanProcessor(exported))
    return TestClient(traced(app, provider) if wrapped else app)


def test_a_clients_trace_is_continued_by_a_span_of_the_request_that_is_not_recorded() -> None:
    with client(ALWAYS_OFF) as http:
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
    with client(ALWAYS_OFF) as http:
        first = http.get("/products").json()["traceparent"]
        second = http.get("/products").json()["traceparent"]
    assert first[3:35] != second[3:35]
    assert all(int(value[3:35], 16) != 0 for value in (first, second))


def test_the_probes_get_no_context() -> None:
    with client(ALWAYS_OFF) as http:
        for path in ("/health", "/metrics"):
            assert "traceparent" not in http.get(path).json(), path


def test_a_sampled_request_is_one_server_span_of_fastapi_as_the_client_asked() -> None:
    exported = InMemorySpanExporter()
    with client(ParentBased(ALWAYS_OFF), exported) as http:
        answer = http.get("/products", headers={"traceparent": f"00-{TRACE}-{SPAN}-01"}).json()
        http.get("/products", headers={"traceparent": f"00-{'1' * 32}-{SPAN}-00"})
        http.get("/health", headers={"traceparent": f"00-{'2' * 32}-{SPAN}-01"})
    [span] = exported.get_finished_spans()  # the unsampled one and the probe made none
    assert format(span.context.trace_id, "032x") == TRACE and answer["recording"] == "True"
    assert span.parent is not None and format(span.parent.span_id, "016x") == SPAN
    assert span.kind == trace.SpanKind.SERVER and span.attributes is not None
    # Named after the route template, never the raw path; the stable HTTP conventions.
    assert span.name == "GET /{path}"
    assert span.attributes.get("http.request.method") == "GET"
    assert span.attributes.get("http.route") == "/{path}"
    assert span.attributes.get("http.response.status_code") == 200
    assert span.attributes.get("url.path") == "/products"


def test_an_app_served_without_the_wrapper_records_no_span() -> None:
    """FastAPI's instrumentation traces only what `SampledRequests` marked sampled."""
    exported = InMemorySpanExporter()
    with client(ParentBased(ALWAYS_OFF), exported, wrapped=False) as http:
        http.get("/products", headers={"traceparent": f"00-{TRACE}-{SPAN}-01"})
    assert exported.get_finished_spans() == ()


def test_a_ratio_sampler_decides_once_for_each_new_trace() -> None:
    """The trace id the sampler was asked about is the span's: no request is decided twice."""
    exported = InMemorySpanExporter()
    with client(TraceIdRatioBased(0.5), exported) as http:
        answers = [http.get("/products").json() for _ in range(60)]
    recorded = {format(span.context.trace_id, "032x") for span in exported.get_finished_spans()}
    sampled = {a["traceparent"][3:35] for a in answers if is_sampled(a["traceparent"])}
    assert recorded == sampled and 0 < len(sampled) < 60
    assert all(a["recording"] == str(is_sampled(a["traceparent"])) for a in answers)
