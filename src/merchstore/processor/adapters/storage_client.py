"""HTTP adapter: reads the event feed of the storage service."""

from __future__ import annotations

from typing import Any

import httpx

from merchstore.common.tracing import traced_client


class StorageUnavailable(Exception):
    """storage did not answer, or answered with an error."""


class StorageClient:
    """Pages through storage's ``/events/feed``."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        # Traced: storage's span of the call belongs to the processor run's trace.
        self._client = traced_client(httpx.Client(base_url=base_url, timeout=timeout_s))

    def page(self, after: str, limit: int) -> tuple[list[dict[str, Any]], str]:
        """Events after cursor ``after`` (at most ``limit``) and the next cursor."""
        try:
            answer = self._client.get("/events/feed", params={"after": after, "limit": limit})
            answer.raise_for_status()
        except httpx.HTTPError as error:
            raise StorageUnavailable(f"storage at {self._client.base_url}: {error}") from None
        body = answer.json()
        return list(body["events"]), str(body["next_cursor"])

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
