"""Serving an HTTP service: its parts started in the application's lifespan, uvicorn around it.

:func:`serve_http` owns what every HTTP service does alike, as :func:`~.grpc.serve_grpc` does
for the gRPC ones: the broker check, the producer, the start announcement on ``event_log``,
readiness and a graceful stop. A service's ``main.py`` only says how its parts start and stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp
from uvicorn.server import HANDLED_SIGNALS

from merchstore.common.config.base import CommonSettings
from merchstore.common.config.sections import HttpSettings, ServiceSettings
from merchstore.common.http.tracing import traced
from merchstore.common.kafka.clients import check_broker
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.messages import START_ANNOUNCEMENTS
from merchstore.common.serving.health import ReadinessCheck
from merchstore.common.serving.readiness import Readiness, announce_start, tune_garbage_collector
from merchstore.common.serving.signals import STOP_SIGNALS

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class AppFactory(Protocol):
    """A service's ``create_app``: its routes, answering ``/health`` from ``is_ready``."""

    def __call__(self, is_ready: ReadinessCheck, *, lifespan: Lifespan) -> FastAPI:
        """The application, whose ``lifespan`` starts and stops the service's parts."""
        ...


@dataclass
class ServiceContext:
    """What the lifecycle gives a service's parts as they start."""

    readiness: Readiness
    """Ready once the parts started and the start is announced; `Readiness.watch` adds a check."""
    producer_or_none: KafkaProducer | None
    """The service's producer, when it publishes (see `producer`)."""
    on_ready: list[Callable[[], None]] = field(default_factory=list)

    def when_ready(self, begin: Callable[[], None]) -> None:
        """Call ``begin`` once the start is announced (work that must not come before it)."""
        self.on_ready.append(begin)

    @property
    def producer(self) -> KafkaProducer:
        """The service's producer; it announced the start, and is closed after the parts."""
        if self.producer_or_none is None:
            raise RuntimeError("this service was served without a producer")
        return self.producer_or_none


StartParts = Callable[[ServiceContext], AbstractAsyncContextManager[object]]
"""Starts a service's parts, yields the parts its routes use, stops them when left."""


def serve_http(
    settings: CommonSettings,
    service: str,
    endpoint: ServiceSettings,
    create_app: AppFactory,
    start_parts: StartParts,
    *,
    waiting_for: str,
    uses_kafka: bool = True,
    producer_settings: Mapping[str, Any] | None = None,
) -> None:
    """Serve ``service`` until a stop signal, then stop its parts and exit 0.

    Before serving, the broker must answer (``uses_kafka``). In the application's lifespan a
    producer is made (when the service announces its start or gives ``producer_settings``),
    the parts start and are kept as ``app.state.parts`` for the routes, the start is announced,
    and only then is the service ready; on the way out it is unready first, then the parts stop,
    then the producer flushes.
    """
    if uses_kafka:
        check_broker(settings, report_topics=True)
    readiness = Readiness(waiting_for)
    publishes = service in START_ANNOUNCEMENTS or producer_settings is not None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = (
            KafkaProducer(settings, client_id=service, **(producer_settings or {}))
            if publishes
            else None
        )
        try:
            context = ServiceContext(readiness, producer)
            async with start_parts(context) as parts:
                app.state.parts = parts
                if producer is not None:
                    await announce_start(settings, service, producer)
                for begin in context.on_ready:
                    begin()
                readiness.set()
                log.info("ready on %s:%d", endpoint.host, endpoint.port)
                yield
                readiness.clear()
        finally:
            if producer is not None:
                await asyncio.to_thread(producer.close, 5.0)

    app = create_app(readiness, lifespan=lifespan)
    run_uvicorn(traced(app), endpoint, settings.http)


def run_uvicorn(app: ASGIApp, endpoint: ServiceSettings, http: HttpSettings) -> None:
    """Serve ``app`` until a stop signal, then shut down gracefully and exit 0.

    The application's lifespan starts and stops the service's parts. uvicorn re-raises the
    signal it caught once it has shut down, so the previous handler decides the exit status; a
    no-op handler makes a graceful stop exit 0, as supervisors and container runtimes expect.
    """
    for stop_signal in HANDLED_SIGNALS:
        signal.signal(stop_signal, lambda signum, frame: None)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=endpoint.host,
            port=endpoint.port,
            log_config=None,
            # Requests are logged by the services that want it (store-api's request log);
            # uvicorn's own access log, silenced in logging.yaml, would still build each line.
            access_log=False,
            timeout_keep_alive=int(http.keep_alive_s),
        )
    )
    # uvicorn stops on its own signals only; the others are handed over to it as a SIGTERM.
    for stop_signal in set(STOP_SIGNALS) - set(HANDLED_SIGNALS):
        signal.signal(stop_signal, lambda signum, frame: server.handle_exit(signal.SIGTERM, frame))
    tune_garbage_collector()
    server.run()
    if not server.started:
        # uvicorn could not bind or start the application; it has logged why.
        sys.exit(1)
