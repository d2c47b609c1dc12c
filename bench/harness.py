"""What every benchmark starts first: a work folder, PostgreSQL and a broker with the topics."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from merchstore.common.config import Settings, load_settings
from merchstore.common.topics import ensure_topics
from merchstore.runtime.embedded import EmbeddedBroker, EmbeddedPostgres
from tests.support.processes import free_port, service_ready, wait_until


@dataclass(frozen=True)
class BenchServers:
    """The servers of one benchmark run."""

    work: Path
    database_url: str
    bootstrap: str
    settings: Settings

    def service_env(self, **extra: str) -> dict[str, str]:
        """Environment for a service process of this run."""
        return {
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
                kafka.work, database_url, kafka.broker.bootstrap_servers, kafka.settings
            )
        finally:
            postgres.stop()


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
