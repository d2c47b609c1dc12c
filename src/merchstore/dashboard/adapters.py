"""HTTP and gRPC adapter of the dashboard: asks every service, each within a timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import httpx
from prometheus_client.parser import text_string_to_metric_families

from merchstore.common.grpc_channels import open_aio_channel
from merchstore.common.health_probe import HealthAnswer, check_health_async
from merchstore.common.metrics import METRICS_PORT_OFFSET
from merchstore.common.tracing import traced_client
from merchstore.dashboard.domain import ServiceReading
from merchstore.services import SERVICES, ServiceSpec
from merchstore.settings import Settings


class ServiceSources:
    """Where the dashboard's numbers come from, and how each service is probed."""

    def __init__(self, settings: Settings) -> None:
        self._timeout_s = settings.dashboard.request_timeout_s
        self._http = traced_client(httpx.AsyncClient(timeout=self._timeout_s))
        self._specs = [spec for spec in SERVICES if spec.name != "dashboard"]
        self._settings = settings
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._tls = settings.grpc_tls.material()

    def _url(self, name: str) -> str:
        return next(spec for spec in self._specs if spec.name == name).url(self._settings)

    async def processor_stats(self) -> dict[str, Any]:
        """The processor's ``/stats``; raises on failure or timeout."""
        answer = await self._http.get(f"{self._url('processor')}/stats")
        answer.raise_for_status()
        return dict(answer.json())

    async def event_log_counts(self) -> dict[str, int]:
        """The event-logger's ``/events_stats``; raises on failure or timeout."""
        answer = await self._http.get(f"{self._url('event-logger')}/events_stats")
        answer.raise_for_status()
        return {str(code): int(count) for code, count in answer.json().items()}

    async def readings(self) -> list[ServiceReading]:
        """Every service's health and metrics, asked concurrently."""
        return list(await asyncio.gather(*(self._reading(spec) for spec in self._specs)))

    async def _reading(self, spec: ServiceSpec) -> ServiceReading:
        health, metrics = await asyncio.gather(self._probe(spec), self._metrics(spec))
        started_at, lag, set_aside = metrics or (None, None, None)
        return ServiceReading(spec.name, health.ready, health.detail, started_at, lag, set_aside)

    async def _metrics(
        self, spec: ServiceSpec
    ) -> tuple[float | None, dict[str, float], dict[str, float]] | None:
        """Start time, lag and set-aside messages from ``/metrics``; ``None`` if unreadable."""
        endpoint = spec.endpoint(self._settings)
        port = endpoint.port + (METRICS_PORT_OFFSET if spec.protocol == "grpc" else 0)
        try:
            answer = await self._http.get(f"http://{endpoint.host}:{port}/metrics")
            answer.raise_for_status()
            return metric_figures(answer.text)
        except (httpx.HTTPError, ValueError):
            return None

    async def _probe(self, spec: ServiceSpec) -> HealthAnswer:
        endpoint = spec.endpoint(self._settings)
        channel = None
        if spec.protocol == "grpc":
            target = f"{endpoint.host}:{endpoint.port}"
            if target not in self._channels:
                self._channels[target] = open_aio_channel(target, self._tls)
            channel = self._channels[target]
        return await check_health_async(
            spec.protocol,
            endpoint.host,
            endpoint.port,
            http=self._http,
            channel=channel,
            timeout_s=self._timeout_s,
        )

    async def close(self) -> None:
        """Close connections."""
        await self._http.aclose()
        for channel in self._channels.values():
            await channel.close()


def metric_figures(text: str) -> tuple[float | None, dict[str, float], dict[str, float]]:
    """From a Prometheus text exposition: process start time, lag and set-aside per consumer.

    Lag is summed over a consumer's partitions; the outbox's refused rows count as the
    set-aside messages of a consumer called ``outbox``.
    """
    started_at = None
    lag: dict[str, float] = {}
    set_aside: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "process_start_time_seconds":
                started_at = sample.value
            elif sample.name == "consumer_lag_messages":
                consumer = sample.labels["consumer"]
                lag[consumer] = lag.get(consumer, 0.0) + sample.value
            elif sample.name == "consumer_messages_set_aside_total":
                set_aside[sample.labels["consumer"]] = sample.value
            elif sample.name == "outbox_set_aside_rows":
                set_aside["outbox"] = sample.value
    return started_at, lag, set_aside
