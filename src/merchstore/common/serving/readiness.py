"""A service's readiness, its start announcement, and the heap it leaves to the end."""

from __future__ import annotations

import gc

from merchstore.common.config.base import CommonSettings
from merchstore.common.kafka.event_log import EventLogPublisher
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.serving.health import ReadinessCheck


class Readiness:
    """A service's readiness: not ready (saying why) until :meth:`set`, then what ``then`` says.

    ``then`` reports trouble found after the start, such as a consumer that stopped making
    progress; it is asked only once the service has started.
    """

    def __init__(self, waiting_for: str, then: ReadinessCheck | None = None) -> None:
        self._waiting_for = waiting_for
        self._then = then
        self._ready = False

    def watch(self, check: ReadinessCheck) -> None:
        """Once started, report what ``check`` says (a consumer that stopped making progress)."""
        self._then = check

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
