"""Configuration sections shared by every service, and the base of every section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """Base of every configuration section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ServiceSettings(Section):
    """Where a service listens."""

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class GrpcServiceSettings(ServiceSettings):
    """Where a gRPC service listens, and what one client may make it hold."""

    max_message_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description=(
            "The largest request message taken; a larger one is refused (RESOURCE_EXHAUSTED) "
            "before it is read whole."
        ),
    )
    max_concurrent_rpcs: int = Field(
        256,
        ge=1,
        description="Calls served at once; one more is refused (RESOURCE_EXHAUSTED), not queued.",
    )
    allowed_clients: list[str] = Field(
        [],
        description=(
            "With grpc_tls on: the common names of the certificates that may call this service's "
            "own methods; another certificate of the CA is refused (PERMISSION_DENIED). Health "
            "checks and reflection take any certificate of the CA."
        ),
    )


class HttpSettings(Section):
    """How every HTTP service serves its clients."""

    keep_alive_s: float = Field(
        75.0,
        ge=1,
        description=(
            "Idle keep-alive connections stay open this long (at least 60 s, so clients may reuse "
            "them)."
        ),
    )


class TopicSettings(Section):
    """Topic names and partition counts (names are configurable so tests can isolate topics)."""

    events: str = "events"
    event_log: str = "event_log"
    log_channel: str = "log-channel"
    events_partitions: int = Field(3, ge=1)
    log_channel_partitions: int = Field(1, ge=1)


class LogShippingSettings(Section):
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


class EmbeddedSettings(Section):
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


class SupervisorSettings(Section):
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


class PrometheusSettings(Section):
    """The Prometheus ``merchstore up --prometheus`` runs (when the binary is installed)."""

    host: str = Field(
        "127.0.0.1",
        description=(
            "Where `merchstore up --prometheus` serves Prometheus, and how often it scrapes."
        ),
    )
    port: int = Field(9090, ge=1, le=65535)
    scrape_interval_s: float = Field(5.0, gt=0, le=300)


class TracingSettings(Section):
    """The trace backend `merchstore up --tracing` runs, and where the dashboard links to."""

    sample_ratio: float = Field(
        0.05,
        ge=0,
        le=1,
        description=(
            "Under `up --tracing` (unless OTEL_TRACES_SAMPLER is set): the share of new traces "
            "recorded; a client's traceparent decides for its own (parent-based)."
        ),
    )
    backend_host: str = Field(
        "127.0.0.1",
        description="Where `merchstore up --tracing` serves its trace backend (Zipkin) and UI.",
    )
    backend_port: int = Field(9411, ge=1, le=65535)
    ui_url: str | None = Field(
        None,
        description=(
            "The trace backend's UI the dashboard links runs and orders to "
            "(`up --tracing` sets it; unset: no links)."
        ),
    )
