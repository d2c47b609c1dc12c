"""The dashboard's use case: refresh one overview from every service, whatever is down."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from merchstore.common.timeutil import to_rfc3339
from merchstore.dashboard.domain import (
    EventHistory,
    ServiceHealthBook,
    ServiceReading,
    consumer_figures,
    event_log_lines,
)

log = logging.getLogger(__name__)


def _problem(error: BaseException) -> str:
    return f"unavailable ({type(error).__name__})"


class OverviewSources(Protocol):
    """Where the overview's numbers come from: the processor, the event-logger, every service."""

    async def processor_stats(self) -> dict[str, Any]:
        """The processor's statistics (``GET /stats``)."""
        ...

    async def event_log_counts(self) -> dict[str, int]:
        """The event-logger's counts per code (``GET /events_stats``)."""
        ...

    async def readings(self) -> list[ServiceReading]:
        """Each service's health and consumer figures, one reading each."""
        ...


class OverviewKeeper:
    """Holds the latest overview; each refresh asks every service concurrently."""

    def __init__(self, sources: OverviewSources, history_points: int) -> None:
        self._sources = sources
        self._health = ServiceHealthBook()
        self._history = EventHistory.keeping(history_points)
        self._last_stats: dict[str, Any] | None = None
        self._last_counts: dict[str, int] | None = None
        self.latest: dict[str, Any] = {}

    async def refresh(self) -> dict[str, Any]:
        """Ask every service; a failing one is marked, the others still show."""
        stats, counts, readings = await asyncio.gather(
            self._sources.processor_stats(),
            self._sources.event_log_counts(),
            self._sources.readings(),
            return_exceptions=True,
        )
        now = datetime.now(UTC)
        stats_error = counts_error = None
        if isinstance(stats, BaseException):
            stats_error = _problem(stats)
        else:
            self._last_stats = stats
        if isinstance(counts, BaseException):
            counts_error = _problem(counts)
        else:
            self._last_counts = counts
        if isinstance(readings, BaseException):
            log.warning("health probes failed: %s", readings)
            readings = []
        for reading in readings:
            self._health.record(reading, now)
        lag, set_aside, unknown = consumer_figures(readings)
        fresh_stats = None if isinstance(stats, BaseException) else stats
        self._history.add(now, fresh_stats, lag, set_aside)
        self.latest = {
            "generated_at": to_rfc3339(now),
            # The last known values stay visible, marked stale, while a source is down.
            "stats": self._last_stats,
            "stats_error": stats_error,
            "event_log": event_log_lines(self._last_counts) if self._last_counts else [],
            "event_log_error": counts_error,
            "services": self._health.view(now),
            "history": list(self._history.points),
            # Services whose lag and set-aside messages are unknown right now (down, or
            # their /metrics did not answer): the consumer panel names them.
            "metrics_unavailable": unknown,
        }
        return self.latest
