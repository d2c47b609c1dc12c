"""storage's own settings: the ``storage:`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from merchstore.common.config.sections import ServiceSettings


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
