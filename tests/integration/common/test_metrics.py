"""/metrics: request counters and duration histograms by route template, consumer counts."""

from __future__ import annotations

import httpx

from merchstore.common.messages import DomainEvent
from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.kafka import produce_all
from tests.support.metrics import samples, value
from tests.support.processes import wait_until


def test_storage_counts_what_it_stored_and_set_aside(
    services: ServiceLauncher, settings: Settings
) -> None:
    storage = services.start("storage")
    good = [DomainEvent.new("join_guild", "7").to_json() for _ in range(3)]
    poison = DomainEvent.new("join_guild", "\u0000").to_json()
    produce_all(settings.bootstrap_servers, settings.topics.events, [*good, poison], key=b"7")

    def metrics() -> str:
        return httpx.get(f"{storage.url}/metrics", timeout=5).text

    group = settings.storage.group_id  # the consumer label

    wait_until(
        lambda: value(metrics(), "consumer_messages_set_aside_total", consumer=group) == 1,
        30,
        "the poison message counted as set aside",
    )
    assert value(metrics(), "consumer_messages_processed_total", consumer=group) == 3
    assert value(metrics(), "consumer_stalled", consumer=group) == 0
    lag = [
        v
        for (name, labels), v in samples(metrics()).items()
        if name == "consumer_lag_messages" and ("topic", settings.topics.events) in labels
    ]
    assert lag and all(v == 0 for v in lag), "caught up: no lag on the partition it read"


def test_grpc_services_serve_metrics_on_their_port_plus_100(services: ServiceLauncher) -> None:
    db_service = services.start("db-service")
    store = services.start("store-api")
    httpx.get(f"{store.url}/products/1")
    text = httpx.get(f"http://127.0.0.1:{db_service.port + 100}/metrics", timeout=5).text
    assert (
        value(
            text,
            "grpc_server_handled_total",
            method="/merchstore.store.v1.StoreData/GetProduct",
            code="OK",
        )
        >= 1
    )
    assert value(text, "grpc_server_handling_seconds_count") >= 1
    # The relay publishes the outbox's size once it has looked (at most a second).
    wait_until(
        lambda: (
            "outbox_pending_rows "
            in httpx.get(f"http://127.0.0.1:{db_service.port + 100}/metrics").text
        ),
        10,
        "the outbox gauge",
    )
