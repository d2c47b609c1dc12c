"""Health helpers: HTTP /health from real readiness, gRPC health and reflection."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from merchstore.common.serving.health import (
    add_health_and_reflection,
    set_grpc_serving,
)
from tests.support.processes import free_port


def test_grpc_health_and_reflection() -> None:
    async def scenario() -> None:
        server = grpc.aio.server()
        port = free_port()
        server.add_insecure_port(f"127.0.0.1:{port}")
        servicer = await add_health_and_reflection(server, ["merchstore.Example"])
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                request = health_pb2.HealthCheckRequest(service="")
                # Not serving until the service says it is ready.
                reply = await stub.Check(request)
                assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
                await set_grpc_serving(servicer, ["merchstore.Example"], True)
                reply = await stub.Check(request)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING

                reflection_stub = reflection_pb2_grpc.ServerReflectionStub(channel)
                call = reflection_stub.ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")])
                )
                services = set()
                async for response in call:
                    services |= {s.name for s in response.list_services_response.service}
                assert {"merchstore.Example", "grpc.health.v1.Health"} <= services
        finally:
            await server.stop(None)

    asyncio.run(scenario())
