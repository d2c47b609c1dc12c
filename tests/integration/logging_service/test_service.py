"""logging-service as a real process: big streams, invalid lines, a broker outage, traces."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx

from merchstore.common.logs.shipping import LogShippingHandler
from merchstore.logging_service.adapters import SpillBuffer
from merchstore.protos import logging_pb2, logging_pb2_grpc
from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.broker import PrivateBroker
from tests.support.kafka import read_topic
from tests.support.load import SteadyLoad
from tests.support.processes import wait_until

CONTRACT_FIELDS = {"level", "service_name", "message", "timestamp", "trace_id"}


def lines(count: int, start: int = 0) -> Iterator[logging_pb2.LogMessage]:
    for index in range(start, start + count):
        yield logging_pb2.LogMessage(
            level=logging_pb2.INFO,
            service_name="test",
            message=f"line {index}",
            trace_id=f"t{index}",
        )


def stream(port: int, messages: Iterator[logging_pb2.LogMessage]) -> logging_pb2.StreamSummary:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        summary: logging_pb2.StreamSummary = logging_pb2_grpc.LogCollectorStub(channel).StreamLogs(
            messages, timeout=300
        )
        return summary


def log_channel(settings: Settings, expected: int, timeout_s: float = 60) -> list[dict[str, Any]]:
    messages = read_topic(
        settings.bootstrap_servers, settings.topics.log_channel, expected, timeout_s
    )
    return [json.loads(m.value() or b"") for m in messages]


def test_ten_thousand_lines_arrive_in_order(services: ServiceLauncher, settings: Settings) -> None:
    service = services.start("logging-service")
    summary = stream(service.port, lines(10_000))
    assert (summary.received, summary.accepted, summary.published) == (10_000, 10_000, 10_000)
    assert (summary.rejected, summary.dropped, summary.spilled) == (0, 0, 0)
    bodies = log_channel(settings, 10_000)
    assert [body["message"] for body in bodies] == [f"line {i}" for i in range(10_000)]
    for body in bodies[:100]:
        assert set(body) >= CONTRACT_FIELDS
        assert body["level"] == "INFO" and body["service_name"] == "test"
        assert body["timestamp"].endswith("Z")


def test_invalid_lines_are_rejected_and_the_stream_goes_on(
    services: ServiceLauncher, settings: Settings
) -> None:
    service = services.start("logging-service")
    mixed = [
        *lines(2),
        logging_pb2.LogMessage(level=logging_pb2.INFO, service_name="", message="no service"),
        logging_pb2.LogMessage(level=logging_pb2.LEVEL_UNSPECIFIED, service_name="x", message="?"),
        logging_pb2.LogMessage(level=99, service_name="x", message="unknown level"),  # type: ignore[arg-type]
        *lines(2, start=2),
    ]
    summary = stream(service.port, iter(mixed))
    assert (summary.received, summary.accepted, summary.rejected) == (7, 4, 3)
    assert any("service_name" in reason for reason in summary.rejection_reasons)
    assert [body["message"] for body in log_channel(settings, 4)] == [f"line {i}" for i in range(4)]


def test_a_hostile_clients_terminal_escapes_reach_log_channel_as_escapes(
    services: ServiceLauncher, settings: Settings
) -> None:
    service = services.start("logging-service")
    hostile = logging_pb2.LogMessage(
        level=logging_pb2.INFO, service_name="store-api", message="GET /\x1b]0;x\x07\nFAKE 404"
    )
    assert stream(service.port, iter([hostile])).accepted == 1
    [body] = log_channel(settings, 1)
    assert body["message"] == "GET /\\x1b]0;x\\x07\\nFAKE 404"


def test_announces_0007(services: ServiceLauncher, settings: Settings) -> None:
    services.start("logging-service")
    [message] = read_topic(settings.bootstrap_servers, settings.topics.event_log, 1)
    body = json.loads(message.value() or b"")
    assert body["code"] == "0007" and body["service"] == "logging-service"


def test_a_broker_outage_loses_and_duplicates_nothing(
    tmp_path: Path, private_broker: PrivateBroker
) -> None:
    broker, broker_settings = private_broker, private_broker.settings
    services = ServiceLauncher(
        {
            **broker.service_environment(),
            "MERCHSTORE_DATA_DIR": str(tmp_path),
            "MERCHSTORE_KAFKA__DELIVERY_TIMEOUT_MS": "2000",
        },
        tmp_path / "logs",
    )
    try:
        service = services.start("logging-service")
        # The embedded broker keeps nothing across a restart, so the outage starts before the
        # stream: every one of the 5,000 lines must come through the spill buffer.
        broker.stop()
        summary = stream(service.port, lines(5000))
        assert summary.accepted == 5000 and summary.dropped == 0
        assert summary.spilled + summary.published == 5000 and summary.spilled > 0
        broker.start()
        log_channel(broker_settings, 5000, timeout_s=120)
        # Asking for one more than was sent waits its whole timeout for a duplicate.
        bodies = log_channel(broker_settings, 5001, timeout_s=5)
        assert [body["message"] for body in bodies] == [f"line {i}" for i in range(5000)]
    finally:
        services.stop_all()


def test_a_stop_during_a_broker_outage_ends_before_the_supervisors_sigkill(
    tmp_path: Path, private_broker: PrivateBroker
) -> None:
    """Everything a stop does (streams, the spill's drain, the producers) fits its time."""
    broker = private_broker
    services = ServiceLauncher(
        {**broker.service_environment(), "MERCHSTORE_DATA_DIR": str(tmp_path)}, tmp_path / "logs"
    )
    stop_timeout_s = Settings().supervisor.stop_timeout_s  # Compose's stop grace is the same
    try:
        service = services.start("logging-service")
        broker.stop()  # the drain can never finish: every step of the stop waits its longest
        summary = stream(service.port, lines(500))
        assert summary.spilled > 0
        # The supervisor (and Compose) would SIGKILL it after stop_timeout_s: it must be gone.
        assert service.terminate(timeout_s=stop_timeout_s) == 0
        assert "stay spilled on disk" in service.log_tail(80)
    finally:
        services.stop_all()


def test_one_request_one_trace_across_store_api_and_db_service(
    services: ServiceLauncher, settings: Settings
) -> None:
    services.start("logging-service")
    services.start("db-service")
    store = services.start("store-api")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    answer = httpx.get(
        f"{store.url}/products",
        headers={"X-Request-ID": "request-42", "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] == "request-42"

    def traced() -> list[dict[str, Any]]:
        return [b for b in log_channel(settings, 10_000, timeout_s=2) if b["trace_id"] == trace_id]

    wait_until(lambda: len({b["service_name"] for b in traced()}) == 2, 30, "both services' lines")
    by_service = {b["service_name"]: b["message"] for b in traced()}
    assert {b["request_id"] for b in traced()} == {"request-42"}  # passed on to db-service
    assert by_service["store-api"].startswith("GET /products 200")
    assert "client=127.0.0.1" in by_service["store-api"]
    assert by_service["db-service"].startswith("/merchstore.store.v1.StoreData/ListProducts OK")


def test_the_systems_own_probes_stay_off_log_channel(
    services: ServiceLauncher, settings: Settings
) -> None:
    services.start("logging-service")
    services.start("db-service")
    store = services.start("store-api")
    for _ in range(3):  # as the dashboard's scrape and the healthchecks ask
        assert httpx.get(f"{store.url}/metrics").status_code == 200
        assert httpx.get(f"{store.url}/health").status_code == 200
    httpx.get(f"{store.url}/products", headers={"X-Request-ID": "a-user"})

    def store_api_lines() -> list[str]:
        return [
            b["message"]
            for b in log_channel(settings, 10_000, timeout_s=2)
            if b["service_name"] == "store-api"
        ]

    wait_until(
        lambda: any(m.startswith("GET /products 200") for m in store_api_lines()),
        30,
        "the user's request on log-channel",
    )
    probes = [m for m in store_api_lines() if m.startswith(("GET /metrics", "GET /health"))]
    assert probes == []


def test_store_api_keeps_answering_while_logging_service_is_killed(
    services: ServiceLauncher, settings: Settings
) -> None:
    logging_service = services.start("logging-service")
    services.start("db-service")
    store = services.start("store-api")
    with SteadyLoad(store.url, "/products") as load:
        wait_until(lambda: load.answered >= 20, 30, "store-api answering under load")
        logging_service.kill()
        answered_before_the_kill = load.answered
        wait_until(
            lambda: load.answered >= answered_before_the_kill + 200,
            30,
            "200 more answers with logging-service dead",
        )
    assert set(load.statuses) == {200}, load.outcomes()

    logging_service.start()
    httpx.get(f"{store.url}/products", headers={"X-Request-ID": "after-restart"})

    def arrived() -> bool:
        bodies = log_channel(settings, 100_000, timeout_s=2)
        return any(b["request_id"] == "after-restart" for b in bodies)

    # The shipping client reconnects by itself; a few more requests flush its new stream.
    deadline = time.monotonic() + 60
    while not arrived():
        assert time.monotonic() < deadline, "no log line after logging-service restarted"
        httpx.get(f"{store.url}/products", headers={"X-Request-ID": "after-restart"})


def test_a_line_over_64_kib_is_truncated_and_the_next_arrives(
    services: ServiceLauncher, settings: Settings
) -> None:
    service = services.start("logging-service")
    huge = logging_pb2.LogMessage(
        level=logging_pb2.ERROR, service_name="test", message="y" * (2 * 1024 * 1024)
    )
    summary = stream(service.port, iter([huge, *lines(1)]))
    assert (summary.accepted, summary.published) == (2, 2)
    first, second = log_channel(settings, 2)
    assert "truncated by logging-service" in first["message"]
    assert second["message"] == "line 0"


def test_a_spilled_message_the_broker_refuses_is_set_aside_not_blocking(
    services: ServiceLauncher, settings: Settings
) -> None:
    # A spill left by an earlier version: its head is larger than the broker accepts.
    spill_path = settings.data_path(settings.logging_service.spill_file)
    spill = SpillBuffer(spill_path, max_bytes=64 * 1024 * 1024)
    spill.append([b'{"message": "' + b"z" * (2 * 1024 * 1024) + b'"}', b'{"message": "after"}'])
    spill.close()
    services.start("logging-service")
    assert log_channel(settings, 2, timeout_s=5) == [{"message": "after"}]
    wait_until(lambda: SpillBuffer(spill_path, 1 << 30).set_aside_count() == 1, 30, "set aside")


def test_shipped_lines_survive_a_logging_service_crash(
    services: ServiceLauncher, settings: Settings
) -> None:
    logging_service = services.start("logging-service")
    handler = LogShippingHandler(
        f"127.0.0.1:{logging_service.port}",
        "shipper",
        queue_size=100_000,
        level=logging.INFO,
        lines_per_stream=500,
        stream_max_s=1.0,
    )
    emitter = logging.getLogger("merchstore.test.shipping")
    emitter.propagate = False
    emitter.addHandler(handler)
    emitter.setLevel(logging.INFO)
    try:
        killed_at = None
        for index in range(3000):
            emitter.info("shipped %d", index)
            if index % 20 == 0:
                time.sleep(0.002)  # a busy service's pace: streams stay open with lines on them
            if killed_at is None and handler.accepted >= 500 and handler.pending:
                # A crash with lines in flight: one stream was acknowledged, the next is open.
                logging_service.kill()
                killed_at = index
            if killed_at is not None and index == killed_at + 500:
                logging_service.start()
        assert killed_at is not None and killed_at < 2500, f"killed at line {killed_at}"
    finally:
        emitter.removeHandler(handler)
        handler.close(timeout_s=60)
    assert handler.lost == 0 and handler.dropped == 0
    # Lines of a broken stream are sent again (at least once): read everything there is.
    bodies = log_channel(settings, 1_000_000, timeout_s=15)
    messages = {body["message"] for body in bodies if body["service_name"] == "shipper"}
    missing = {f"shipped {i}" for i in range(3000)} - messages
    assert not missing, f"{len(missing)} line(s) lost, e.g. {sorted(missing)[:3]}"
    assert handler.resent > 0, "the kill hit no line in flight"


def test_every_answered_request_is_on_log_channel_though_store_api_was_killed_after_answering(
    services: ServiceLauncher, settings: Settings
) -> None:
    """An answer is sent only once its request's log line is safe from a crash of the service."""
    services.start("logging-service")
    services.start("db-service")
    store = services.start("store-api")
    answered: list[str] = []
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=store.url, timeout=10) as client:
        for index in range(400):  # warm: GET /products is answered from store-api's cache
            request_id = f"kill-{run}-{index}"
            if client.get("/products", headers={"X-Request-ID": request_id}).status_code == 200:
                answered.append(request_id)
        stop = threading.Event()

        def keep_asking() -> None:
            index = 400
            while not stop.is_set():
                request_id = f"kill-{run}-{index}"
                index += 1
                try:
                    ok = client.get("/products", headers={"X-Request-ID": request_id})
                except httpx.HTTPError:
                    continue
                if ok.status_code == 200:
                    answered.append(request_id)

        asking = threading.Thread(target=keep_asking)
        asking.start()
        try:
            wait_until(lambda: len(answered) >= 600, 60, "answers under load")
            store.kill()  # mid-load: its last answers' lines were in memory or on the wire
        finally:
            stop.set()
            asking.join()
    store.start()
    wanted = set(answered)

    def all_traced() -> bool:
        seen = {b["request_id"] for b in log_channel(settings, 10**9, timeout_s=3)}
        return wanted <= seen

    wait_until(all_traced, 90, "every answered request's line on log-channel", interval_s=1)
