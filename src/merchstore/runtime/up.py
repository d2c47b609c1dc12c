"""``merchstore up``: the whole system on one machine, in the foreground, stopped cleanly."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from merchstore.common.config.errors import ConfigError
from merchstore.common.config.grpc_tls import TlsMaterial
from merchstore.common.config.secrets import JWT_SECRET_FILE
from merchstore.common.health_probe import check_health
from merchstore.common.kafka.topics import ensure_topics
from merchstore.common.run_folder import BROKER_ADDRESS_FILE, RUN_DIR
from merchstore.common.serving.signals import StopRequested, stop_requests
from merchstore.runtime.apache_kafka import (
    KAFKA_VERSION,
    KafkaNode,
    NodeAddress,
    java_executable,
    new_cluster_id,
)
from merchstore.runtime.broker_profile import embedded_broker_environment
from merchstore.runtime.embedded import (
    EmbeddedBroker,
    EmbeddedPostgres,
    StartupError,
    log_tail,
    port_in_use,
)
from merchstore.runtime.load_balancer import local_nginx_config
from merchstore.runtime.prometheus import HEALTH_PATH as PROMETHEUS_HEALTH_PATH
from merchstore.runtime.prometheus import local_prometheus_config
from merchstore.runtime.supervision import Program, Supervisor
from merchstore.runtime.trace_backend import HEALTH_PATH as ZIPKIN_HEALTH_PATH
from merchstore.runtime.trace_backend import (
    ZIPKIN_VERSION,
    fetch_zipkin,
    service_environment,
    ui_url,
    zipkin_command,
)
from merchstore.services import SERVICES, ServiceSpec
from merchstore.settings import Settings

log = logging.getLogger(__name__)

UP_LOCK_FILE = "up.lock"
"""In the run directory: locked by the `merchstore up` that runs on this data directory, which
writes its pid there."""
BROKER_PID_FILE = "broker.pid"
"""In the run directory: the pid of the embedded broker that run started."""
KAFKA_PID_FILE = "kafka.pid"
"""In the run directory: the pid of the Apache Kafka node that run started."""
KAFKA_DIR = "kafka"
"""In the data directory: the Apache Kafka node's configuration, log and cluster id."""
CLUSTER_ID_FILE = "cluster.id"
SERVICE_URLS_FILE = "services.json"
"""In the run directory: where each service of the running `merchstore up` answers, by name."""

Say = Callable[[str], None]


@dataclass(frozen=True)
class Member:
    """A process `up` runs, and where its health check answers."""

    program: Program
    protocol: Literal["http", "grpc"]
    host: str
    port: int
    port_setting: str  # the environment variable that moves it, named when the port is taken
    health_path: str = "/health"
    tls: TlsMaterial | None = None
    """With grpc_tls on, the certificate a gRPC service's health check is asked with."""

    @classmethod
    def of_service(
        cls,
        spec: ServiceSpec,
        settings: Settings,
        *,
        loopback: bool = False,
        tls: TlsMaterial | None = None,
    ) -> Member:
        """Service ``spec`` where ``settings`` put it.

        With ``loopback``, a service bound to every interface is reached on 127.0.0.1; with
        ``tls`` (grpc_tls on), a gRPC service's health check is asked with that certificate.
        """
        endpoint = spec.endpoint(settings)
        everywhere = endpoint.host in ("0.0.0.0", "::")
        host = "127.0.0.1" if loopback and everywhere else endpoint.host
        return cls(
            Program.service(spec.name),
            spec.protocol,
            host,
            endpoint.port,
            spec.port_setting,
            tls=tls if spec.protocol == "grpc" else None,
        )

    @property
    def url(self) -> str:
        """Where it answers."""
        return f"{'http' if self.protocol == 'http' else 'grpc'}://{self.host}:{self.port}"

    def healthy(self, timeout_s: float = 2.0) -> bool:
        """Whether it answers its health check as ready."""
        answer = check_health(
            self.protocol,
            self.host,
            self.port,
            path=self.health_path,
            timeout_s=timeout_s,
            tls=self.tls,
        )
        return answer.ready


def configured_urls(settings: Settings) -> dict[str, str]:
    """Where each service answers on this machine as the settings put it, by name."""
    return {spec.name: Member.of_service(spec, settings, loopback=True).url for spec in SERVICES}


def service_urls(settings: Settings) -> dict[str, str]:
    """Where each service answers on this machine, by name.

    As the `up` running on the settings' data directory put them, or, when none runs there, as
    the settings say. Lets tools (``simulate``, ``verify``) find a running system with no
    setting at all.
    """
    urls = configured_urls(settings)
    try:
        written = json.loads(settings.data_path(Path(RUN_DIR) / SERVICE_URLS_FILE).read_text())
    except (OSError, ValueError):
        return urls
    if isinstance(written, dict):
        urls.update({str(k): str(v) for k, v in written.items() if k in urls})
    return urls


def command_path(name: str) -> str:
    """How to type the console script ``name`` of this environment from the current folder.

    ``.venv/bin/merchstore`` from the repository (no activated environment needed), the full
    path from elsewhere.
    """
    path = Path(sys.executable).parent / name
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def plan_members(
    settings: Settings, run_dir: Path, say: Say, prometheus: bool = False, tracing: bool = False
) -> list[Member]:
    """Every process to run: one per service, or N store-api replicas behind NGINX.

    With ``prometheus``, also a Prometheus scraping every service (when it is installed); with
    ``tracing``, first of all the trace backend the services send their spans to.
    """
    members: list[Member] = [_trace_backend(settings)] if tracing else []
    store_api_ports = [settings.store_api.port]
    tls = settings.grpc_tls.material()
    for spec in SERVICES:
        endpoint = spec.endpoint(settings)
        replicas = settings.store_api.replicas
        if spec.name != "store-api" or replicas == 1:
            members.append(Member.of_service(spec, settings, tls=tls))
            continue
        ports = [endpoint.port + index for index in range(1, replicas + 1)]
        store_api_ports = ports
        for index, port in enumerate(ports, start=1):
            environment = {
                "MERCHSTORE_STORE_API__PORT": str(port),
                "MERCHSTORE_STORE_API__REPLICA_NAME": f"store-api-{index}",
            }
            program = Program.service("store-api", environment)
            members.append(
                Member(
                    Program(f"store-api-{index}", program.command, environment),
                    "http",
                    endpoint.host,
                    port,
                    f"{spec.port_setting} (replica N listens on that port + N)",
                )
            )
        nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if nginx is None:
            say(
                f"  nginx is not installed: {replicas} store-api replicas on ports {ports}, "
                "no load balancer"
            )
            continue
        config_file = run_dir / "nginx.conf"
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(local_nginx_config(settings, ports, run_dir / "nginx"))
        command = [nginx, "-c", str(config_file), "-g", "daemon off;"]
        members.append(
            Member(
                Program("load-balancer", command),
                "http",
                endpoint.host,
                endpoint.port,
                spec.port_setting,
            )
        )
    if prometheus:
        members += _prometheus(settings, run_dir, store_api_ports, say)
    return members


def _trace_backend(settings: Settings) -> Member:
    config = settings.tracing
    command = zipkin_command(java_executable(), fetch_zipkin(), config)
    return Member(
        Program("trace-backend", command),
        "http",
        config.backend_host,
        config.backend_port,
        "MERCHSTORE_TRACING__BACKEND_PORT",
        health_path=ZIPKIN_HEALTH_PATH,
    )


def _prometheus(
    settings: Settings, run_dir: Path, store_api_ports: list[int], say: Say
) -> list[Member]:
    binary = shutil.which("prometheus")
    if binary is None:
        say(
            "  prometheus is not installed (Debian: apt-get install prometheus): "
            "running without it; every service still serves /metrics"
        )
        return []
    config = settings.prometheus
    config_file = run_dir / "prometheus.yml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(local_prometheus_config(settings, store_api_ports))
    command = [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={settings.data_dir.resolve() / 'prometheus'}",
        f"--web.listen-address={config.host}:{config.port}",
    ]
    return [
        Member(
            Program("prometheus", command),
            "http",
            config.host,
            config.port,
            "MERCHSTORE_PROMETHEUS__PORT",
            health_path=PROMETHEUS_HEALTH_PATH,
        )
    ]


class LocalSystem:
    """Everything ``merchstore up`` runs: embedded servers (unless given) and the services."""

    def __init__(
        self, settings: Settings, say: Say, prometheus: bool = False, tracing: bool = False
    ) -> None:
        self.settings = settings
        self.say = say
        self.prometheus = prometheus
        self.tracing = tracing
        self.data_dir = settings.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self.run_dir = self.data_dir / RUN_DIR
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.kafka: KafkaNode | None = None
        self.supervisor: Supervisor | None = None
        self.members: list[Member] = []
        self.database_url = (
            settings.database_url.get_secret_value() if settings.database_url else None
        )
        self.bootstrap_servers = settings.kafka_bootstrap_servers
        self._lock: TextIO | None = None

    def claim_data_dir(self) -> None:
        """Make this run the data directory's only one, stopping what a killed run left.

        A run holds an exclusive lock on a file in the run directory until it ends; the kernel
        releases it however the process ends, so a held lock means another ``merchstore up``
        uses the data directory, and this one refuses to start. A free lock means any run
        before this one has ended; if it was killed outright, it could not stop what it had
        started: whatever is left of supervisord with the services, the broker and PostgreSQL
        is stopped before their ports are needed again.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.run_dir / UP_LOCK_FILE).open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise StartupError(
                f"another `merchstore up` (pid {holder}) runs on {self.data_dir}; stop it "
                "first, or give this one another --data-dir and other ports too (each "
                "service's, e.g. MERCHSTORE_STORE_API__PORT=9000; `merchstore config-defaults` "
                "lists them), since the running one holds the default ports"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock
        for what, pid in stop_leftovers(self.data_dir, self.settings).items():
            self.say(f"stopped {what} (pid {pid}), left running by a killed earlier run")

    def check_ports(self) -> None:
        """Fail before starting anything if a port is taken."""
        for member in self.members:
            if port_in_use(member.host, member.port):
                raise StartupError(
                    f"{member.program.name}: port {member.port} on {member.host} is already in "
                    f"use; stop what uses it or set {member.port_setting}"
                )

    def start(self) -> None:
        """Start every component in dependency order, waiting for each to be ready."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.claim_data_dir()
        if self.tracing:
            self.say(f"trace backend: Zipkin {ZIPKIN_VERSION} (fetched once, checked) ...")
        self.members = plan_members(
            self.settings, self.run_dir, self.say, self.prometheus, self.tracing
        )
        self.check_ports()
        (self.run_dir / SERVICE_URLS_FILE).write_text(json.dumps(configured_urls(self.settings)))
        if self.bootstrap_servers is None and self.settings.embedded.broker == "kafka":
            java_executable()  # no Java: say so before anything is started or downloaded
        if self.settings.jwt_secret is None:
            self.settings.signing_secret()  # made once, before any service races to make it
            self.say(
                "JWT secret: random, kept in "
                f"{self.settings.data_path(JWT_SECRET_FILE)} (set MERCHSTORE_JWT_SECRET to choose)"
            )
        if self.database_url is None:
            self.say("starting embedded PostgreSQL ...")
            self.postgres = EmbeddedPostgres(self.data_dir)
            self.database_url = self.postgres.start()
            self.say(f"  PostgreSQL ready (data in {self.postgres.pgdata})")
        if self.bootstrap_servers is None and self.settings.embedded.broker == "kafka":
            self._start_apache_kafka()
        elif self.bootstrap_servers is None:
            self.say("starting embedded Kafka-compatible broker (tansu) ...")
            self.broker = EmbeddedBroker(
                self.settings, self.log_dir / "broker.log", self.run_dir / BROKER_PID_FILE
            )
            self.broker.start(self.settings)
            self.bootstrap_servers = self.broker.bootstrap_servers
            self.say(
                f"  broker ready at {self.bootstrap_servers}. NOTE: it keeps messages in memory "
                "only; they are gone when `merchstore up` stops. Run `merchstore up --broker "
                "kafka` for a local Apache Kafka that keeps them, or set "
                "MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS to use your own."
            )
        assert self.bootstrap_servers is not None
        effective = self.settings.model_copy(
            update={"kafka_bootstrap_servers": self.bootstrap_servers}
        )
        partitions = ensure_topics(effective, warn=lambda warning: self.say(f"! {warning}"))
        # Operator tools on the same data directory find the broker here.
        broker_file = self.settings.data_path(BROKER_ADDRESS_FILE)
        broker_file.parent.mkdir(parents=True, exist_ok=True)
        broker_file.write_text(self.bootstrap_servers)
        self.say(
            "  topics: "
            + ", ".join(
                f"{name} ({count} partition{'' if count == 1 else 's'})"
                for name, count in partitions.items()
            )
        )
        self._start_members()

    def _start_apache_kafka(self) -> None:
        """One Apache Kafka node whose log lives under the data directory (kept across runs)."""
        embedded = self.settings.embedded
        directory = self.data_dir / KAFKA_DIR
        id_file = directory / CLUSTER_ID_FILE
        directory.mkdir(parents=True, exist_ok=True)
        if not id_file.exists():
            id_file.write_text(new_cluster_id() + "\n")
        self.say(f"starting Apache Kafka {KAFKA_VERSION} (one KRaft node, data in {directory})")
        self.kafka = KafkaNode(
            directory,
            NodeAddress(
                1, embedded.kafka_host, embedded.kafka_port, embedded.kafka_controller_port
            ),
            pid_file=self.run_dir / KAFKA_PID_FILE,
        )
        self.kafka.start(id_file.read_text().strip())
        self.bootstrap_servers = self.kafka.bootstrap_servers
        self.say(f"  Apache Kafka ready at {self.bootstrap_servers} (log: {self.kafka.log_file})")

    def _start_members(self) -> None:
        assert self.bootstrap_servers is not None and self.database_url is not None
        self.supervisor = Supervisor(
            [member.program for member in self.members],
            run_dir=self.run_dir,
            log_dir=self.log_dir,
            environment={
                # What the embedded broker needs beyond the defaults (made for Apache Kafka).
                **(embedded_broker_environment(self.settings) if self.broker else {}),
                "MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
                "MERCHSTORE_DATABASE_URL": self.database_url,
                "MERCHSTORE_DATA_DIR": str(self.data_dir),
                **(service_environment(self.settings.tracing) if self.tracing else {}),
            },
            settings=self.settings.supervisor,
        )
        self.supervisor.start()
        # supervisord starts them all at once: each is timed from there, not from when this
        # loop came to it (later ones are often ready by then).
        started = time.monotonic()
        for member in self.members:
            self.say(f"starting {member.program.name} ...")
            self.wait_healthy(member)
            self.say(
                f"  {member.program.name} ready, {time.monotonic() - started:.1f} s after the "
                "services were started"
            )

    def wait_healthy(self, member: Member) -> None:
        """Wait until ``member`` answers healthy; fail fast if it cannot start.

        supervisord gives a service up (FATAL) only when it dies within its first seconds; on
        a loaded machine a service can take longer than that to fail, and is then restarted
        for ever. So a service seen starting more often than the retries allow has failed too.
        """
        assert self.supervisor is not None
        name = member.program.name
        retries = self.settings.supervisor.start_retries
        deadline = time.monotonic() + self.settings.supervisor.start_timeout_s
        log_file = self.supervisor.log_file(name)
        pids: set[int] = set()
        while not member.healthy(timeout_s=1.0):
            state = self.supervisor.states()[name]
            if state.pid:
                pids.add(state.pid)
            if state.state == "FATAL" or len(pids) > retries + 1:
                raise StartupError(
                    f"{name} could not start ({state.spawn_error or 'it kept exiting'}); "
                    f"its log is {log_file}:\n{log_tail(log_file)}"
                )
            if time.monotonic() > deadline:
                raise StartupError(
                    f"{name} was not healthy after "
                    f"{self.settings.supervisor.start_timeout_s:.0f} s ({state.state.lower()}, "
                    f"started {len(pids)} time{'' if len(pids) == 1 else 's'}); "
                    f"its log is {log_file}:\n{log_tail(log_file)}"
                )
            time.sleep(0.25)

    def summary(self) -> str:
        """The table of what runs where."""
        rows = [
            (m.program.name, m.url, str(self.log_dir / f"{m.program.name}.log"))
            for m in self.members
        ]
        if self.tracing:
            ratio = self.settings.tracing.sample_ratio
            rows.append(
                (
                    "traces",
                    ui_url(self.settings.tracing),
                    f"Zipkin {ZIPKIN_VERSION}, in memory; {ratio:.0%} of new requests traced "
                    "(MERCHSTORE_TRACING__SAMPLE_RATIO), a client's traceparent decides its own",
                )
            )
        kafka_note = (
            "embedded, memory only"
            if self.broker
            else f"Apache Kafka {KAFKA_VERSION}, data in {self.data_dir / KAFKA_DIR}"
            if self.kafka
            else "external"
        )
        rows.append(("kafka", f"{self.bootstrap_servers}", kafka_note))
        rows.append(
            (
                "postgresql",
                "embedded" if self.postgres else "external",
                str(self.data_dir / "postgres"),
            )
        )
        width = max(len(row[0]) for row in rows)
        url_width = max(len(row[1]) for row in rows)
        lines = [f"  {name:<{width}}  {url:<{url_width}}  {note}" for name, url, note in rows]
        return "\n".join(
            ["merchstore is up:", *lines, *self.first_steps(), "Press Ctrl-C to stop."]
        )

    def first_steps(self) -> list[str]:
        """The first three things to type, in another terminal, runnable as printed."""
        tail = f"{command_path('merchstore')} logs tail"
        default_data_dir = Settings.model_fields["data_dir"].default
        if self.data_dir.resolve() != Path(default_data_dir).resolve():
            tail += f" --data-dir {shlex.quote(str(self.data_dir))}"
        store, receiver = self.settings.store_api.port, self.settings.receiver.port
        return [
            "Try it, in another terminal (the tour, docs/tour.md, goes on from there):",
            f"  curl localhost:{store}/products                   # the store's products",
            f"  curl -X POST localhost:{receiver}/purchase_a_sword  # a game event",
            f"  {tail}  # every service's operation log, as it happens",
            f"  and the dashboard: http://localhost:{self.settings.dashboard.port}",
        ]

    def watch(self, stop: threading.Event) -> None:
        """Report services that died and were restarted, until ``stop`` is set.

        A local Apache Kafka node that died is started again on its log (nothing it
        acknowledged is lost: it writes before it acknowledges, and the services wait and
        retry meanwhile). Raises StartupError when supervisord gave up on a service (it kept
        failing) or the Kafka node cannot start again.
        """
        assert self.supervisor is not None
        known = {name: state.pid for name, state in self.supervisor.states().items()}
        while not stop.wait(0.5):
            self._restart_kafka_if_dead()
            for name, state in self.supervisor.states().items():
                if state.state == "FATAL":
                    raise StartupError(
                        f"{name} kept failing and was given up on; its log is "
                        f"{self.supervisor.log_file(name)}"
                    )
                if state.pid and state.pid != known.get(name):
                    self.say(
                        f"! {name} (pid {known.get(name)}) exited unexpectedly; restarted as pid "
                        f"{state.pid} (log: {self.supervisor.log_file(name)})"
                    )
                    known[name] = state.pid
                elif not state.pid and known.get(name):
                    self.say(
                        f"! {name} (pid {known[name]}) exited unexpectedly; "
                        f"restarting ({state.state})"
                    )
                    known[name] = 0

    def _restart_kafka_if_dead(self) -> None:
        if self.kafka is None or (status := self.kafka.exit_status()) is None:
            return
        self.say(
            f"! Apache Kafka (pid {self.kafka.pid}) exited unexpectedly (status {status}); "
            f"starting it again (log: {self.kafka.log_file})"
        )
        self.kafka.stop()  # forgets the ended process and its pid file
        id_file = self.data_dir / KAFKA_DIR / CLUSTER_ID_FILE
        self.kafka.start(id_file.read_text().strip())
        self.say(f"  Apache Kafka ready again as pid {self.kafka.pid}")

    def stop(self) -> bool:
        """Stop services first (they may still publish), then the broker, then PostgreSQL.

        Returns whether there was anything to stop: a run refused before it claimed the data
        directory started nothing, and leaves alone what the run holding it made (its broker
        address file among them).
        """
        if self._lock is None:
            return False
        if self.supervisor is not None:
            self.say("stopping services ...")
            self.supervisor.stop()
            self.supervisor = None
        self.settings.data_path(BROKER_ADDRESS_FILE).unlink(missing_ok=True)
        (self.run_dir / SERVICE_URLS_FILE).unlink(missing_ok=True)
        if self.broker is not None:
            self.say("stopping broker ...")
            self.broker.stop()
            self.broker = None
        if self.kafka is not None:
            self.say("stopping Apache Kafka ...")
            self.kafka.stop()
            self.kafka = None
        if self.postgres is not None:
            self.say("stopping PostgreSQL ...")
            self.postgres.stop()
            self.postgres = None
        self._lock.close()  # the data directory is free for the next run
        self._lock = None
        return True


def stop_leftovers(data_dir: Path, settings: Settings) -> dict[str, int]:
    """Stop what a run on ``data_dir`` killed outright left running; what was stopped, by pid.

    supervisord (which stops its services) first, then the broker, then PostgreSQL: the order
    in which a run stops them itself.
    """
    run_dir = data_dir / RUN_DIR
    pids = {
        "the services and supervisord": Supervisor.stop_leftover(run_dir, settings.supervisor),
        "the embedded broker": EmbeddedBroker.stop_leftover(run_dir / BROKER_PID_FILE),
        "Apache Kafka": KafkaNode.stop_leftover(run_dir / KAFKA_PID_FILE),
        "the embedded PostgreSQL": EmbeddedPostgres.stop_leftover(data_dir),
    }
    return {what: pid for what, pid in pids.items() if pid is not None}


def run_up(settings: Settings, say: Say, prometheus: bool = False, tracing: bool = False) -> int:
    """Start everything, report, and stop everything on SIGTERM or Ctrl-C. Returns an exit code."""
    starting = True
    with stop_requests(interrupting=lambda: starting) as stop:
        system = LocalSystem(settings, say, prometheus, tracing)
        try:
            system.start()
            starting = False
            say(system.summary())
            system.watch(stop)
            return 0
        except StopRequested:
            say("stop requested while starting")
            return 0
        except (StartupError, ConfigError) as error:  # ConfigError: a certificate, for one
            say(f"error: {error}")
            return 1
        finally:
            starting = False
            if system.stop():
                say("stopped.")
