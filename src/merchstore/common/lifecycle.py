"""One lifecycle for every service: serve, announce the start, be ready, stop on a signal.

Each ``main.py`` wires its parts and hands them to :func:`serve_http` or :func:`serve_grpc`.
Those bind the port, announce the start on ``event_log`` with the service's code and text
(:data:`~merchstore.common.messages.START_ANNOUNCEMENTS`), report ready only after that, and on
SIGTERM, Ctrl-C or a closed terminal (SIGHUP) stop taking work, let what is in flight finish
and exit 0. Signal handling lives here and nowhere else.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from types import FrameType

import grpc
import uvicorn
from fastapi import FastAPI
from uvicorn.server import HANDLED_SIGNALS

from merchstore.common.config.base import CommonSettings
from merchstore.common.config.sections import HttpSettings, ServiceSettings
from merchstore.common.grpc_serving import grpc_server
from merchstore.common.health import ReadinessCheck, add_health_and_reflection, set_grpc_serving
from merchstore.common.kafka.event_log import EventLogPublisher
from merchstore.common.kafka.producer import KafkaProducer

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""What stops any merchstore process gracefully: SIGTERM, Ctrl-C, and SIGHUP, which a terminal
sends when its window closes. Left to its default, SIGHUP would end a service or
``merchstore up`` at once, without a graceful stop."""


class Readiness:
    """A service's readiness: not ready (saying why) until :meth:`set`, then what ``then`` says.

    ``then`` reports trouble found after the start, such as a consumer that stopped making
    progress; it is asked only once the service has started.
    """

    def __init__(self, waiting_for: str, then: ReadinessCheck | None = None) -> None:
        self._waiting_for = waiting_for
        self._then = then
        self._ready = False

    def set(self) -> None:
        """The service has started and announced it."""
        self._ready = True

    def clear(self) -> None:
        """The service is stopping."""
        self._ready = False
        self._waiting_for = "stopping"

    def __call__(self) -> str | None:
        """None when ready, otherwise why not (a :data:`ReadinessCheck`)."""
        if not self._ready:
            return self._waiting_for
        return self._then() if self._then is not None else None


async def announce_start(settings: CommonSettings, service: str, producer: KafkaProducer) -> None:
    """Publish ``service``'s start code on ``event_log`` and wait for the broker's ack."""
    await EventLogPublisher(producer, settings.topics.event_log, service).announce_start()


def freeze_startup_objects() -> None:
    """Leave every object built so far out of the garbage collector's future scans.

    A service builds most of its heap at start-up (modules, the application, its models) and
    keeps it to the end. The cyclic collector would scan it again at every full collection, and
    a busy asynchronous service runs those often: the objects of requests in flight outlive the
    young generations while they wait on I/O, so the old one keeps growing. Measured on the
    receiver at 32 clients, the collector's scans were over a quarter of its CPU time per request.
    Garbage made so far is collected first, so none of it is kept for good.
    """
    gc.collect()
    gc.freeze()


def serve_http(app: FastAPI, endpoint: ServiceSettings, http: HttpSettings) -> None:
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
    freeze_startup_objects()
    server.run()
    if not server.started:
        # uvicorn could not bind or start the application; it has logged why.
        sys.exit(1)


GrpcParts = Callable[[grpc.aio.Server], AbstractAsyncContextManager[None]]
"""Registers a service's servicers on the server and runs its background work while entered."""


def serve_grpc(
    settings: CommonSettings,
    service: str,
    endpoint: ServiceSettings,
    parts: GrpcParts,
    *,
    producer: KafkaProducer,
    service_names: Sequence[str],
    grace_period_s: float,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> None:
    """Serve a gRPC service until SIGTERM or Ctrl-C, then drain calls within the grace period.

    Health reports NOT_SERVING until the start is announced on ``event_log``, and again as
    soon as a stop is asked for; ``parts`` is left only after the server stopped.
    """

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stop_signal in STOP_SIGNALS:
            loop.add_signal_handler(stop_signal, stop.set)
        async with grpc_server(endpoint.host, endpoint.port, interceptors) as server:
            health = await add_health_and_reflection(server, service_names)
            async with parts(server):
                await server.start()
                await announce_start(settings, service, producer)
                await set_grpc_serving(health, service_names, True)
                log.info("ready on %s:%d", endpoint.host, endpoint.port)
                await stop.wait()
                log.info("stopping: draining calls for up to %.1f s", grace_period_s)
                await set_grpc_serving(health, service_names, False)
                await server.stop(grace_period_s)

    freeze_startup_objects()
    asyncio.run(serve())


class StopRequested(Exception):
    """A stop signal arrived while the work under way had to be abandoned at once."""


@contextmanager
def stop_requests(interrupting: Callable[[], bool] = lambda: False) -> Iterator[threading.Event]:
    """While entered, a stop signal sets the event yielded; the old handlers come back after.

    For whatever runs until stopped in the foreground: ``merchstore up`` and the tails. The
    signals are :data:`STOP_SIGNALS`.

    While ``interrupting()`` is true (a long start, say), the signal also raises
    :class:`StopRequested` in the main thread, so the work under way is abandoned at once.
    """
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if interrupting():
            raise StopRequested

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
