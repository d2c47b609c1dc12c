"""Application configuration: packaged YAML defaults, an optional YAML file, then environment.

Precedence, highest first: keyword arguments, ``MERCHSTORE_*`` environment variables
(nested keys joined by ``__``, e.g. ``MERCHSTORE_EVENT_LOGGER__PORT``), the YAML file named by
``MERCHSTORE_CONFIG_FILE``, the packaged ``config/merchstore.yaml``.
"""

from __future__ import annotations

import os
import re
import secrets
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "MERCHSTORE_"
CONFIG_FILE_ENV = "MERCHSTORE_CONFIG_FILE"
EXAMPLE_SECRETS = frozenset(
    {
        # Published in this repository at one time or another: never a signing key.
        "local-development-secret-change-me",
        "change-me-to-a-long-random-string",
        "change-me",
        "secret",
        "changeme",
    }
)
"""Secrets anyone can read in this repository; refused as MERCHSTORE_JWT_SECRET everywhere."""

MIN_SECRET_BYTES = 32
JWT_SECRET_FILE = "secrets/jwt-secret"
"""Under the data directory: the random secret of a local system started without one."""

BROKER_ADDRESS_FILE = "run/kafka-bootstrap"
"""Under the data directory: the broker a running `merchstore up` uses, for the CLI tools."""

SECRETS_DIR = Path("/run/secrets")
"""Where container runtimes mount secret files (``merchstore_jwt_secret``, ...), if present."""
SECRETS_DIR_ENV = "MERCHSTORE_SECRETS_DIR"
"""Names another folder of secret files than `SECRETS_DIR`."""


def secrets_dir() -> Path:
    """The folder secret files are read from: `SECRETS_DIR` unless `SECRETS_DIR_ENV` names one."""
    return Path(os.environ.get(SECRETS_DIR_ENV) or SECRETS_DIR)


class ConfigError(Exception):
    """The configuration is invalid; the message names each bad key and where to fix it."""


class _Section(BaseModel):
    """Base of every configuration section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class KafkaSettings(_Section):
    """How every service talks to Kafka."""

    session_timeout_ms: int = Field(
        10_000,
        ge=1000,
        le=300_000,
        description=(
            "How long a consumer that stopped answering keeps its partitions before the group "
            "gives them to another: the pause a crashed consumer causes. Apache Kafka accepts 6000 "
            "to 1800000 (group.min/max.session.timeout.ms)."
        ),
    )
    delivery_timeout_ms: int = Field(
        30_000,
        ge=100,
        description=(
            "How long a produced message may wait for the broker's acknowledgement before it "
            "fails. Longer than a broker failover on a cluster (KRaft fences a dead broker after "
            "about 9 s, then a new leader is elected), so a lost broker delays messages but fails "
            "none."
        ),
    )
    replace_producer_on_timeout: bool = Field(
        False,
        description=(
            "Replace the producer when a delivery times out, as well as on a fatal error. Only for "
            "the embedded broker, which forgets producer ids when it restarts without saying so; "
            "on Apache Kafka a timeout fails that message only, and replacing the producer would "
            "fail every message in flight to healthy partitions too."
        ),
    )
    request_timeout_s: float = Field(10.0, gt=0)
    replication_factor: int = Field(
        1,
        ge=1,
        le=32,
        description=(
            "Copies of every topic the services create (events, event_log, log-channel). 1 on a "
            "single broker; 3 on a cluster, whose min.insync.replicas of 2 then lets acks=all "
            "survive the loss of any one broker. Existing topics with fewer copies are reported."
        ),
    )
    reconnect_backoff_max_ms: int = Field(
        1000,
        ge=100,
        le=60_000,
        description=(
            "The longest a client waits between attempts to reach a broker it lost. Short, so a "
            "restarted broker is used again within about a second (librdkafka's default, 10 s, "
            "left orders waiting in the outbox that long)."
        ),
    )
    stall_after_s: float = Field(
        30.0,
        gt=0,
        description=(
            "A consumer whose every attempt to store what it has read failed this long answers 503"
            " on /health (a quiet topic is not a failure)."
        ),
    )
    fetch_wait_max_ms: int = Field(
        500,
        ge=0,
        le=10_000,
        description=(
            "The longest a consumer's fetch waits for new messages. The embedded broker answers a "
            "waiting fetch only then, so this is its latency floor from produce to consumer (20 "
            "gives a p50 near 10 ms, at the cost of a fetch per idle consumer every 20 ms); Apache"
            " Kafka answers as soon as data arrives, so there the wait costs no latency."
        ),
    )


EMBEDDED_BROKER_PROFILE: dict[str, dict[str, Any]] = {
    "kafka": {"session_timeout_ms": 6000, "replace_producer_on_timeout": True},
    "storage": {"fetch_wait_max_ms": 20},
    "receiver": {"publish_timeout_ms": 5000},
    "logging_service": {"drain_delivery_timeout_ms": 10_000},
}
"""What the embedded broker needs beyond the defaults, which are right for Apache Kafka:
`merchstore up` applies it when it runs the embedded broker (a setting of the user's own
wins). The broker forgets producer ids when it restarts, answers a waiting fetch only when the
wait ends, and has no failover to wait for; its minimum session timeout is 6 s."""


def embedded_broker_environment(settings: Settings) -> dict[str, str]:
    """`EMBEDDED_BROKER_PROFILE` as environment variables, for each setting still at its default.

    A value the user chose (in a YAML file or the environment) is left as chosen.
    """
    environment = {}
    for section, values in EMBEDDED_BROKER_PROFILE.items():
        current = getattr(settings, section)
        for name, value in values.items():
            if getattr(current, name) != type(current).model_fields[name].default:
                continue
            text = str(value).lower() if isinstance(value, bool) else str(value)
            environment[f"MERCHSTORE_{section.upper()}__{name.upper()}"] = text
    return environment


class TopicSettings(_Section):
    """Topic names and partition counts (names are configurable so tests can isolate topics)."""

    events: str = "events"
    event_log: str = "event_log"
    log_channel: str = "log-channel"
    events_partitions: int = Field(3, ge=1)
    log_channel_partitions: int = Field(1, ge=1)


class HttpSettings(_Section):
    """How every HTTP service serves its clients."""

    keep_alive_s: float = Field(
        75.0,
        ge=1,
        description=(
            "Idle keep-alive connections stay open this long (at least 60 s, so clients may reuse "
            "them)."
        ),
    )


class ServiceSettings(_Section):
    """Where a service listens."""

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class EventLoggerSettings(ServiceSettings):
    """event-logger: consumer group and where its SQLite database lives."""

    port: int = Field(8120, ge=1, le=65535)
    group_id: str = "event-logger"
    database_file: str = Field(
        "event-logger/events.sqlite3", description="Relative paths are under data_dir."
    )
    log_file: str = Field(
        "event-logger/app.log",
        description="Each stored message once, one line each, written after its database commit.",
    )
    batch_size: int = Field(500, ge=1)


class ReceiverSettings(ServiceSettings):
    """receiver: the game events API."""

    port: int = Field(8080, ge=1, le=65535)
    publish_timeout_ms: int = Field(
        15_000,
        ge=100,
        description=(
            "An answer waits at most this long for the broker's acknowledgement, then it is a 503 "
            "(which does not say the event was not written: a retry with the same "
            "Idempotency-Key stores it once). Longer than a broker failover on a cluster (about "
            "9 s), so losing a broker slows answers down but refuses none."
        ),
    )
    linger_ms: int = Field(
        1,
        ge=0,
        le=1000,
        description=(
            "Producer linger: requests wait for the broker's ack, so keep it short (higher = more "
            "throughput under heavy load, more latency when quiet)."
        ),
    )


class StorageSettings(ServiceSettings):
    """storage: consumes ``events`` into PostgreSQL."""

    port: int = Field(8090, ge=1, le=65535)
    group_id: str = "storage"
    batch_size: int = Field(500, ge=1, description="Events per PostgreSQL transaction, at most.")
    pool_min_size: int = Field(1, ge=0)
    pool_max_size: int = Field(8, ge=1)
    fetch_wait_max_ms: int | None = Field(
        None,
        ge=0,
        le=10_000,
        description=(
            "storage's own kafka.fetch_wait_max_ms (unset: that one). It is on the path from a "
            "player's action to the statistics, so on the embedded broker, which answers a "
            "waiting fetch only when the wait ends, it asks again every 20 ms."
        ),
    )


class ProcessorSettings(ServiceSettings):
    """processor: periodic statistics over the events storage holds."""

    port: int = Field(8100, ge=1, le=65535)
    period_seconds: float = Field(5.0, gt=0)
    event_threshold: int = Field(
        25, ge=0, description="A run that receives more new events than this publishes code 0004."
    )
    storage_url: str | None = Field(
        None, description="Unset: http://<storage.host>:<storage.port>."
    )
    page_size: int = Field(1000, ge=1, le=10_000)
    state_file: str = "processor/state.sqlite3"
    request_timeout_s: float = Field(5.0, gt=0)


class DbServiceSettings(ServiceSettings):
    """db-service: store data access over gRPC, PostgreSQL behind a connection pool."""

    port: int = Field(50051, ge=1, le=65535)
    pool_min_size: int = Field(2, ge=0)
    pool_max_size: int = Field(10, ge=1)
    per_request_connections: bool = Field(
        False,
        description="Benchmarks only: a new PostgreSQL connection per request instead of the pool.",
    )
    outbox_poll_interval_s: float = Field(
        0.2,
        gt=0,
        description=(
            "The outbox relay looks for unsent order events this often, and sends this many at "
            "once."
        ),
    )
    outbox_batch_size: int = Field(100, ge=1)
    outbox_lease_s: float = Field(
        30.0,
        gt=0,
        description=(
            "A relay claims rows for this long (no transaction open while it waits for Kafka); if "
            "it dies, another one sends them once the lease ran out."
        ),
    )
    outbox_retention_s: float = Field(
        3600.0, ge=0, description="Sent rows are kept this long, then pruned."
    )
    grace_period_s: float = Field(
        5.0, ge=0, description="On SIGTERM, calls in progress get this long to finish."
    )
    max_concurrent_hashes: int = Field(
        2,
        ge=1,
        description=(
            "argon2 hashes at once (each costs tens of MiB of memory), and how many more may wait;"
            ' beyond that a login or registration is answered 503 "retry" at once, never queued.'
        ),
    )
    max_waiting_hashes: int = Field(32, ge=0)


class StoreApiSettings(ServiceSettings):
    """store-api: the merch store's REST API."""

    port: int = Field(8000, ge=1, le=65535)
    db_service_target: str | None = Field(
        None, description="Unset: <db_service.host>:<db_service.port>."
    )
    rpc_timeout_s: float = Field(5.0, gt=0, description="Deadline of every call to db-service.")
    token_ttl_s: int = Field(3600, ge=60, description="Lifetime of an access token.")
    product_cache_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description=(
            "How long product answers are kept in memory (0: off). This replica's own orders clear"
            " them at once; orders through other replicas show after at most this long."
        ),
    )
    replica_name: str | None = Field(
        None, description="Shown in the X-Served-By header (default hostname:port)."
    )
    replicas: int = Field(
        1,
        ge=1,
        le=16,
        description=(
            "`merchstore up` only: with more than 1, the replicas listen on port+1, port+2, ... "
            "and an NGINX (when installed) balances over them on port."
        ),
    )


class LoggingServiceSettings(ServiceSettings):
    """logging-service: operation logs over gRPC, published to ``log-channel``."""

    port: int = Field(50052, ge=1, le=65535)
    spill_file: str = Field(
        "logging-service/spill.sqlite3",
        description=(
            "While Kafka is unreachable messages wait in this SQLite file (relative to data_dir), "
            "up to spill_max_bytes of them; beyond that new ones are counted as dropped and "
            "reported. A message the broker refuses for good is moved to the file's set_aside "
            "table."
        ),
    )
    spill_max_bytes: int = Field(256 * 1024 * 1024, ge=64 * 1024)
    settle_every: int = Field(
        1000,
        ge=1,
        description=(
            "A stream's messages are settled (acknowledged or spilled) at least every this many."
        ),
    )
    drain_batch_size: int = Field(500, ge=1)
    drain_delivery_timeout_ms: int = Field(
        0,
        ge=0,
        description=(
            "How long a spilled message being sent again may wait for the broker (0: as long as "
            "it takes). Giving up would send it once more later, though the broker may have "
            "written it: a line twice on log-channel. The embedded broker needs a limit (it "
            "forgets producers when it restarts)."
        ),
    )
    shutdown_drain_s: float = Field(
        10.0,
        ge=0,
        description="On SIGTERM, how long spilled messages may still be sent before exiting.",
    )
    linger_ms: int = Field(
        50,
        ge=0,
        le=1000,
        description=(
            "Lines are gathered this long into one produce request to Kafka: fewer, larger "
            "requests cost the broker and logging-service less per line, and a line reaches "
            "log-channel at most this much later."
        ),
    )


class LogShippingSettings(_Section):
    """How services stream their own logs to logging-service."""

    enabled: bool = Field(
        True, description="store-api and db-service stream their log lines to logging-service."
    )
    queue_size: int = Field(
        10_000,
        ge=1,
        description=(
            "Lines wait in memory up to this many while logging-service is slow or down, then drop."
        ),
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    target: str | None = Field(
        None, description="Unset: <logging_service.host>:<logging_service.port>."
    )
    shutdown_flush_s: float = Field(3.0, ge=0)
    lines_per_stream: int = Field(
        1000,
        ge=1,
        description=(
            "Each stream ends after this many lines or seconds; its summary acknowledges its "
            "lines, and until then the client keeps them to send again if logging-service goes "
            "away."
        ),
    )
    stream_max_s: float = Field(5.0, gt=0)
    spool: bool = Field(
        True,
        description=(
            "Keep each line on disk (log-spool/ in the data directory) until logging-service "
            "acknowledges it, so that a crash of the service loses none."
        ),
    )
    log_probes: bool = Field(
        False,
        description=(
            "Also log (and ship) the requests of the system's own probes: /health and /metrics, "
            "asked every few seconds by the dashboard, Prometheus and the healthchecks. Off, "
            "log-channel shows what users did."
        ),
    )


class DashboardSettings(ServiceSettings):
    """dashboard: statistics, event-log counts and service health in the browser."""

    port: int = Field(8130, ge=1, le=65535)
    refresh_seconds: float = Field(
        3.0, gt=0, description="How often the page and the backend refresh."
    )
    request_timeout_s: float = Field(
        1.5,
        gt=0,
        description=(
            "Each service gets this long to answer; a slow one shows as down, the rest still show."
        ),
    )
    history_points: int = Field(
        200, ge=2, description="Points kept for the events-over-time chart."
    )


class EmbeddedSettings(_Section):
    """The embedded PostgreSQL and broker that ``merchstore up`` starts for local use."""

    broker: Literal["embedded", "kafka"] = Field(
        "embedded",
        description=(
            "The broker `merchstore up` runs when MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS is unset: "
            "`embedded` (tansu from PyPI, memory only) or `kafka` (Apache Kafka in KRaft mode, "
            "one node on Java 17+, its log under the data directory: topics and messages survive "
            "a restart). `merchstore up --broker kafka` sets it."
        ),
    )
    kafka_host: str = "127.0.0.1"
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(
        9093, ge=1, le=65535, description="`broker: kafka` only: its KRaft controller listener."
    )


class SupervisorSettings(_Section):
    """How ``merchstore up`` supervises the service processes."""

    start_timeout_s: float = Field(
        60.0,
        gt=0,
        description="How long `merchstore up` waits for each service to answer its health check.",
    )
    stop_timeout_s: int = Field(
        10,
        ge=1,
        description="After SIGTERM, how long a service may take to stop before it is killed.",
    )
    start_retries: int = Field(
        5, ge=0, description="How many quick failures in a row before a service is given up on."
    )


class PrometheusSettings(_Section):
    """The Prometheus ``merchstore up --prometheus`` runs (when the binary is installed)."""

    host: str = Field(
        "127.0.0.1",
        description=(
            "Where `merchstore up --prometheus` serves Prometheus, and how often it scrapes."
        ),
    )
    port: int = Field(9090, ge=1, le=65535)
    scrape_interval_s: float = Field(5.0, gt=0, le=300)


class Settings(BaseSettings):
    """Every setting of merchstore; each service reads the sections it needs."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="forbid",
    )

    environment: Literal["local", "production"] = Field(
        "local",
        description=(
            '"local" makes a random JWT secret per data directory; anything else needs '
            "MERCHSTORE_JWT_SECRET of 32 bytes or more."
        ),
    )
    data_dir: Path = Field(
        Path(".merchstore"),
        description=(
            "Where embedded PostgreSQL, service databases and log files live (MERCHSTORE_DATA_DIR)."
        ),
    )
    kafka_bootstrap_servers: str | None = Field(
        None,
        description=(
            "Unset: `merchstore up` starts the embedded broker "
            "(MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS)."
        ),
    )
    database_url: SecretStr | None = Field(
        None,
        description=(
            "Unset: `merchstore up` starts the embedded PostgreSQL (MERCHSTORE_DATABASE_URL)."
        ),
    )
    # Unset: locally, a random secret kept in the data directory; elsewhere a start-up error.
    jwt_secret: SecretStr | None = None
    logging_config_file: Path | None = Field(
        None, description="Unset: the packaged config/logging.yaml."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    kafka: KafkaSettings = KafkaSettings()
    http: HttpSettings = HttpSettings()
    topics: TopicSettings = TopicSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    event_logger: EventLoggerSettings = EventLoggerSettings()
    receiver: ReceiverSettings = ReceiverSettings()
    storage: StorageSettings = StorageSettings()
    processor: ProcessorSettings = ProcessorSettings()
    db_service: DbServiceSettings = DbServiceSettings()
    store_api: StoreApiSettings = StoreApiSettings()
    dashboard: DashboardSettings = DashboardSettings()
    logging_service: LoggingServiceSettings = LoggingServiceSettings()
    log_shipping: LogShippingSettings = LogShippingSettings()

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        if self.jwt_secret is None:
            return self  # only store-api signs tokens: `signing_secret` decides there
        secret = self.jwt_secret.get_secret_value()
        if secret in EXAMPLE_SECRETS:
            raise ValueError(
                "jwt_secret is an example value published in the repository; set "
                "MERCHSTORE_JWT_SECRET to a random string "
                '(python3 -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        if self.environment != "local" and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"jwt_secret is shorter than {MIN_SECRET_BYTES} bytes; set MERCHSTORE_JWT_SECRET "
                "to a long random string"
            )
        return self

    def signing_secret(self) -> str:
        """The JWT signing secret: the configured one, or locally the data directory's own.

        A local system started without a secret gets a random one, made once per data
        directory (file mode 0600), so no token signed with a published string is accepted.
        """
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if self.environment != "local":
            raise ConfigError(
                "jwt_secret is not set: outside local development set MERCHSTORE_JWT_SECRET "
                f"or the secret file merchstore_jwt_secret (at least {MIN_SECRET_BYTES} random "
                "bytes)"
            )
        return data_dir_secret(self.data_path(JWT_SECRET_FILE))

    @property
    def bootstrap_servers(self) -> str:
        """The Kafka bootstrap servers; only ``merchstore up`` may run without them."""
        if not self.kafka_bootstrap_servers:
            raise ConfigError(
                "kafka_bootstrap_servers is not set: run the service through `merchstore up` "
                "or set MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS"
            )
        return self.kafka_bootstrap_servers

    def broker_of_running_system(self) -> str:
        """The configured broker, or the one a `merchstore up` on this data directory uses.

        Lets operator tools (the tails) find the broker with no setting at all.
        """
        if self.kafka_bootstrap_servers:
            return self.kafka_bootstrap_servers
        try:
            address = self.data_path(BROKER_ADDRESS_FILE).read_text().strip()
        except OSError:
            address = ""
        if not address:
            raise ConfigError(
                f"no broker: no `merchstore up` is running on {self.data_dir.resolve()} "
                "(start one, pass --data-dir, or set MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS)"
            )
        return address

    @property
    def database_dsn(self) -> str:
        """The PostgreSQL URL; only ``merchstore up`` may run without it."""
        if self.database_url is None:
            raise ConfigError(
                "database_url is not set: run the service through `merchstore up` "
                "or set MERCHSTORE_DATABASE_URL"
            )
        return self.database_url.get_secret_value()

    @property
    def db_service_target(self) -> str:
        """Where store-api finds db-service (gRPC target)."""
        return self.store_api.db_service_target or f"{self.db_service.host}:{self.db_service.port}"

    @property
    def storage_base_url(self) -> str:
        """Where the processor finds storage."""
        return self.processor.storage_url or f"http://{self.storage.host}:{self.storage.port}"

    def data_path(self, relative: str | Path) -> Path:
        """A path under the data directory (absolute paths are returned unchanged)."""
        path = Path(relative)
        return path if path.is_absolute() else self.data_dir.resolve() / path

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then environment, then the user's YAML, then packaged YAML."""
        yaml_files = [default_config_file()]
        user_file = os.environ.get(CONFIG_FILE_ENV)
        if user_file:
            yaml_files.append(Path(user_file))
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=yaml_files)
        # Secret files (``merchstore_jwt_secret``, ...) as container runtimes mount them.
        folder = secrets_dir()
        secret_files = SecretsSettingsSource(settings_cls, secrets_dir=folder)
        sources = [init_settings, env_settings]
        if folder.is_dir():
            sources.append(secret_files)
        return (*sources, yaml_source)


def data_dir_secret(path: Path) -> str:
    """The secret kept in ``path``, made (random, mode 0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(48)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret)
    try:
        # A hard link appears whole or not at all: services starting at once agree on one.
        os.link(draft, path)
    except FileExistsError:
        secret = path.read_text().strip()
    finally:
        draft.unlink()
    return secret


DEFAULTS_HEADER = """\
# merchstore application configuration: every default, in one place.
# Generated from the settings in merchstore/common/config.py, which hold the defaults:
#     merchstore config-defaults > src/merchstore/config/merchstore.yaml
# (a test fails while this file and the code disagree).
# Override any key with an environment variable: MERCHSTORE_<KEY>, nested keys joined by "__",
# e.g. MERCHSTORE_EVENT_LOGGER__PORT=9120, or with your own YAML file named by
# MERCHSTORE_CONFIG_FILE (it only needs the keys it changes).
"""
_NOT_IN_DEFAULTS = frozenset({"jwt_secret"})  # a secret has no default worth printing


def render_default_config() -> str:
    """The packaged ``merchstore.yaml``: every key with its default and what it is for."""
    top, sections = [], []
    for name, field in Settings.model_fields.items():
        if name in _NOT_IN_DEFAULTS:
            continue
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            summary = (section.__doc__ or "").strip().replace("``", "`")
            lines = ["", f"# {summary}", f"{name}:"]
            for key, inner in section.model_fields.items():
                lines += _default_lines(key, inner, "  ")
            sections += lines
        else:
            top += _default_lines(name, field, "")
    return DEFAULTS_HEADER + "\n" + "\n".join(top + sections) + "\n"


def _default_lines(key: str, field: Any, indent: str) -> list[str]:
    lines = []
    if field.description:
        for line in textwrap.wrap(field.description, 96 - len(indent)):
            lines.append(f"{indent}# {line}")
    value = (
        field.default.get_secret_value() if isinstance(field.default, SecretStr) else field.default
    )
    if isinstance(value, Path):
        value = str(value)
    rendered = yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()
    lines.append(f"{indent}{key}: {rendered}")
    return lines


def default_config_file() -> Path:
    """The packaged YAML file with every default, documented."""
    return Path(str(resources.files("merchstore") / "config" / "merchstore.yaml"))


def default_logging_config_file() -> Path:
    """The packaged YAML logging configuration (``logging.config.dictConfig`` format)."""
    return Path(str(resources.files("merchstore") / "config" / "logging.yaml"))


def _key_env_name(location: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in location)


def describe_validation_error(error: ValidationError) -> str:
    """Turn a pydantic error into lines that name each bad key, its value and how to set it."""
    lines = ["invalid configuration:"]
    for item in error.errors():
        location = tuple(item["loc"])
        key = ".".join(str(part) for part in location) or "(settings)"
        value = item.get("input")
        shown = "" if isinstance(value, dict) or location == () else f" (got {value!r})"
        lines.append(f"  {key}: {item['msg']}{shown}")
        if location:
            lines.append(f"    set it in the YAML file or with {_key_env_name(location)}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Load and validate the configuration, raising `ConfigError` with a readable message."""
    user_file = os.environ.get(CONFIG_FILE_ENV)
    if user_file and not Path(user_file).is_file():
        raise ConfigError(f"{CONFIG_FILE_ENV} names {user_file}, which is not a file")
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
    except SettingsError as error:
        raise ConfigError(describe_settings_error(error)) from None


def describe_settings_error(error: SettingsError) -> str:
    """One line for a setting no source could read: most often a secret file not readable."""
    cause = error.__cause__
    field = re.search(r'field "(\w+)"', str(error))
    if isinstance(cause, OSError) and field is not None:
        path = secrets_dir() / f"{ENV_PREFIX.lower()}{field.group(1)}"
        return (
            f"cannot read the secret file {path} ({cause.strerror or cause}): this process runs "
            f"as uid {os.getuid()}, which must be able to read it (`merchstore compose-secrets` "
            "makes the files readable in a private folder)"
        )
    return f"cannot read the configuration: {error}" + (f" ({cause})" if cause else "")
