"""receiver's own settings: the ``receiver:`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from merchstore.common.config.sections import ServiceSettings


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
