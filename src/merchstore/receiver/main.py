"""Entry point of the receiver: Kafka producer, event_log announcement, HTTP API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from merchstore.common.kafka.clients import check_broker
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.lifecycle import Readiness, announce_start, serve_http
from merchstore.common.messages import DomainEvent
from merchstore.receiver.api import create_app
from merchstore.settings import Settings

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    """The receiver application; it is ready once 0001 is on ``event_log``."""
    timeout_ms = settings.receiver.publish_timeout_ms
    # A delivery report arrives within the answer timeout (a 503 may still have been written:
    # the Idempotency-Key makes its retry the same event).
    producer_overrides = {
        "message.timeout.ms": timeout_ms,
        "linger.ms": settings.receiver.linger_ms,
    }
    readiness = Readiness("connecting to Kafka")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = KafkaProducer(settings, client_id="receiver", **producer_overrides)

        async def publish(event: DomainEvent) -> None:
            # The answer comes within message.timeout.ms (set to the publish timeout above), so
            # no timer of our own per request: that would cost more than the rest of the handler.
            await producer.send_async(settings.topics.events, event.to_json(), key=event.user_id)

        app.state.publish = publish
        await announce_start(settings, "receiver", producer)
        readiness.set()
        log.info("ready: publishing to %s", settings.topics.events)
        yield
        readiness.clear()
        await asyncio.to_thread(producer.close, 5.0)

    return create_app(readiness, lifespan=lifespan)


def run(settings: Settings) -> None:
    """Serve the receiver until SIGTERM or Ctrl-C."""
    check_broker(settings, report_topics=True)
    serve_http(build_app(settings), settings.receiver, settings.http)
