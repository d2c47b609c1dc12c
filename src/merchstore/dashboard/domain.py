"""What the dashboard shows, built from what the services answered (no I/O)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from merchstore.common.messages import KNOWN_CODES
from merchstore.common.timeutil import to_rfc3339


def event_log_lines(counts: dict[str, int]) -> list[dict[str, Any]]:
    """One line per code, as ``0001 Events Logged: 10``, with what the code means."""
    return [
        {
            "code": code,
            "count": count,
            "text": f"{code} Events Logged: {count}",
            "meaning": KNOWN_CODES.get(code, "other service event"),
        }
        for code, count in sorted(counts.items())
    ]


@dataclass(frozen=True)
class ServiceReading:
    """One service as the dashboard last saw it: health, and figures from its ``/metrics``.

    ``started_at`` (Unix seconds), ``lag`` and ``set_aside`` (per consumer group) are ``None``
    when the service's metrics could not be read.
    """

    name: str
    ok: bool
    detail: str | None = None
    started_at: float | None = None
    lag: Mapping[str, float] | None = None
    set_aside: Mapping[str, float] | None = None


@dataclass
class ServiceHealthBook:
    """Each service's health, when it last answered well and since when it has been running."""

    last_ok: dict[str, datetime] = field(default_factory=dict)
    current: dict[str, ServiceReading] = field(default_factory=dict)

    def record(self, reading: ServiceReading, at: datetime) -> None:
        """Note one service's answer (or its absence)."""
        self.current[reading.name] = reading
        if reading.ok:
            self.last_ok[reading.name] = at

    def view(self, now: datetime) -> list[dict[str, Any]]:
        """Every service: up or down, how long it has run, seconds since its last good answer."""
        rows = []
        for name, reading in self.current.items():
            last = self.last_ok.get(name)
            started = reading.started_at if reading.ok else None
            rows.append(
                {
                    "name": name,
                    "status": "up" if reading.ok else "down",
                    "detail": reading.detail,
                    "last_ok": to_rfc3339(last) if last else None,
                    "seconds_since_ok": round((now - last).total_seconds(), 1) if last else None,
                    "uptime_seconds": (
                        round(max(0.0, now.timestamp() - started), 1) if started else None
                    ),
                }
            )
        return rows


def consumer_figures(
    readings: list[ServiceReading],
) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """Lag and set-aside messages per consumer group, and the services whose figures are unknown."""
    lag: dict[str, float] = {}
    set_aside: dict[str, float] = {}
    unknown = []
    for reading in readings:
        if reading.lag is None or reading.set_aside is None:
            unknown.append(reading.name)
            continue
        lag.update(reading.lag)
        set_aside.update(reading.set_aside)
    return lag, set_aside, unknown


@dataclass
class EventHistory:
    """The charts' series over time: one point per refresh, at most a fixed number."""

    points: deque[dict[str, Any]]
    # The last counts seen and when the processor counted them: the rates of the next point
    # are measured from them. The last rates stand until the processor counts again.
    _last_counts: tuple[datetime, dict[str, int]] | None = None
    _last_rates: dict[str, float] | None = None

    @classmethod
    def keeping(cls, size: int) -> EventHistory:
        """A history of at most ``size`` points."""
        return cls(deque(maxlen=size))

    def add(
        self,
        at: datetime,
        stats: Mapping[str, Any] | None,
        lag: Mapping[str, float],
        set_aside: Mapping[str, float],
    ) -> None:
        """Record one refresh; ``stats`` is the processor's answer, ``None`` while it is down.

        Events per second by type are the counts' change between two of the processor's runs
        over the time between those runs (its ``last_run.at``; the refresh time if it gives
        none). The dashboard refreshes more often than the processor runs: a refresh that
        finds no new run keeps the last rates, where dividing by the refresh interval would
        draw zeros and spikes. While the processor is down a point has no counts, so the chart
        shows a gap and the next rate spans the outage.
        """
        counts = orders = rates = None
        if stats is not None:
            counts = dict(stats.get("counts", {}))
            orders = stats.get("orders")
            counted_at = _counted_at(stats, at)
            rates = self._rates(counted_at, counts)
            self._last_counts, self._last_rates = (counted_at, counts), rates
        self.points.append(
            {
                "at": to_rfc3339(at),
                "counts": counts,
                "events_per_s": rates,
                "orders": (
                    {"placed": orders["placed"], "cancelled": orders["cancelled"]}
                    if isinstance(orders, Mapping)
                    else None
                ),
                "lag": dict(lag),
                "set_aside": dict(set_aside),
            }
        )

    def _rates(self, at: datetime, counts: dict[str, int]) -> dict[str, float] | None:
        if self._last_counts is None:
            return None
        then, before = self._last_counts
        if at == then:
            return self._last_rates  # the same run's counts: nothing new to measure
        seconds = (at - then).total_seconds()
        if seconds <= 0:
            return None
        return {
            kind: round(max(0, count - before.get(kind, 0)) / seconds, 2)
            for kind, count in counts.items()
        }


def _counted_at(stats: Mapping[str, Any], refreshed_at: datetime) -> datetime:
    """When the processor computed ``stats``: its last run, or the refresh time if unknown."""
    run = stats.get("last_run")
    if isinstance(run, Mapping) and isinstance(run.get("at"), str):
        try:
            return datetime.fromisoformat(run["at"])
        except ValueError:
            pass
    return refreshed_at
