"""The registry of merchstore services: what ``merchstore up`` starts and ``serve`` runs."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal, Protocol, cast

from merchstore.common.config.sections import ServiceSettings
from merchstore.common.logs.setup import configure_logging
from merchstore.common.tracing import start_tracing, stop_tracing
from merchstore.settings import Settings


class _ServiceModule(Protocol):
    def run(self, settings: Settings) -> None: ...


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its name, the module whose ``run(settings)`` serves it, how it is probed."""

    name: str
    module: str
    protocol: Literal["http", "grpc"]

    @property
    def api_module(self) -> str:
        """The module whose ``create_app()`` is the HTTP API (routes, OpenAPI document)."""
        return self.module.rsplit(".", 1)[0] + ".api"

    @property
    def port_setting(self) -> str:
        """The environment variable that sets the service's port."""
        return f"MERCHSTORE_{self.name.replace('-', '_').upper()}__PORT"

    def endpoint(self, settings: Settings) -> ServiceSettings:
        """The service's section of the settings (host, port and its own keys)."""
        return cast(ServiceSettings, getattr(settings, self.name.replace("-", "_")))

    def url(self, settings: Settings) -> str:
        """Where the service answers."""
        endpoint = self.endpoint(settings)
        scheme = "http://" if self.protocol == "http" else "grpc://"
        return f"{scheme}{endpoint.host}:{endpoint.port}"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("event-logger", "merchstore.event_logger.main", "http"),
    ServiceSpec("logging-service", "merchstore.logging_service.main", "grpc"),
    ServiceSpec("db-service", "merchstore.db_service.main", "grpc"),
    ServiceSpec("store-api", "merchstore.store_api.main", "http"),
    ServiceSpec("storage", "merchstore.storage.main", "http"),
    ServiceSpec("receiver", "merchstore.receiver.main", "http"),
    ServiceSpec("processor", "merchstore.processor.main", "http"),
    ServiceSpec("dashboard", "merchstore.dashboard.main", "http"),
)
"""Every service, in the order `merchstore up` starts them; the one list of them."""


def find_service(name: str) -> ServiceSpec:
    """The service called ``name``; KeyError lists the known names."""
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown service {name!r}; known: {', '.join(s.name for s in SERVICES)}")


def serve(name: str, settings: Settings) -> None:
    """Run one service in this process until it is stopped."""
    spec = find_service(name)
    configure_logging(settings, spec.name)
    module = cast(_ServiceModule, importlib.import_module(spec.module))
    # Before the service opens anything: its database pool's connections are traced as made.
    tracing = start_tracing(spec.name)
    try:
        module.run(settings)
    finally:
        stop_tracing(tracing)
