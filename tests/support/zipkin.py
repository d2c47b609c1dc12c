"""Reading traces back through Zipkin's own query API, as a user's tools would."""

from __future__ import annotations

import httpx

ORDER_PATH = {"store-api", "db-service", "storage", "processor", "logging-service"}
"""The services an order passes through: its request, its row, its event, its count, its log."""


def services_in(zipkin: str, trace_id: str) -> set[str]:
    """The services with spans in one trace, as Zipkin at ``zipkin`` answers (none yet: empty)."""
    answer = httpx.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=10)
    if answer.status_code == 404:
        return set()
    answer.raise_for_status()
    return {span["localEndpoint"]["serviceName"] for span in answer.json()}
