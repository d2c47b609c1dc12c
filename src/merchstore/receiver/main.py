"""Entry point of the receiver: its events publisher, served by the shared lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from merchstore.common.serving.http import ServiceContext, serve_http
from merchstore.receiver.adapters import KafkaEventPublisher
from merchstore.receiver.api import Parts, create_app
from merchstore.receiver.use_cases import PlayerActions
from merchstore.settings import Settings


def run(settings: Settings) -> None:
    """Serve the receiver until SIGTERM or Ctrl-C; it is ready once 0001 is on ``event_log``."""

    @asynccontextmanager
    async def start(context: ServiceContext) -> AsyncIterator[Parts]:
        publisher = KafkaEventPublisher(context.producer, settings.topics.events)
        yield Parts(actions=PlayerActions(publisher))

    serve_http(
        settings,
        "receiver",
        settings.receiver,
        create_app,
        start,
        waiting_for="connecting to Kafka",
        # A delivery report arrives within the answer timeout (a 503 may still have been
        # written: the Idempotency-Key makes its retry the same event).
        producer_settings={
            "message.timeout.ms": settings.receiver.publish_timeout_ms,
            "linger.ms": settings.receiver.linger_ms,
        },
    )
