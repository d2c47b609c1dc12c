"""Entry point of db-service: pool, migrations, gRPC server with health, outbox relay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from merchstore.common.logs.requests import RpcLogging
from merchstore.common.logs.setup import ship_logs, stop_shipping_logs
from merchstore.common.postgres import apply_migrations, open_async_pool
from merchstore.common.serving.grpc import GrpcContext, serve_grpc
from merchstore.db_service.adapters.outbox import OutboxRelay
from merchstore.db_service.adapters.passwords import PasswordWork
from merchstore.db_service.adapters.repository import NewConnectionEachTime, PostgresStoreRepository
from merchstore.db_service.api import SERVICE_NAME, StoreDataServicer
from merchstore.db_service.use_cases import StoreService
from merchstore.protos import store_pb2_grpc
from merchstore.settings import Settings

log = logging.getLogger(__name__)


async def forget_expired_every(store: StoreService, interval_s: float) -> None:
    """Delete expired login failures and Idempotency-Keys every ``interval_s``, until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            forgotten = await store.forget_expired()
        except psycopg.Error as error:
            log.warning("could not delete expired rows (tried again later): %s", error)
            continue
        if forgotten:
            log.info("deleted %d expired login failure(s) and Idempotency-Key(s)", forgotten)


def run(settings: Settings) -> None:
    """Serve db-service until SIGTERM or Ctrl-C, then drain calls within the grace period."""
    config = settings.db_service
    url = settings.database_dsn
    _migrate(url)

    @asynccontextmanager
    async def start(context: GrpcContext) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[Any] = await open_async_pool(
            url, name="db-service", min_size=config.pool_min_size, max_size=config.pool_max_size
        )
        store = StoreService(
            PostgresStoreRepository(
                NewConnectionEachTime(url) if config.per_request_connections else pool
            ),
            PasswordWork(config.max_concurrent_hashes, config.max_waiting_hashes),
        )
        relay = OutboxRelay(
            pool,
            context.producer,
            settings.topics.events,
            poll_interval_s=config.outbox_poll_interval_s,
            batch_size=config.outbox_batch_size,
            lease_s=config.outbox_lease_s,
            retention_s=config.outbox_retention_s,
        )
        store_pb2_grpc.add_StoreDataServicer_to_server(StoreDataServicer(store), context.server)
        shipping = ship_logs(
            settings, "db-service", settings.db_service.port, settings.logging_service_target
        )
        stop_relay = asyncio.Event()
        relay_task = asyncio.create_task(relay.run(stop_relay))
        housekeeping = asyncio.create_task(
            forget_expired_every(store, config.housekeeping_interval_s)
        )
        try:
            yield
        finally:
            housekeeping.cancel()
            with suppress(asyncio.CancelledError):
                await housekeeping
            stop_relay.set()
            await relay_task
            await pool.close()
            await asyncio.to_thread(stop_shipping_logs, shipping, settings)
            log.info("stopped; outbox relay sent %d event(s)", relay.sent)

    serve_grpc(
        settings,
        "db-service",
        config,
        start,
        service_names=[SERVICE_NAME],
        grace_period_s=config.grace_period_s,
        interceptors=[RpcLogging("merchstore.db_service.rpc")],
    )


def _migrate(url: str) -> None:
    with psycopg.connect(url) as connection:
        apply_migrations(connection, "merchstore.db_service", "db-service")
