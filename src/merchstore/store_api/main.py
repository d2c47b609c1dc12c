"""Entry point of store-api: the channel to db-service, event_log announcement, HTTP API."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from merchstore.common.kafka.clients import check_broker
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.lifecycle import Readiness, announce_start, serve_http
from merchstore.common.logging_setup import ship_logs, stop_shipping_logs
from merchstore.settings import Settings
from merchstore.store_api.adapters.db_client import StoreDataClient
from merchstore.store_api.adapters.product_cache import ProductCache
from merchstore.store_api.adapters.tokens import TokenIssuer
from merchstore.store_api.api import ServedByHeader, create_app
from merchstore.store_api.use_cases import ProductAnswers

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    """The store-api application; it is ready once 0005 is on ``event_log``."""
    config = settings.store_api
    readiness = Readiness("announcing start on event_log")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        shipping = ship_logs(
            settings, "store-api", settings.store_api.port, settings.logging_service_target
        )
        client = StoreDataClient(settings.db_service_target, config.rpc_timeout_s)
        app.state.store = client
        app.state.products = ProductAnswers(app.state.product_cache, client)
        producer = KafkaProducer(settings, client_id="store-api")
        await announce_start(settings, "store-api", producer)
        await asyncio.to_thread(producer.close, 5.0)
        readiness.set()
        log.info("ready; db-service at %s", settings.db_service_target)
        yield
        readiness.clear()
        await client.close()
        await asyncio.to_thread(stop_shipping_logs, shipping, settings)

    app = create_app(readiness, log_probes=settings.log_shipping.log_probes, lifespan=lifespan)
    app.state.tokens = TokenIssuer(settings.signing_secret(), config.token_ttl_s)
    app.state.product_cache = ProductCache(config.product_cache_s)
    app.add_middleware(
        ServedByHeader, served_by=config.replica_name or f"{socket.gethostname()}:{config.port}"
    )
    return app


def run(settings: Settings) -> None:
    """Serve store-api until SIGTERM or Ctrl-C."""
    check_broker(settings, report_topics=True)
    serve_http(build_app(settings), settings.store_api, settings.http)
