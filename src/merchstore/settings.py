"""The whole system's settings: what every process shares, and each service's own section.

Each service keeps its section in its own ``settings.py``; this module puts them together and
knows where each service finds the others.
"""

from __future__ import annotations

from typing import Any

from merchstore.common.config.base import CommonSettings, load
from merchstore.common.config.defaults import render_defaults
from merchstore.dashboard.settings import DashboardSettings
from merchstore.db_service.settings import DbServiceSettings
from merchstore.event_logger.settings import EventLoggerSettings
from merchstore.logging_service.settings import LoggingServiceSettings
from merchstore.processor.settings import ProcessorSettings
from merchstore.receiver.settings import ReceiverSettings
from merchstore.storage.settings import StorageSettings
from merchstore.store_api.settings import StoreApiSettings


class Settings(CommonSettings):
    """Every setting of merchstore; each service reads the sections it needs."""

    event_logger: EventLoggerSettings = EventLoggerSettings()
    receiver: ReceiverSettings = ReceiverSettings()
    storage: StorageSettings = StorageSettings()
    processor: ProcessorSettings = ProcessorSettings()
    db_service: DbServiceSettings = DbServiceSettings()
    store_api: StoreApiSettings = StoreApiSettings()
    dashboard: DashboardSettings = DashboardSettings()
    logging_service: LoggingServiceSettings = LoggingServiceSettings()

    @property
    def db_service_target(self) -> str:
        """Where store-api finds db-service (gRPC target)."""
        return self.store_api.db_service_target or f"{self.db_service.host}:{self.db_service.port}"

    @property
    def storage_base_url(self) -> str:
        """Where the processor finds storage."""
        return self.processor.storage_url or f"http://{self.storage.host}:{self.storage.port}"

    @property
    def logging_service_target(self) -> str:
        """Where services ship their log lines (gRPC target)."""
        endpoint = self.logging_service
        return self.log_shipping.target or f"{endpoint.host}:{endpoint.port}"


def load_settings(**overrides: Any) -> Settings:
    """Load and validate the configuration, raising `ConfigError` with a readable message."""
    return load(Settings, **overrides)


def render_default_config() -> str:
    """The packaged ``merchstore.yaml``: every key with its default and what it is for."""
    return render_defaults(Settings)
