"""Entry point of db-service: pool, migrations, gRPC server with health, outbox relay."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from merchstore.common.config import Settings
from merchstore.common.event_log import EventLogPublisher
from merchstore.common.grpc_serving import grpc_server
from merchstore.common.health import add_health_and_reflection, set_grpc_serving
from merchstore.common.kafka import KafkaProducer, check_broker
from merchstore.common.log_shipping import ship_logs, stop_shipping_logs
from merchstore.common.postgres import apply_migrations, open_async_pool
from merchstore.common.request_logging import RpcLogging
from merchstore.db_service.grpc_api import SERVICE_NAME, StoreDataServicer
from merchstore.db_service.outbox import OutboxRelay
from merchstore.db_service.passwords import PasswordWork
from merchstore.db_service.repository import NewConnectionEachTime, StoreRepository
from merchstore.protos import store_pb2_grpc

log = logging.getLogger(__name__)

READY_MESSAGE = "db-service ready (code 0006)"


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or Ctrl-C, then drain calls within the grace period."""
    config = settings.db_service
    url = settings.database_dsn
    await asyncio.to_thread(_migrate, url)
    pool: AsyncConnectionPool[Any] = await open_async_pool(
        url, name="db-service", min_size=config.pool_min_size, max_size=config.pool_max_size
    )
    repository = StoreRepository(
        NewConnectionEachTime(url) if config.per_request_connections else pool,
        PasswordWork(config.max_concurrent_hashes, config.max_waiting_hashes),
    )
    producer = KafkaProducer(settings, client_id="db-service")
    relay = OutboxRelay(
        pool,
        producer,
        settings.topics.events,
        poll_interval_s=config.outbox_poll_interval_s,
        batch_size=config.outbox_batch_size,
        lease_s=config.outbox_lease_s,
        retention_s=config.outbox_retention_s,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, stop.set)

    shipping = ship_logs(settings, "db-service")
    interceptors = [RpcLogging("merchstore.db_service.rpc")]
    async with grpc_server(config.host, config.port, interceptors) as server:
        store_pb2_grpc.add_StoreDataServicer_to_server(StoreDataServicer(repository), server)
        health = await add_health_and_reflection(server, [SERVICE_NAME])
        await server.start()
        relay_task = asyncio.create_task(relay.run(stop))
        await EventLogPublisher(producer, settings.topics.event_log, "db-service").publish_async(
            "0006", READY_MESSAGE
        )
        await set_grpc_serving(health, [SERVICE_NAME], True)
        log.info("ready on %s:%d", config.host, config.port)
        await stop.wait()
        log.info("stopping: draining calls for up to %.1f s", config.grace_period_s)
        await set_grpc_serving(health, [SERVICE_NAME], False)
        await server.stop(config.grace_period_s)
        await relay_task
    await asyncio.to_thread(producer.close, 5.0)
    await pool.close()
    await asyncio.to_thread(stop_shipping_logs, shipping, settings)
    log.info("stopped; outbox relay sent %d event(s)", relay.sent)


def _migrate(url: str) -> None:
    with psycopg.connect(url) as connection:
        apply_migrations(connection, "merchstore.db_service", "db-service")


def run(settings: Settings) -> None:
    """Serve db-service until SIGTERM or Ctrl-C."""
    check_broker(settings)
    asyncio.run(serve(settings))
