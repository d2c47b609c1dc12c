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


YOUNG_COLLECTION_THRESHOLD = 20_000
"""Objects allocated (net of those freed) before the collector scans the young generation.

Python's default, 700, is crossed by the objects of a few dozen requests in flight alone: a busy
service ran a young collection every six requests and a full one every second or so, each
scanning the requests still waiting on I/O and the spans waiting for export, about a tenth of
its CPU (the receiver at 32 clients: 23 us of its 350 us per request, 35 us with a tenth of its
traces recorded). Nearly everything a request makes is freed by reference counting when it
ends, so a higher threshold is seldom reached: the scans all but stop, and what cycles there
are (a few megabytes at most) are still collected."""


def tune_garbage_collector() -> None:
    """Leave the start-up heap out of later scans, and scan the young objects less often.

    A service builds most of its heap at start-up (modules, the application, its models) and
    keeps it to the end. The cyclic collector would scan it again at every full collection, and
    a busy asynchronous service runs those often: the objects of requests in flight outlive the
    young generations while they wait on I/O, so the old one keeps growing. Measured on the
    receiver at 32 clients, the collector's scans were over a quarter of its CPU time per request.
    Garbage made so far is collected first, so none of it is kept for good. Then the young
    generation is scanned only past `YOUNG_COLLECTION_THRESHOLD`.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
