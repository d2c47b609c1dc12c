"""What the dashboard shows, built from what the services answered (no I/O)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from merchstore.common.event_log import KNOWN_CODES
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


@dataclass
class ServiceHealthBook:
    """Each service's health and when it last answered well."""

    last_ok: dict[str, datetime] = field(default_factory=dict)
    current: dict[str, tuple[bool, str | None]] = field(default_factory=dict)

    def record(self, name: str, ok: bool, detail: str | None, at: datetime) -> None:
        """Note one health answer (or its absence)."""
        self.current[name] = (ok, detail)
        if ok:
            self.last_ok[name] = at

    def view(self, now: datetime) -> list[dict[str, Any]]:
        """Every service: up or down, and seconds since its last good answer."""
        rows = []
        for name, (ok, detail) in self.current.items():
            last = self.last_ok.get(name)
            rows.append(
                {
                    "name": name,
                    "status": "up" if ok else "down",
                    "detail": detail,
                    "last_ok": to_rfc3339(last) if last else None,
                    "seconds_since_ok": round((now - last).total_seconds(), 1) if last else None,
                }
            )
        return rows


@dataclass
class EventHistory:
    """Cumulative events per type over time, for the chart."""

    points: deque[dict[str, Any]]

    @classmethod
    def keeping(cls, size: int) -> EventHistory:
        """A history of at most ``size`` points."""
        return cls(deque(maxlen=size))

    def add(self, at: datetime, counts: dict[str, int]) -> None:
        """Record the counts seen at ``at``."""
        self.points.append({"at": to_rfc3339(at), "counts": dict(counts)})
