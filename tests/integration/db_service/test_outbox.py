"""Order events reach Kafka through the outbox, even across a broker outage."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import psycopg

from tests.conftest import ServiceLauncher
from tests.support.broker import PrivateBroker
from tests.support.kafka import read_topic
from tests.support.otlp import ReceivedSpan, trace_receiver
from tests.support.processes import holds_for, wait_until
from tests.support.store import Shopper, Store

SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP's span kinds


def _launcher(
    broker: PrivateBroker, database_url: str, tmp_path: Path, **overrides: str
) -> ServiceLauncher:
    """Services on this test's broker and database; overrides name kafka / db_service keys."""
    sections = {"DELIVERY_TIMEOUT_MS": "KAFKA", "OUTBOX_RETENTION_S": "DB_SERVICE"}
    return ServiceLauncher(
        {
            **broker.service_environment(),
            "MERCHSTORE_DATABASE_URL": database_url,
            "MERCHSTORE_DATA_DIR": str(tmp_path),
            **{f"MERCHSTORE_{sections[key]}__{key}": value for key, value in overrides.items()},
        },
        tmp_path / "logs",
    )


def _store_with_a_shopper(services: ServiceLauncher) -> tuple[Store, Shopper]:
    services.start("db-service")
    store = Store(services.start("store-api").url)
    return store, store.register()


def outbox_rows(database_url: str, unsent: bool = False) -> int:
    """Rows in the outbox (only those not sent yet, if ``unsent``)."""
    where = " WHERE sent_at IS NULL" if unsent else ""
    with psycopg.connect(database_url) as connection:
        row = connection.execute(f"SELECT count(*) FROM outbox{where}").fetchone()
    return int(row[0]) if row else -1


def test_orders_placed_while_the_broker_is_down_all_arrive_once(
    tmp_path: Path, database_url: str, private_broker: PrivateBroker
) -> None:
    broker, settings = private_broker, private_broker.settings
    services = _launcher(broker, database_url, tmp_path, DELIVERY_TIMEOUT_MS="2000")
    try:
        store, shopper = _store_with_a_shopper(services)
        broker.stop()
        order_ids = []
        for _ in range(10):
            answer = store.http.post(
                "/orders", headers=shopper.auth, json={"product_id": 3, "quantity": 1}
            )
            assert answer.status_code == 201, "orders do not need Kafka to be placed"
            order_ids.append(answer.json()["id"])
        # The relay fails and backs off meanwhile; every order stays queued.
        holds_for(
            lambda: outbox_rows(database_url, unsent=True) == 10, 3, "the orders wait in the outbox"
        )

        broker.start()
        read_topic(settings.bootstrap_servers, "events", 10, timeout_s=60, partitions=3)
        # Asking for one more than was sent waits its whole timeout for a duplicate.
        messages = read_topic(settings.bootstrap_servers, "events", 11, timeout_s=5, partitions=3)
        events = [json.loads(m.value() or b"") for m in messages]
        assert len(events) == 10
        assert len({e["event_id"] for e in events}) == 10
        assert sorted(int(e["metadata"]["order_id"]) for e in events) == order_ids
        assert {e["event_type"] for e in events} == {"order_placed"}
        assert {e["user_id"] for e in events} == {str(shopper.id)}
        assert httpx.get(f"{store.url}/health").status_code == 200
    finally:
        services.stop_all()


def test_the_relay_holds_no_transaction_while_kafka_is_down_and_prunes_sent_rows(
    tmp_path: Path, database_url: str, private_broker: PrivateBroker
) -> None:
    broker, settings = private_broker, private_broker.settings
    services = _launcher(
        broker, database_url, tmp_path, DELIVERY_TIMEOUT_MS="4000", OUTBOX_RETENTION_S="0"
    )
    try:
        store, shopper = _store_with_a_shopper(services)
        broker.stop()
        answer = store.http.post(
            "/orders", headers=shopper.auth, json={"product_id": 1, "quantity": 1}
        )
        assert answer.status_code == 201

        def open_transactions() -> list[tuple[str, str]]:
            with psycopg.connect(database_url, autocommit=True) as connection:
                return connection.execute(
                    "SELECT state, query FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
                    # A transaction caught between its BEGIN and its next statement is
                    # working, not waiting: only one idle for a second is held open.
                    " AND now() - state_change > interval '1 second'"
                ).fetchall()

        holds_for(
            lambda: open_transactions() == [],
            6,
            "no transaction open while deliveries wait for the missing broker",
        )

        broker.start()
        read_topic(settings.bootstrap_servers, "events", 1, timeout_s=60, partitions=3)
        wait_until(lambda: outbox_rows(database_url) == 0, 30, "the sent row to be pruned")
    finally:
        services.stop_all()


def test_an_order_kept_across_a_relay_restart_still_continues_its_request_trace(
    tmp_path: Path, database_url: str, private_broker: PrivateBroker
) -> None:
    """The outbox keeps the order's trace context: the relay of the next run publishes it."""
    broker = private_broker
    with trace_receiver() as receiver:
        traced = receiver.environment()
        services = _launcher(broker, database_url, tmp_path, DELIVERY_TIMEOUT_MS="2000")
        try:
            services.start("db-service", **traced)
            store = Store(services.start("store-api", **traced).url)
            shopper = store.register()
            broker.stop()
            trace_id, client_span = "6df92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
            answer = store.http.post(
                "/orders",
                headers={**shopper.auth, "traceparent": f"00-{trace_id}-{client_span}-01"},
                json={"product_id": 2, "quantity": 1},
            )
            assert answer.status_code == 201
            wait_until(lambda: outbox_rows(database_url, unsent=True) == 1, 10, "the kept event")
            services.process("db-service").stop()  # the relay ends with its row unsent
            broker.start()
            services.process("db-service").start()
            services.start("storage", **traced)

            def relayed() -> tuple[ReceivedSpan, ReceivedSpan] | None:
                """Storage's span of the event and the write it is a child of, once both came.

                The first run's relay may have tried (and failed) to write it too: the write
                that counts is the one storage read.
                """
                spans = receiver.spans(trace_id)
                writes = {s.span_id: s for s in spans if s.kind == PRODUCER}
                for span in spans:
                    if span.kind == CONSUMER and span.parent_span_id in writes:
                        return span, writes[span.parent_span_id]
                return None

            wait_until(relayed, 60, "storage's span of the order event, in the order's trace")
            found = relayed()
            assert found is not None
            consumed, published = found
            [placed] = [
                s
                for s in receiver.spans(trace_id)
                if s.name.endswith("/PlaceOrder") and s.kind == SERVER
            ]
            assert published.service == "db-service"
            assert published.parent_span_id == placed.span_id  # kept by the run that placed it
            assert consumed.service == "storage"
        finally:
            services.stop_all()
