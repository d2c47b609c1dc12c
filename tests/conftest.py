"""Shared fixtures: one real PostgreSQL and real brokers per test session, isolated per test.

Every test gets its own topic names and its own database, so tests never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import psutil
import psycopg
import pytest
from psycopg import sql

from merchstore.common.kafka.topics import ensure_topics
from merchstore.common.metrics import METRICS_PORT_OFFSET
from merchstore.runtime.apache_kafka import KafkaCluster
from merchstore.runtime.embedded import EmbeddedPostgres
from merchstore.services import SERVICES
from merchstore.settings import Settings, load_settings
from tests.support.broker import (
    SHARED_KAFKA_VARIABLE,
    PrivateBroker,
    SharedKafka,
    broker_environment,
    broker_kinds,
    broker_settings,
    grant_service_access,
    kafka_cluster,
    kafka_environment,
    secured_access,
    service_login,
)
from tests.support.docker_engine import ENGINE_VARIABLE, SuiteDockerEngine
from tests.support.kafka import register_secured
from tests.support.paths import REPOSITORY
from tests.support.processes import ServiceProcess, free_port, free_port_pair

TESTS = Path(__file__).resolve().parent

SESSION_MARK = "MERCHSTORE_TEST_SESSION"
"""Set in this process's environment, inherited by every process a test starts: at the end of
the session any process still carrying it was left behind, and the suite fails."""

os.environ.setdefault(SESSION_MARK, uuid.uuid4().hex)


# No time limit on a hypothesis example: the suite runs six workers' servers on two cores, where
# an example that takes 20 ms at rest took 320 ms once (timing belongs in bench/, not here).
hypothesis.settings.register_profile("suite", deadline=None)
hypothesis.settings.load_profile("suite")

SERVER_FIXTURES = frozenset({"postgres_url", "kafka_bootstrap", "private_broker", "broker_kind"})
"""Fixtures that start a real server: no unit test may use one."""

LAYERS = ("unit", "integration", "e2e")
"""The test pyramid, one folder each under tests/; the marker follows the folder."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its layer of the pyramid: the folder it is in.

    ``tests/unit`` may neither connect anywhere nor start a process (``make test-fast`` runs
    it alone), ``tests/integration`` starts one real server or process per concern, and
    ``tests/e2e`` runs the whole system. A unit test that asks for a server is an error.
    """
    for item in items:
        layer = Path(str(item.path)).relative_to(TESTS).parts[0]
        if layer not in LAYERS:
            raise pytest.UsageError(f"{item.nodeid}: put tests under tests/{{{','.join(LAYERS)}}}/")
        servers = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if layer == "unit" and servers:
            raise pytest.UsageError(
                f"{item.nodeid} uses {', '.join(sorted(servers))}: it belongs in tests/integration/"
            )
        item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit test that opens a network connection or starts a process fails at once."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(what: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"a unit test may not {what}; it belongs in tests/integration/")

        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("open a network connection"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("open a network connection"))
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("start a process"))


def pytest_configure(config: pytest.Config) -> None:
    """In the controlling process: start the session's Apache Kafka and Docker engine.

    Both start while the tests collect; the engine only when none answers. Workers
    (pytest-xdist) find them through `SHARED_KAFKA_VARIABLE` and `ENGINE_VARIABLE`; a run of
    unit tests only starts neither, one on the embedded broker only starts no Kafka.
    """
    if hasattr(config, "workerinput"):
        return
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args] or [TESTS]
    if all(path.is_relative_to(TESTS / "unit") for path in paths):
        return
    # The benchmarks alone (make test's last part) start their own servers, as `make bench` does.
    if config.option.markexpr.strip() == "bench":
        return
    # The Docker engine starts while the tests collect, as the Kafka node does.
    engine = SuiteDockerEngine(Path(tempfile.mkdtemp(prefix="merchstore-test-docker-")))
    engine.start()
    engine.prepare_standins(REPOSITORY / "deploy" / "docker-compose.yml")
    os.environ[ENGINE_VARIABLE] = str(engine.directory)
    config.stash[DOCKER_ENGINE] = engine
    # The Docker tests alone (make test's second part) take no broker of the suite's.
    if "kafka" not in broker_kinds() or config.option.markexpr.strip() == "docker":
        return
    shared = SharedKafka(Path(tempfile.mkdtemp(prefix="merchstore-test-kafka-")))
    shared.start()
    os.environ[SHARED_KAFKA_VARIABLE] = str(shared.directory)
    config.stash[SHARED_KAFKA] = shared


def _stop_shared_servers(config: pytest.Config) -> None:
    """Stop the session's Apache Kafka and Docker engine, if this process started them (once)."""
    shared = config.stash.get(SHARED_KAFKA, None)
    if shared is not None:
        del config.stash[SHARED_KAFKA]
        shared.stop()
        shutil.rmtree(shared.directory, ignore_errors=True)
    engine = config.stash.get(DOCKER_ENGINE, None)
    if engine is not None:
        del config.stash[DOCKER_ENGINE]
        engine.stop()
        shutil.rmtree(engine.directory, ignore_errors=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the session's Apache Kafka and Docker engine if the session ended early."""
    _stop_shared_servers(config)


SHARED_KAFKA = pytest.StashKey[SharedKafka]()
DOCKER_ENGINE = pytest.StashKey[SuiteDockerEngine]()


def _left_behind() -> list[psutil.Process]:
    mark = os.environ[SESSION_MARK]
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if process.environ().get(SESSION_MARK) == mark and process.status() not in (
                psutil.STATUS_ZOMBIE,
                psutil.STATUS_DEAD,
            ):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the suite if a process a test started outlives it (and stop that process)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    _stop_shared_servers(session.config)  # the suite's own, stopped before looking for leftovers
    deadline = time.monotonic() + 5
    leftovers = _left_behind()
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.5)  # processes stopped at the very end may still be exiting
        leftovers = _left_behind()
    if not leftovers:
        return
    described = []
    for process in leftovers:
        try:
            described.append(f"{process.pid} {' '.join(process.cmdline())[:160]}")
            process.kill()
        except psutil.Error:
            continue
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            "processes started by tests outlived the suite (now killed):\n  "
            + "\n  ".join(described),
            red=True,
        )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server for the whole session (the same embedded one `up` uses)."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """A fresh, empty database for one test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return postgres_url.replace("/merchstore?", f"/{name}?")


@pytest.fixture(params=broker_kinds())
def broker_kind(request: pytest.FixtureRequest) -> str:
    """The broker this test runs on: ``embedded`` or ``kafka`` (each test runs on both)."""
    return str(request.param)


@pytest.fixture
def private_broker(broker_kind: str, tmp_path: Path) -> Iterator[PrivateBroker]:
    """A broker of this test's own (delivery timeout 2 s), to stop and restart at will."""
    broker = PrivateBroker(broker_kind, tmp_path, kafka={"delivery_timeout_ms": 2000})
    try:
        yield broker.start()
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def embedded_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded broker of this worker, for the whole session."""
    broker = PrivateBroker("embedded", tmp_path_factory.mktemp("broker")).start()
    yield broker.bootstrap_servers
    broker.stop()


@pytest.fixture(scope="session")
def apache_kafka_bootstrap() -> str:
    """The session's Apache Kafka node, shared by every worker."""
    directory = os.environ.get(SHARED_KAFKA_VARIABLE)
    if directory is None:
        pytest.fail(f"no Apache Kafka for this session ({SHARED_KAFKA_VARIABLE} is unset)")
    return SharedKafka.bootstrap_servers(Path(directory))


@pytest.fixture
def kafka_bootstrap(broker_kind: str, request: pytest.FixtureRequest) -> str:
    """The address of the session broker of this test's kind."""
    if broker_kind == "kafka":
        return str(request.getfixturevalue("apache_kafka_bootstrap"))
    return str(request.getfixturevalue("embedded_bootstrap"))


@pytest.fixture
def topic_names() -> dict[str, str]:
    """Topic names unique to this test."""
    suffix = uuid.uuid4().hex[:10]
    return {
        "events": f"events-{suffix}",
        "event_log": f"event_log-{suffix}",
        "log_channel": f"log-channel-{suffix}",
    }


@pytest.fixture
def settings(
    tmp_path: Path, kafka_bootstrap: str, topic_names: dict[str, str], broker_kind: str
) -> Settings:
    """Settings pointing at the session broker, with this test's topics created."""
    configured = load_settings(
        **broker_settings(
            broker_kind,
            data_dir=tmp_path / "data",
            kafka_bootstrap_servers=kafka_bootstrap,
            topics=topic_names,
            storage={"group_id": f"storage-{topic_names['events']}"},
            event_logger={"group_id": f"event-logger-{topic_names['event_log']}"},
        )
    )
    ensure_topics(configured)
    return configured


@pytest.fixture
def service_env(
    settings: Settings, topic_names: dict[str, str], broker_kind: str
) -> dict[str, str]:
    """Environment that gives a service process the same settings as ``settings``."""
    env = {
        **broker_environment(broker_kind),
        **kafka_environment(settings),
        "MERCHSTORE_DATA_DIR": str(settings.data_dir),
    }
    for key, name in topic_names.items():
        env[f"MERCHSTORE_TOPICS__{key.upper()}"] = name
    # Consumer groups of this test's own: tests share the session's Apache Kafka.
    env["MERCHSTORE_STORAGE__GROUP_ID"] = settings.storage.group_id
    env["MERCHSTORE_EVENT_LOGGER__GROUP_ID"] = settings.event_logger.group_id
    return env


class ServiceLauncher:
    """Starts services as real processes on free ports, all sharing this test's settings."""

    NAMES = tuple(spec.name for spec in SERVICES)
    GRPC = frozenset(spec.name for spec in SERVICES if spec.protocol == "grpc")
    JWT_SECRET = "test-secret-for-forging-expired-tokens"

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.ports: dict[str, int] = {}
        taken: set[int] = set()
        for name in self.NAMES:
            # Distinct within the test, a gRPC service's metrics port included.
            while True:
                port = free_port_pair(METRICS_PORT_OFFSET) if name in self.GRPC else free_port()
                uses = {port, port + METRICS_PORT_OFFSET} if name in self.GRPC else {port}
                if not uses & taken:
                    break
            self.ports[name] = port
            taken |= uses
        self.env = {
            "MERCHSTORE_JWT_SECRET": self.JWT_SECRET,
            # The suite runs six workers' servers on two cores: a password change (two argon2
            # calls in db-service) outlasted store-api's 5 s deadline there and answered 503.
            "MERCHSTORE_STORE_API__RPC_TIMEOUT_S": "30",
            **env,
        }
        for spec in SERVICES:
            self.env[spec.port_setting] = str(self.ports[spec.name])
        self.log_dir = log_dir
        self.started: dict[str, ServiceProcess] = {}

    def process(self, name: str, **extra_env: str) -> ServiceProcess:
        """The service's process object (not started), created on first use."""
        if name not in self.started:
            self.started[name] = ServiceProcess(
                name,
                # On the secured Apache Kafka each service logs in as its own user.
                {**self.env, **service_login(self.env, name), **extra_env},
                self.ports[name],
                self.log_dir / f"{name}.out",
                grpc=name in self.GRPC,
            )
        return self.started[name]

    def start(self, name: str, **extra_env: str) -> ServiceProcess:
        """Start ``name`` and wait until it is healthy."""
        return self.process(name, **extra_env).start()

    def stop_all(self) -> None:
        """Stop every service: all signalled at once, so stopping takes the slowest's time."""
        for service in self.started.values():
            service.request_stop()
        for service in self.started.values():
            service.stop()


@pytest.fixture
def services(
    service_env: dict[str, str], database_url: str, tmp_path: Path
) -> Iterator[ServiceLauncher]:
    """Start merchstore services as real processes; all are stopped after the test."""
    launcher = ServiceLauncher(
        {**service_env, "MERCHSTORE_DATABASE_URL": database_url}, tmp_path / "logs"
    )
    yield launcher
    launcher.stop_all()


@pytest.fixture
def three_brokers(tmp_path: Path) -> Iterator[KafkaCluster]:
    """A three-broker Apache Kafka cluster of this test's own, started (skipped without Kafka).

    Secured as the session's node is: its clients log in, each service as its own user.
    """
    if "kafka" not in broker_kinds():
        pytest.skip("Apache Kafka is not among this run's brokers")
    security, access = secured_access(tmp_path / "tls")
    nodes = kafka_cluster(tmp_path / "cluster", security)
    try:
        nodes.start()
        grant_service_access(nodes.nodes[0], access)
        register_secured(nodes.bootstrap_servers, access)
        yield nodes
    finally:
        nodes.stop()
