"""Entry point of logging-service: gRPC server, Kafka producer, spill buffer and its drain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.serving.grpc import GrpcContext, serve_grpc
from merchstore.logging_service.adapters import SpillBuffer
from merchstore.logging_service.api import SERVICE_NAME, LogCollectorServicer
from merchstore.logging_service.use_cases import LogPublisher
from merchstore.protos import logging_pb2_grpc
from merchstore.settings import Settings

log = logging.getLogger(__name__)


def publishing_producer_settings(settings: Settings) -> dict[str, Any]:
    """How the producer of the streams' lines batches (the benchmark's reference uses it too)."""
    config = settings.logging_service
    return {
        "linger.ms": config.linger_ms,
        # A request goes as soon as it is this full, whatever linger.ms says: a busy stream,
        # whose lines are settled a thousand at a time, never waits for the linger.
        "batch.num.messages": max(config.settle_every // 2, 1),
    }


@dataclass(frozen=True)
class StopBudget:
    """How long a stop may take in all, and the open streams' share of it."""

    budget_s: float
    grace_s: float

    @classmethod
    def within(cls, stop_timeout_s: float) -> StopBudget:
        """A budget a second short of the supervisor's (and Compose's) time before SIGKILL."""
        budget_s = max(stop_timeout_s - 1.0, 1.0)
        return cls(budget_s, budget_s * 0.3)


def run(settings: Settings) -> None:
    """Serve logging-service until SIGTERM or Ctrl-C; then finish streams, drain the spill."""
    config = settings.logging_service
    stop = StopBudget.within(settings.supervisor.stop_timeout_s)

    @asynccontextmanager
    async def start(context: GrpcContext) -> AsyncIterator[None]:
        # The drain's messages are safe on disk: on Apache Kafka it waits for the broker as long
        # as it takes rather than time a message out that may have been written (0: no limit).
        drain_producer = KafkaProducer(
            settings,
            client_id="logging-service-drain",
            **{"message.timeout.ms": config.drain_delivery_timeout_ms},
        )
        spill = SpillBuffer(settings.data_path(config.spill_file), config.spill_max_bytes)
        publisher = LogPublisher(
            context.producer,
            settings.topics.log_channel,
            spill,
            config.drain_batch_size,
            drain_producer=drain_producer,
        )
        if len(spill):
            log.info("%d message(s) spilled before the last stop will be sent", len(spill))
            publisher.draining.set()
        servicer = LogCollectorServicer(publisher, config.settle_every)
        logging_pb2_grpc.add_LogCollectorServicer_to_server(servicer, context.server)
        drain = asyncio.create_task(publisher.drain_forever())
        log.info("publishing to %s", settings.topics.log_channel)
        try:
            yield
        finally:
            # What is left of the stop's time after the streams' grace, in shares that add
            # up to less than it: the supervisor's SIGKILL never comes first.
            left_s = stop.budget_s - stop.grace_s
            await publisher.finish(
                drain,
                min(config.shutdown_drain_s, left_s * 0.5),
                abandon_wait_s=left_s * 0.2,
            )
            # The streams' last lines are acknowledged (or spilled) before the spill closes.
            await asyncio.to_thread(context.producer.flush, left_s * 0.15)
            await asyncio.to_thread(drain_producer.close, left_s * 0.05)
            spill.close()

    serve_grpc(
        settings,
        "logging-service",
        config,
        start,
        service_names=[SERVICE_NAME],
        # Open streams get this long to end and receive their summaries.
        grace_period_s=stop.grace_s,
        producer_settings=publishing_producer_settings(settings),
        producer_close_s=(stop.budget_s - stop.grace_s) * 0.05,
    )
