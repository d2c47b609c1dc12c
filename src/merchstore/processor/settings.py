"""processor's own settings: the ``processor:`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from merchstore.common.config.sections import ServiceSettings


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
