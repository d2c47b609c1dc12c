"""logging-service's own settings: the ``logging_service:`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from merchstore.common.config.sections import GrpcServiceSettings


class LoggingServiceSettings(GrpcServiceSettings):
    """logging-service: operation logs over gRPC, published to ``log-channel``."""

    port: int = Field(50052, ge=1, le=65535)
    allowed_clients: list[str] = Field(
        ["store-api", "db-service"],
        description=(
            "With grpc_tls on: the common names of the certificates that may ship log lines; "
            "another certificate of the CA is refused (PERMISSION_DENIED)."
        ),
    )
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
