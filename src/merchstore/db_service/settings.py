"""db-service's own settings: the ``db_service:`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from merchstore.common.config.sections import GrpcServiceSettings


class DbServiceSettings(GrpcServiceSettings):
    """db-service: store data access over gRPC, PostgreSQL behind a connection pool."""

    port: int = Field(50051, ge=1, le=65535)
    allowed_clients: list[str] = Field(
        ["store-api"],
        description=(
            "With grpc_tls on: the common names of the certificates that may call StoreData; "
            "another certificate of the CA is refused (PERMISSION_DENIED)."
        ),
    )
    # A store request holds a few short texts: nothing near the 4 MiB gRPC takes by default.
    max_message_bytes: int = Field(64 * 1024, ge=1024)
    housekeeping_interval_s: float = Field(
        60.0,
        gt=0,
        description=(
            "Login failures past their minute and Idempotency-Keys past their 24 hours are "
            "deleted this often."
        ),
    )
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
