"""Entry point of logging-service: gRPC server, Kafka producer, spill buffer and its drain."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from merchstore.common.config import Settings
from merchstore.common.event_log import EventLogPublisher
from merchstore.common.grpc_serving import grpc_server
from merchstore.common.health import add_health_and_reflection, set_grpc_serving
from merchstore.common.kafka import KafkaProducer, check_broker
from merchstore.logging_service.grpc_api import SERVICE_NAME, LogCollectorServicer
from merchstore.logging_service.publisher import LogPublisher
from merchstore.logging_service.spill import SpillBuffer
from merchstore.protos import logging_pb2_grpc

log = logging.getLogger(__name__)

READY_MESSAGE = "logging-service ready (code 0007)"


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or Ctrl-C; then finish streams and drain the spill buffer."""
    config = settings.logging_service
    spill = SpillBuffer(settings.data_path(config.spill_file), config.spill_max_bytes)
    producer = KafkaProducer(settings, client_id="logging-service")
    publisher = LogPublisher(producer, settings.topics.log_channel, spill, config.drain_batch_size)
    if len(spill):
        log.info("%d message(s) spilled before the last stop will be sent", len(spill))
        publisher.draining.set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, stop.set)

    async with grpc_server(config.host, config.port) as server:
        servicer = LogCollectorServicer(publisher, config.settle_every)
        logging_pb2_grpc.add_LogCollectorServicer_to_server(servicer, server)
        health = await add_health_and_reflection(server, [SERVICE_NAME])
        await server.start()
        drain = asyncio.create_task(publisher.drain_forever())
        await EventLogPublisher(
            producer, settings.topics.event_log, "logging-service"
        ).publish_async("0007", READY_MESSAGE)
        await set_grpc_serving(health, [SERVICE_NAME], True)
        log.info(
            "ready on %s:%d, publishing to %s",
            config.host,
            config.port,
            settings.topics.log_channel,
        )
        await stop.wait()
        await set_grpc_serving(health, [SERVICE_NAME], False)
        # Open streams get the grace period to end and receive their summaries.
        await server.stop(settings.supervisor.stop_timeout_s / 2)
        drain.cancel()
        with suppress(asyncio.CancelledError):
            await drain
    await publisher.drain_until_empty(config.shutdown_drain_s)
    await asyncio.to_thread(producer.close, 5.0)
    spill.close()


def run(settings: Settings) -> None:
    """Serve logging-service until SIGTERM or Ctrl-C."""
    check_broker(settings)
    asyncio.run(serve(settings))
