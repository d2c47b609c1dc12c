"""What every benchmark starts first: a work folder, PostgreSQL and a broker with the topics."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from merchstore.common.kafka.topics import ensure_topics
from merchstore.runtime.apache_kafka import KafkaNode, NodeAddress, new_cluster_id
from merchstore.runtime.broker_profile import embedded_broker_environment
from merchstore.runtime.embedded import EmbeddedBroker, EmbeddedPostgres
from merchstore.settings import Settings, load_settings
from tests.support.processes import ServiceProcess, free_port, service_ready, wait_until

BROKERS = ("embedded", "kafka")
"""The brokers a benchmark can run on: the embedded one, and an Apache Kafka node."""


@dataclass(frozen=True)
class BenchServers:
    """The servers of one benchmark run."""

    work: Path
    database_url: str
    bootstrap: str
    settings: Settings
    broker_env: dict[str, str] = field(default_factory=dict)
    """What this run's broker needs beyond the defaults (the embedded broker's profile)."""

    def with_topics(self, **names: str) -> BenchServers:
        """These servers with settings naming other topics, which are created here."""
        topics = self.settings.topics.model_copy(update=names)
        settings = self.settings.model_copy(update={"topics": topics})
        ensure_topics(settings)
        return dataclasses.replace(self, settings=settings)

    def service_env(self, **extra: str) -> dict[str, str]:
        """Environment for a service process of this run."""
        return {
            **self.broker_env,
            "MERCHSTORE_DATA_DIR": str(self.work),
            "MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "MERCHSTORE_DATABASE_URL": self.database_url,
            "MERCHSTORE_LOG_LEVEL": "WARNING",
            **extra,
        }


@dataclass(frozen=True)
class BenchBroker:
    """The embedded broker of one benchmark run, its work folder, and settings that use it."""

    work: Path
    broker: EmbeddedBroker
    settings: Settings


@contextmanager
def embedded_broker(name: str) -> Iterator[BenchBroker]:
    """A work folder and an embedded broker with the topics created, stopped afterwards."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    settings = load_settings(embedded={"kafka_port": free_port()})
    broker = EmbeddedBroker(settings, work / "broker.log")
    broker.start(settings)
    try:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap_servers})
        ensure_topics(settings)
        yield BenchBroker(work, broker, settings)
    finally:
        broker.stop()


@contextmanager
def embedded_servers(name: str) -> Iterator[BenchServers]:
    """An embedded PostgreSQL and broker (topics created), stopped afterwards."""
    with embedded_broker(name) as kafka:
        postgres = EmbeddedPostgres(kafka.work)
        database_url = postgres.start()
        try:
            yield BenchServers(
                kafka.work,
                database_url,
                kafka.broker.bootstrap_servers,
                kafka.settings,
                embedded_broker_environment(kafka.settings),
            )
        finally:
            postgres.stop()


@contextmanager
def apache_kafka_servers(name: str) -> Iterator[BenchServers]:
    """An embedded PostgreSQL and a one-node Apache Kafka (topics created), stopped afterwards."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-kafka-"))
    node = KafkaNode(work / "kafka", NodeAddress(1, "127.0.0.1", free_port(), free_port()))
    node.start(new_cluster_id())
    try:
        settings = load_settings(kafka_bootstrap_servers=node.bootstrap_servers)
        ensure_topics(settings)
        postgres = EmbeddedPostgres(work)
        database_url = postgres.start()
        try:
            yield BenchServers(work, database_url, node.bootstrap_servers, settings)
        finally:
            postgres.stop()
    finally:
        node.stop()


@contextmanager
def servers_on(broker: str, name: str) -> Iterator[BenchServers]:
    """`embedded_servers` or `apache_kafka_servers`, by ``broker`` (one of `BROKERS`)."""
    make = embedded_servers if broker == "embedded" else apache_kafka_servers
    with make(name) as servers:
        yield servers


@contextmanager
def hello_ceiling() -> Iterator[str]:
    """The bare FastAPI endpoint the services are compared with; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.hello_app", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: service_ready(url), 30, "the hello app")
        yield url
    finally:
        process.terminate()
        process.wait()


@contextmanager
def stopped(process: ServiceProcess) -> Iterator[ServiceProcess]:
    """``process``, stopped when the block ends, however it ends."""
    try:
        yield process
    finally:
        process.stop()
