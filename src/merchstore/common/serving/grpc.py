"""Serving a gRPC service: binding the server, health, announcement, a graceful stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

from merchstore.common.config.base import CommonSettings
from merchstore.common.config.grpc_tls import TlsMaterial
from merchstore.common.config.sections import GrpcServiceSettings
from merchstore.common.grpc_channels import listen
from merchstore.common.kafka.clients import check_broker
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.metrics import METRICS_PORT_OFFSET, RpcMetrics, serve_metrics
from merchstore.common.serving.health import add_health_and_reflection, set_grpc_serving
from merchstore.common.serving.peer_authorization import PeerAuthorization
from merchstore.common.serving.readiness import announce_start, tune_garbage_collector
from merchstore.common.serving.signals import STOP_SIGNALS
from merchstore.protos import logging_pb2

log = logging.getLogger(__name__)

_TRACED = filters.negate(
    filters.any_of(
        filters.health_check(),
        filters.service_prefix("grpc.reflection"),
        # Log shipping is plumbing: a span per stream would only trace the tracing.
        filters.service_name(logging_pb2.DESCRIPTOR.services_by_name["LogCollector"].full_name),
    )
)
"""The calls that get a span: the services' own, not health checks, reflection or logs."""


@asynccontextmanager
async def grpc_server(
    endpoint: GrpcServiceSettings,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    tls: TlsMaterial | None = None,
) -> AsyncIterator[grpc.aio.Server]:
    """A gRPC server where ``endpoint`` says; raises OSError if a port is taken.

    Its RPCs are measured, and ``/metrics`` is served over HTTP on ``port + 100``. What one
    client can make it hold is bounded: the size of a message, and the calls at once. With
    ``tls`` it takes only clients with a certificate of the deployment's CA, and its own
    methods answer only the parties of ``endpoint.allowed_clients``.
    """
    host, port = endpoint.host, endpoint.port
    # OpenTelemetry's first: the call's SERVER span (continuing the caller's trace) is current
    # for everything the other interceptors and the servicer do.
    tracing = aio_server_interceptor(filter_=_TRACED)  # type: ignore[no-untyped-call]
    # Over mutual TLS the caller's certificate also says which party it is, and only the
    # allowed ones reach the service's own methods (measured, so refusals are counted).
    authorization = [PeerAuthorization(endpoint.allowed_clients)] if tls is not None else []
    server = grpc.aio.server(
        interceptors=[tracing, RpcMetrics(), *authorization, *interceptors],
        options=[("grpc.max_receive_message_length", endpoint.max_message_bytes)],
        maximum_concurrent_rpcs=endpoint.max_concurrent_rpcs,
    )
    address = f"{host}:{port}"
    if listen(server, address, tls) == 0:
        raise OSError(f"cannot listen on {address}: the port is in use")
    try:
        serve_metrics(port, host)
    except OSError as error:
        raise OSError(
            f"cannot serve metrics on {host}:{port + METRICS_PORT_OFFSET}: {error.strerror}"
        ) from None
    yield server


@dataclass(frozen=True)
class GrpcContext:
    """What the lifecycle gives a gRPC service's parts as they start."""

    server: grpc.aio.Server
    """Where the parts register their servicers."""
    producer: KafkaProducer
    """The service's producer; it announced the start, and is closed after the parts."""


GrpcParts = Callable[[GrpcContext], AbstractAsyncContextManager[None]]
"""Registers a service's servicers on the server and runs its background work while entered."""


def serve_grpc(
    settings: CommonSettings,
    service: str,
    endpoint: GrpcServiceSettings,
    start_parts: GrpcParts,
    *,
    service_names: Sequence[str],
    grace_period_s: float,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    producer_settings: Mapping[str, Any] | None = None,
    producer_close_s: float = 5.0,
) -> None:
    """Serve a gRPC service until SIGTERM or Ctrl-C, then drain calls within the grace period.

    As :func:`~.http.serve_http` does for HTTP: the broker must answer first, the producer is
    made here, health reports NOT_SERVING until the start is announced on ``event_log``, and
    again as soon as a stop is asked for; the parts are left only after the server stopped,
    and the producer flushes last.
    """
    tls = settings.grpc_tls.material()  # a bad certificate stops the service before anything
    check_broker(settings, report_topics=True)
    producer = KafkaProducer(settings, client_id=service, **(producer_settings or {}))

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stop_signal in STOP_SIGNALS:
            loop.add_signal_handler(stop_signal, stop.set)
        async with grpc_server(endpoint, interceptors, tls) as server:
            health = await add_health_and_reflection(server, service_names)
            async with start_parts(GrpcContext(server, producer)):
                await server.start()
                await announce_start(settings, service, producer)
                await set_grpc_serving(health, service_names, True)
                log.info("ready on %s:%d", endpoint.host, endpoint.port)
                await stop.wait()
                log.info("stopping: draining calls for up to %.1f s", grace_period_s)
                await set_grpc_serving(health, service_names, False)
                await server.stop(grace_period_s)

    tune_garbage_collector()
    try:
        asyncio.run(serve())
    finally:
        producer.close(producer_close_s)
