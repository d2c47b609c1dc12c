"""event-logger's own settings: the ``event_logger:`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from merchstore.common.config.sections import ServiceSettings


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
