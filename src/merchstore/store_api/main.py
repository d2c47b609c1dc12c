"""Entry point of store-api: the channel to db-service and log shipping, under the lifecycle."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from merchstore.common.logs.setup import ship_logs, stop_shipping_logs
from merchstore.common.serving.health import ReadinessCheck
from merchstore.common.serving.http import Lifespan, ServiceContext, serve_http
from merchstore.settings import Settings
from merchstore.store_api.adapters.db_client import StoreDataClient
from merchstore.store_api.adapters.product_cache import ProductCache
from merchstore.store_api.adapters.tokens import TokenIssuer
from merchstore.store_api.api import Parts, ServedByHeader, create_app
from merchstore.store_api.use_cases import ProductAnswers

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    """Serve store-api until SIGTERM or Ctrl-C; it is ready once 0005 is on ``event_log``."""
    config = settings.store_api
    # Read before serving: a missing or weak secret is a one-line start-up error.
    tokens = TokenIssuer(settings.signing_secret(), config.token_ttl_s, config.token_leeway_s)
    tls = settings.grpc_tls.material()  # and a bad certificate, before anything starts

    @asynccontextmanager
    async def start(context: ServiceContext) -> AsyncIterator[Parts]:
        shipping = ship_logs(settings, "store-api", config.port, settings.logging_service_target)
        client = StoreDataClient(settings.db_service_target, config.rpc_timeout_s, tls)
        cache = ProductCache(config.product_cache_s)
        log.info("db-service at %s", settings.db_service_target)
        try:
            yield Parts(
                store=client,
                products=ProductAnswers(cache, client),
                product_cache=cache,
                tokens=tokens,
            )
        finally:
            await client.close()
            await asyncio.to_thread(stop_shipping_logs, shipping, settings)

    def store_app(is_ready: ReadinessCheck, *, lifespan: Lifespan) -> FastAPI:
        app = create_app(is_ready, log_probes=settings.log_shipping.log_probes, lifespan=lifespan)
        app.add_middleware(
            ServedByHeader,
            served_by=config.replica_name or f"{socket.gethostname()}:{config.port}",
        )
        return app

    serve_http(
        settings,
        "store-api",
        config,
        store_app,
        start,
        waiting_for="announcing start on event_log",
    )
