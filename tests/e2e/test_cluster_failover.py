"""The whole system on a three-broker Apache Kafka cluster that loses a broker under load.

Every topic has three copies and ``min.insync.replicas`` 2, every send is ``acks=all``. While
players, shoppers and a log stream keep the receiver, store-api and logging-service busy, the
leader of an ``events`` partition is killed (SIGKILL) and restarted, then the leader of
``event_log``. Afterwards nothing acknowledged is missing and nothing is there twice.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from merchstore.common.kafka.topics import ensure_topics
from merchstore.protos import logging_pb2, logging_pb2_grpc
from merchstore.runtime.apache_kafka import KafkaCluster
from merchstore.settings import Settings, load_settings
from tests.conftest import ServiceLauncher
from tests.support.broker import broker_settings, kafka_environment
from tests.support.kafka import raw_config, read_topic
from tests.support.metrics import samples
from tests.support.processes import holds_for, wait_until
from tests.support.store import Store

ACTIONS = ("/purchase_a_sword", "/purchase_a_knife", "/join_guild")
STOCK_PER_PRODUCT = 500
OUTAGE_S = 12.0
"""How long a killed broker stays down: longer than KRaft takes to fence it (about 9 s)."""


@dataclass
class Refusals:
    """The 503s (and unanswered requests) one kind of client met, and when."""

    times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self) -> None:
        with self.lock:
            self.times.append(time.monotonic())

    def longest_gap_free_run_s(self) -> float:
        """The longest stretch of refusals, each within 2 s of the one before: an outage."""
        longest, start, last = 0.0, None, None
        for moment in sorted(self.times):
            if last is None or moment - last > 2.0:
                start = moment
            last = moment
            assert start is not None
            longest = max(longest, last - start)
        return longest


def retried(
    client: httpx.Client,
    path: str,
    body: dict[str, object],
    headers: dict[str, str],
    refusals: Refusals,
    deadline_s: float = 180.0,
) -> httpx.Response:
    """POST until answered with something other than 503, as the contract tells a client."""
    give_up = time.monotonic() + deadline_s
    while True:
        try:
            answer = client.post(path, json=body, headers=headers)
            if answer.status_code != 503:
                return answer
        except httpx.TransportError:
            pass
        refusals.note()
        if time.monotonic() > give_up:
            raise AssertionError("a request was refused for three minutes")
        time.sleep(0.2)


class Load:
    """Players, shoppers and a log stream, each keeping what was acknowledged."""

    def __init__(self, receiver_url: str, store: Store, logging_port: int) -> None:
        self.stop = threading.Event()
        self.events: list[str] = []
        self.orders: list[int] = []
        self.out_of_stock = 0
        self.lines: list[str] = []
        self.player_refusals = Refusals()
        self.shopper_refusals = Refusals()
        self.errors: list[str] = []
        self._receiver_url = receiver_url
        self._store = store
        self._logging_port = logging_port
        self._numbers = itertools.count()
        self._threads = [
            *(threading.Thread(target=self._guarded(self._player)) for _ in range(3)),
            *(threading.Thread(target=self._guarded(self._shopper)) for _ in range(2)),
            threading.Thread(target=self._guarded(self._log_stream)),
        ]

    def _guarded(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except Exception as error:  # reported by the test, not lost in a thread
                self.errors.append(repr(error))

        return run

    def _player(self) -> None:
        with httpx.Client(base_url=self._receiver_url, timeout=30) as client:
            while not self.stop.is_set():
                number = next(self._numbers)
                path, key = ACTIONS[number % 3], str(uuid.uuid4())
                body: dict[str, object] = {"user_id": str(number % 40)}
                answer = retried(client, path, body, {"Idempotency-Key": key}, self.player_refusals)
                assert answer.status_code == 201, answer.text
                self.events.append(answer.json()["event_id"])

    def _shopper(self) -> None:
        shopper = self._store.register("chaos")
        with httpx.Client(base_url=self._store.url, timeout=30) as client:
            while not self.stop.is_set():
                number = next(self._numbers)
                key = str(uuid.uuid4())
                order: dict[str, object] = {"product_id": 1 + number % 3, "quantity": 1}
                headers = {**shopper.auth, "Idempotency-Key": key}
                answer = retried(client, "/orders", order, headers, self.shopper_refusals)
                if answer.status_code == 409:
                    self.out_of_stock += 1
                    continue
                assert answer.status_code == 201, answer.text
                self.orders.append(int(answer.json()["id"]))

    def _log_stream(self) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{self._logging_port}") as channel:
            stub = logging_pb2_grpc.LogCollectorStub(channel)
            while not self.stop.is_set():
                batch = [f"chaos line {next(self._numbers)}" for _ in range(100)]
                summary = stub.StreamLogs(
                    (
                        logging_pb2.LogMessage(
                            level=logging_pb2.INFO,
                            service_name="chaos",
                            message=text,
                            trace_id=text,
                        )
                        for text in batch
                    ),
                    timeout=120,
                )
                assert summary.accepted == len(batch) and summary.dropped == 0
                self.lines.extend(batch)
                time.sleep(0.05)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=240)


def leader_of(admin: AdminClient, topic: str, partition: int = 0) -> int:
    return int(admin.list_topics(topic, timeout=10).topics[topic].partitions[partition].leader)


def fully_replicated(admin: AdminClient, topics: list[str]) -> bool:
    metadata = admin.list_topics(timeout=10)
    return all(
        len(partition.isrs) == 3
        for name in topics
        for partition in metadata.topics[name].partitions.values()
    )


def kill_and_restart(
    cluster: KafkaCluster, node_id: int, admin: AdminClient, topics: list[str]
) -> None:
    cluster.node(node_id).kill()
    time.sleep(OUTAGE_S)
    cluster.node(node_id).start(cluster.cluster_id)
    wait_until(lambda: fully_replicated(admin, topics), 120, "every partition back in sync")


def committed_lag(settings: Settings, group_id: str, topic: str, partitions: int) -> int:
    consumer = Consumer(raw_config(settings.bootstrap_servers, **{"group.id": group_id}))
    try:
        lag = 0
        wanted = [TopicPartition(topic, p) for p in range(partitions)]
        for committed in consumer.committed(wanted, timeout=10):
            _, high = consumer.get_watermark_offsets(committed, timeout=10)
            lag += high - max(committed.offset, 0)
        return lag
    finally:
        consumer.close()


def metric_sum(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(value for (sample, _), value in samples(text).items() if sample == name)


# Two failovers under load, then three brokers stopped one by one: minutes on a loaded machine.
@pytest.mark.timeout(1200)
def test_losing_a_broker_under_load_loses_and_doubles_nothing(
    three_brokers: KafkaCluster, tmp_path: Path, database_url: str
) -> None:
    settings = load_settings(
        **broker_settings(
            "kafka",
            data_dir=tmp_path / "data",
            kafka_bootstrap_servers=three_brokers.bootstrap_servers,
            kafka={"replication_factor": 3},
        )
    )
    ensure_topics(settings)
    topics = [settings.topics.events, settings.topics.event_log, settings.topics.log_channel]
    services = ServiceLauncher(
        {
            "MERCHSTORE_DATA_DIR": str(settings.data_dir),
            **kafka_environment(settings),
            "MERCHSTORE_KAFKA__REPLICATION_FACTOR": "3",
            "MERCHSTORE_DATABASE_URL": database_url,
        },
        tmp_path / "logs",
    )
    admin = AdminClient(raw_config(three_brokers.bootstrap_servers))
    try:
        logging_service = services.start("logging-service")
        services.start("db-service")
        store_api = services.start("store-api")
        receiver = services.start("receiver")
        storage = services.start("storage")
        event_logger = services.start("event-logger")
        # Its periodic 0004 announcements keep event_log busy while its leader is killed.
        processor = services.start("processor", MERCHSTORE_PROCESSOR__PERIOD_SECONDS="1")

        with Load(receiver.url, Store(store_api.url), logging_service.port) as load:
            wait_until(lambda: len(load.events) > 50 and len(load.orders) > 10, 60, "load")
            events_leader = leader_of(admin, settings.topics.events, partition=0)
            kill_and_restart(three_brokers, events_leader, admin, topics)
            log_leader = leader_of(admin, settings.topics.event_log)
            kill_and_restart(three_brokers, log_leader, admin, topics)
            sent_before = len(load.events)
            wait_until(lambda: len(load.events) > sent_before + 50, 60, "load after the kills")
        assert load.errors == []

        # Every acknowledged event is stored exactly once, and nothing is stored that the
        # topic does not hold (orders' events included).
        on_topic = read_topic(
            three_brokers.bootstrap_servers,
            settings.topics.events,
            10**9,
            timeout_s=20,
            partitions=3,
        )
        topic_ids = {json.loads(m.value() or b"")["event_id"] for m in on_topic}
        assert set(load.events) <= topic_ids

        def stored() -> Counter[str]:
            with psycopg.connect(database_url) as connection:
                rows = connection.execute("SELECT event_id::text FROM events").fetchall()
            return Counter(row[0] for row in rows)

        try:
            wait_until(lambda: set(stored()) == topic_ids, 120, "every event on the topic stored")
        except AssertionError:
            in_table = set(stored())
            raise AssertionError(
                f"{len(topic_ids)} event ids on the topic, {len(in_table)} stored; "
                f"{len(topic_ids - in_table)} not stored, {len(in_table - topic_ids)} stored but "
                f"not read from the topic; acknowledged and not stored: "
                f"{len(set(load.events) - in_table)}\nstorage:\n{storage.log_tail(80)}"
            ) from None
        assert max(stored().values()) == 1
        assert len(set(load.events)) == len(load.events)

        # Every acknowledged order is there once, and stock plus what was sold is 500.
        with psycopg.connect(database_url) as connection:
            orders: dict[int, str] = dict(
                connection.execute("SELECT id, status FROM orders").fetchall()
            )
            stock: dict[int, int] = dict(
                connection.execute("SELECT id, stock FROM products").fetchall()
            )
            sold: dict[int, int] = dict(
                connection.execute(
                    "SELECT product_id, sum(quantity) FROM orders WHERE status = 'placed'"
                    " GROUP BY product_id"
                ).fetchall()
            )
        assert set(load.orders) == set(orders) and len(orders) == len(load.orders)
        assert all(status == "placed" for status in orders.values())
        assert all(stock[p] + int(sold.get(p, 0)) == STOCK_PER_PRODUCT for p in stock)

        # Every acknowledged log line is on log-channel, once.
        lines = [
            json.loads(m.value() or b"")
            for m in read_topic(
                three_brokers.bootstrap_servers, settings.topics.log_channel, 10**9, timeout_s=20
            )
        ]
        chaos_lines = Counter(line["message"] for line in lines if line["service_name"] == "chaos")
        assert set(chaos_lines) == set(load.lines) and max(chaos_lines.values()) == 1

        # The event-logger counted every announcement on event_log, once.
        announcements = Counter(
            json.loads(m.value() or b"")["code"]
            for m in read_topic(
                three_brokers.bootstrap_servers, settings.topics.event_log, 10**9, timeout_s=20
            )
        )

        def counted() -> dict[str, int]:
            answer = httpx.get(f"{event_logger.url}/events_stats", timeout=10).json()
            return {code: count for code, count in answer.items() if count}

        wait_until(lambda: counted() == dict(announcements), 60, "every announcement counted")
        holds_for(lambda: counted() == dict(announcements), 3, "each announcement counted once")

        # Every consumer caught up.
        wait_until(
            lambda: (
                committed_lag(settings, settings.storage.group_id, settings.topics.events, 3) == 0
            ),
            60,
            "storage's committed lag at 0",
        )
        for service in (storage, event_logger):
            url = service.url
            wait_until(
                lambda: metric_sum(url, "consumer_lag_messages") == 0,  # noqa: B023
                60,
                f"{service.name}'s lag at 0",
            )
        assert processor.url  # it ran all along: its 0004s are among the announcements

        refused = {
            "players": load.player_refusals,
            "shoppers": load.shopper_refusals,
        }
        print(
            f"failover under load: {len(load.events)} events, {len(load.orders)} orders "
            f"({load.out_of_stock} out of stock), {len(load.lines)} log lines acknowledged; "
            + "; ".join(
                f"{who}: {len(r.times)} refused (503 or no answer), longest run "
                f"{r.longest_gap_free_run_s():.1f} s"
                for who, r in refused.items()
            )
        )
    finally:
        services.stop_all()
