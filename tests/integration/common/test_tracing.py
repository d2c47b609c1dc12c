"""One request, one trace: real services export their spans to an OTLP receiver of the test's."""

from __future__ import annotations

import httpx
import psycopg

from merchstore.common.messages import DomainEvent
from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.kafka import produce_all
from tests.support.otlp import (
    CLIENT_SPAN,
    ReceivedSpan,
    TraceReceiver,
    trace_receiver,
    traceparent,
)
from tests.support.processes import wait_until
from tests.support.store import Store

SERVER, CLIENT = 2, 3  # OTLP's span kinds


def traced_store(services: ServiceLauncher, receiver: TraceReceiver) -> str:
    """logging-service, db-service and store-api exporting to ``receiver``: store-api's URL."""
    services.start("logging-service", **receiver.environment())
    services.start("db-service", **receiver.environment())
    return services.start("store-api", **receiver.environment()).url


def queries(spans: list[ReceivedSpan], service: str) -> list[ReceivedSpan]:
    """The PostgreSQL statements ``service`` ran among ``spans``."""
    return [
        s
        for s in spans
        if s.service == service
        and s.kind == CLIENT
        and "postgresql" in (s.attributes.get("db.system"), s.attributes.get("db.system.name"))
    ]


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
        # Its query is a span of the call, by OpenTelemetry's psycopg instrumentation.
        wait_until(lambda: queries(receiver.spans(trace_id), "db-service"), 30, "the query's span")
        [query] = queries(receiver.spans(trace_id), "db-service")
        assert query.parent_span_id == rpc.span_id and "SELECT" in str(query.name).upper()
        assert not [s for s in receiver.spans() if s.name.endswith(("/health", "Check"))]


def test_a_failed_calls_grpc_status_is_on_the_spans_of_both_sides(
    services: ServiceLauncher,
) -> None:
    with trace_receiver() as receiver:
        store_url = traced_store(services, receiver)
        shopper = Store(store_url).register("status")
        trace_id = "5cf92f3577b34da6a3ce929d0e0e4736"
        answer = httpx.get(
            f"{store_url}/orders/999999",
            headers={**shopper.auth, **traceparent(trace_id)},
            timeout=10,
        )
        assert answer.status_code == 404

        get_order = "/merchstore.store.v1.StoreData/GetOrder"

        def the_call(kind: int) -> list[ReceivedSpan]:
            # The caller's own lookup (its token's user) comes before it, with status OK.
            return [
                s
                for s in receiver.spans(trace_id)
                if s.kind == kind and s.name.lower() == get_order.lower()
            ]

        wait_until(lambda: the_call(CLIENT) and the_call(SERVER), 30, "GetOrder's spans")
        [rpc], [call] = the_call(SERVER), the_call(CLIENT)
        assert (rpc.service, call.service) == ("db-service", "store-api")
        assert rpc.parent_span_id == call.span_id
        assert rpc.attributes.get("rpc.grpc.status_code") == 5  # NOT_FOUND
        assert call.attributes.get("rpc.grpc.status_code") == 5
        spans = receiver.spans(trace_id)
        assert one(spans, "store-api", SERVER).attributes.get("http.response.status_code") == 404


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


INTERNAL, PRODUCER, CONSUMER = 1, 4, 5
PLACE_ORDER = "/merchstore.store.v1.StoreData/PlaceOrder"


def test_an_order_and_a_game_event_are_each_one_trace_to_the_stored_row(
    services: ServiceLauncher,
) -> None:
    """Through the outbox (published later, by the relay) and through the receiver."""
    with trace_receiver() as receiver:
        store_url = traced_store(services, receiver)
        game = services.start("receiver", **receiver.environment())
        services.start("storage", **receiver.environment())
        shopper = Store(store_url).register("traced")
        order_trace, game_trace = (
            "11f92f3577b34da6a3ce929d0e0e4736",
            "22f92f3577b34da6a3ce929d0e0e4736",
        )
        placed = httpx.post(
            f"{store_url}/orders",
            json={"product_id": 1, "quantity": 1},
            headers={**shopper.auth, **traceparent(order_trace)},
            timeout=10,
        )
        assert placed.status_code == 201
        bought = httpx.post(
            f"{game.url}/purchase_a_sword", json={"user_id": "7"}, headers=traceparent(game_trace)
        )
        assert bought.status_code == 201

        def stored(trace_id: str) -> bool:
            # Every service's spans are in: they export on their own schedules.
            spans = receiver.spans(trace_id)
            seen = {(s.service, s.kind) for s in spans} | {(s.name, SERVER) for s in spans}
            wanted = {("storage", CONSUMER)}
            if trace_id == order_trace:
                wanted |= {("db-service", PRODUCER), (PLACE_ORDER, SERVER)}
            else:
                wanted |= {("receiver", PRODUCER)}
            return wanted <= seen

        wait_until(lambda: stored(order_trace), 60, "the order event's CONSUMER span in storage")
        order = receiver.spans(order_trace)
        [rpc] = [s for s in order if s.service == "db-service" and s.name == PLACE_ORDER]
        relayed = one(order, "db-service", PRODUCER)
        assert relayed.parent_span_id == rpc.span_id  # kept in the outbox, published later
        assert str(relayed.attributes["messaging.destination.name"]).startswith("events")
        consumed = one(order, "storage", CONSUMER)
        assert consumed.parent_span_id == relayed.span_id
        assert consumed.attributes["messaging.system"] == "kafka"
        assert {"messaging.kafka.offset", "messaging.consumer.group.name"} <= set(
            consumed.attributes
        )

        wait_until(lambda: stored(game_trace), 60, "the game event's CONSUMER span in storage")
        game_spans = receiver.spans(game_trace)
        published = one(game_spans, "receiver", PRODUCER)
        assert published.parent_span_id == one(game_spans, "receiver", SERVER).span_id
        assert one(game_spans, "storage", CONSUMER).parent_span_id == published.span_id

        # On past the row: the processor's run that counted the order is in its trace too,
        # and so is logging-service's writing of store-api's line about the request.
        processor = services.start("processor", **receiver.environment())
        ran = httpx.post(f"{processor.url}/runs", timeout=30)
        assert ran.status_code == 200, ran.text
        wait_until(
            lambda: any(s.service == "processor" for s in receiver.spans(order_trace)),
            30,
            "the processor's span in the order's trace",
        )
        counted = one(receiver.spans(order_trace), "processor", INTERNAL)
        assert counted.name == "count event" and counted.parent_span_id == relayed.span_id

        def runs() -> list[ReceivedSpan]:
            return [s for s in receiver.spans() if s.name == "processor run"]

        # The run's span ends after its events' spans: it may come in the exporter's next batch.
        wait_until(lambda: bool(runs()), 30, "the processor run's span")
        [run] = runs()
        assert run.trace_id != order_trace  # a trace of its own, linked from each event's span

        def feed_read() -> bool:
            # The run's read of storage's feed: the processor's call, storage's span of it, and
            # storage's query, each the child of the one before.
            spans = receiver.spans(run.trace_id)
            calls = {s.span_id for s in spans if s.service == "processor" and s.kind == CLIENT}
            served = {
                s.span_id
                for s in spans
                if s.service == "storage" and s.kind == SERVER and s.parent_span_id in calls
            }
            return any(q.parent_span_id in served for q in queries(spans, "storage"))

        wait_until(feed_read, 30, "the run's feed call, storage's span of it, and its query")
        recent = httpx.get(f"{processor.url}/stats").json()["recent_orders"]
        assert [o["trace_id"] for o in recent] == [order_trace]
        store_api = {s.span_id for s in receiver.spans(order_trace) if s.service == "store-api"}

        def written_lines() -> list[ReceivedSpan]:
            # store-api's line about the request (db-service's about its call may come too).
            return [
                s
                for s in receiver.spans(order_trace)
                if s.service == "logging-service" and s.parent_span_id in store_api
            ]

        wait_until(written_lines, 30, "logging-service's span of store-api's line")
        line = written_lines()[0]
        assert line.kind == PRODUCER
        assert str(line.attributes["messaging.destination.name"]).startswith("log-channel")


def dead_letter_reason(database_url: str) -> str:
    """The reason storage kept with its only dead letter."""
    with psycopg.connect(database_url) as connection:
        [(reason,)] = connection.execute("SELECT error FROM dead_letters").fetchall()
    return str(reason)


def test_a_message_set_aside_is_a_consumer_span_marked_as_an_error_with_its_reason(
    services: ServiceLauncher, settings: Settings, database_url: str
) -> None:
    with trace_receiver() as receiver:
        storage = services.start("storage", **receiver.environment())
        trace_id = "33f92f3577b34da6a3ce929d0e0e4736"
        poison = DomainEvent.new("join_guild", "\u0000")  # PostgreSQL refuses a NUL for good
        produce_all(
            settings.bootstrap_servers,
            settings.topics.events,
            [poison.to_json()],
            headers=[("traceparent", f"00-{trace_id}-{CLIENT_SPAN}-01")],
        )
        wait_until(
            lambda: httpx.get(f"{storage.url}/events/count").json()["dead_letters"] == 1,
            30,
            "the poison message set aside",
        )
        wait_until(lambda: receiver.spans(trace_id), 30, "its CONSUMER span")
        [span] = receiver.spans(trace_id)
        assert span.kind == CONSUMER and span.parent_span_id == CLIENT_SPAN
        assert span.status_code == 2  # ERROR, with the reason PostgreSQL gave
        assert span.status_message == dead_letter_reason(database_url)
        assert span.attributes.get("error.type") == "set_aside"
