"""One request, one trace: real services export their spans to an OTLP receiver of the test's."""

from __future__ import annotations

import httpx

from tests.conftest import ServiceLauncher
from tests.support.otlp import ReceivedSpan, TraceReceiver, trace_receiver
from tests.support.processes import wait_until

SERVER, CLIENT = 2, 3  # OTLP's span kinds
CLIENT_SPAN = "00f067aa0ba902b7"
"""The span id of the client's own span, as its traceparent names it."""


def traceparent(trace_id: str, sampled: bool = True) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{CLIENT_SPAN}-{'01' if sampled else '00'}"}


def traced_store(services: ServiceLauncher, receiver: TraceReceiver) -> str:
    """logging-service, and db-service and store-api exporting to ``receiver``: store-api's URL."""
    services.start("logging-service")
    services.start("db-service", **receiver.environment())
    return services.start("store-api", **receiver.environment()).url


def one(spans: list[ReceivedSpan], service: str, kind: int) -> ReceivedSpan:
    [found] = [s for s in spans if s.service == service and s.kind == kind]
    return found


def test_a_clients_trace_goes_on_through_store_api_and_db_service(
    services: ServiceLauncher,
) -> None:
    with trace_receiver() as receiver:
        store_url = traced_store(services, receiver)
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        answer = httpx.get(f"{store_url}/products/2", headers=traceparent(trace_id), timeout=10)
        assert answer.status_code == 200

        def both_services() -> bool:
            return {"store-api", "db-service"} <= {s.service for s in receiver.spans(trace_id)}

        wait_until(both_services, 30, "spans of store-api and db-service in the client's trace")
        spans = receiver.spans(trace_id)
        server = one(spans, "store-api", SERVER)
        assert server.parent_span_id == CLIENT_SPAN  # the client's span is its parent
        assert server.name == "GET /products/{id}"
        call = one(spans, "store-api", CLIENT)
        assert call.parent_span_id == server.span_id
        rpc = one(spans, "db-service", SERVER)
        assert rpc.parent_span_id == call.span_id
        assert rpc.name == "/merchstore.store.v1.StoreData/GetProduct"
        assert rpc.attributes.get("rpc.grpc.status_code") == 0  # OK
        assert not [s for s in receiver.spans() if s.name.endswith(("/health", "Check"))]


def test_a_clients_not_sampled_is_respected_and_a_request_without_one_starts_a_trace(
    services: ServiceLauncher,
) -> None:
    with trace_receiver() as receiver:
        store_url = traced_store(services, receiver)
        unsampled = "0af7651916cd43dd8448eb211c80319c"
        httpx.get(f"{store_url}/products/1", headers=traceparent(unsampled, sampled=False))
        httpx.get(f"{store_url}/products/3")  # no traceparent: a trace of its own

        def new_trace() -> list[ReceivedSpan]:
            return [
                s
                for s in receiver.spans()
                if s.service == "store-api" and s.kind == SERVER and s.parent_span_id == ""
            ]

        wait_until(new_trace, 30, "the span of the request that started a trace")
        [root] = new_trace()
        assert root.trace_id != unsampled and root.name == "GET /products/{id}"
        wait_until(
            lambda: any(s.service == "db-service" for s in receiver.spans(root.trace_id)),
            30,
            "db-service's span in that trace",
        )
        # Exported after the unsampled request's would have been: it made none.
        assert receiver.spans(unsampled) == []
