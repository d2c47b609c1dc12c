"""``merchstore up`` under the standard ``OTEL_*`` variables, checked as a black box would.

An OTLP/HTTP receiver of the test's own stands for any collector. Its address goes in
``OTEL_EXPORTER_OTLP_ENDPOINT`` before ``up`` starts, and nothing else is set: no
``--tracing``, no setting of ours. A client's ``traceparent`` on an order and on a game event
then makes one trace each, with the spans of the services the contract names, and the order's
trace id is on its log lines on ``log-channel``.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx
import pytest

from tests.support.kafka import read_topic
from tests.support.otlp import trace_receiver, traceparent
from tests.support.processes import wait_until
from tests.support.store import Store
from tests.support.up import UpProcess, free_up_ports, stop_up, up_environment

pytestmark = pytest.mark.timeout(600)


def test_up_exports_one_trace_per_request_to_the_otlp_endpoint_it_is_given(
    tmp_path: Path,
) -> None:
    ports = free_up_ports()
    with trace_receiver() as receiver:
        env = {
            **up_environment(ports),
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }
        up = UpProcess(tmp_path / "data", env)
        try:
            up.wait_for("merchstore is up", 400)
            store = f"http://127.0.0.1:{ports['store_api']}"
            shopper = Store(store).register("collected")
            order_trace, game_trace = secrets.token_hex(16), secrets.token_hex(16)

            placed = httpx.post(
                f"{store}/orders",
                json={"product_id": 1, "quantity": 1},
                headers={**shopper.auth, **traceparent(order_trace)},
                timeout=30,
            )
            assert placed.status_code == 201, placed.text
            bought = httpx.post(
                f"http://127.0.0.1:{ports['receiver']}/purchase_a_sword",
                json={"user_id": "7"},
                headers=traceparent(game_trace),
                timeout=30,
            )
            assert bought.status_code == 201, bought.text

            def services(trace_id: str) -> set[str]:
                return {span.service for span in receiver.spans(trace_id)}

            # The SDK's default schedule exports every 5 s; the order's event goes through the
            # outbox first.
            wait_until(
                lambda: {"store-api", "db-service", "storage"} <= services(order_trace),
                120,
                "spans of store-api, db-service and storage in the order's trace",
            )
            wait_until(
                lambda: {"receiver", "storage"} <= services(game_trace),
                120,
                "spans of the receiver and storage in the game event's trace",
            )

            def logged_with_the_trace() -> bool:
                lines = read_topic(f"127.0.0.1:{ports['kafka']}", "log-channel", 10**6, 5)
                return any(
                    json.loads(line.value() or b"{}").get("trace_id") == order_trace
                    for line in lines
                )

            wait_until(logged_with_the_trace, 60, "the order's trace id on log-channel")
        finally:
            stop_up(up.process, tmp_path / "data")
