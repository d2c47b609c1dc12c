"""The processor's use case: one periodic run, from storage's feed to saved statistics."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from opentelemetry import trace

from merchstore.common.tracing import recorded_trace_id, sampled_trace_id, span_in_each_trace
from merchstore.processor.domain import Statistics, alert_message, exceeds_threshold

_tracer = trace.get_tracer("merchstore.processor")

log = logging.getLogger(__name__)

SendAlert = Callable[[str], None]
"""Publishes a 0004 message and returns once the broker acknowledged it."""


class EventFeed(Protocol):
    """storage's feed of stored events, in commit order."""

    def page(self, after: str, limit: int) -> tuple[list[dict[str, Any]], str]:
        """Events after cursor ``after`` (at most ``limit``) and the next cursor."""
        ...


class StatisticsState(Protocol):
    """Where the statistics, the feed cursor and the alerts to send are kept, together."""

    def load(self) -> tuple[Statistics, str]:
        """The saved statistics and the cursor they reach."""
        ...

    def save_run(self, statistics: Statistics, cursor: str, alert: tuple[int, int] | None) -> None:
        """Save one run's statistics, cursor and alert (new events, threshold) at once."""
        ...

    def pending_alerts(self) -> list[tuple[int, int, int]]:
        """Alerts saved but not yet acknowledged: (id, new events, threshold)."""
        ...

    def alert_sent(self, alert_id: int) -> None:
        """The broker acknowledged this alert."""
        ...


@dataclass(frozen=True)
class RunResult:
    """What one run did."""

    new_events: int
    alerted: bool
    at: datetime
    trace_id: str | None = None
    """The run's trace, when it was sampled (the trace backend has it)."""


@dataclass(frozen=True)
class SeenOrder:
    """An order event a run counted, with the trace of the request that made it."""

    event_type: str
    order_id: str
    total_price: str
    timestamp: str
    trace_id: str | None


RECENT = 10
"""How many recent runs and order events the processor remembers (in memory) to show."""


class StatisticsRuns:
    """Each run reads every event stored since the previous one and updates the totals."""

    def __init__(
        self,
        state: StatisticsState,
        storage: EventFeed,
        send_alert: SendAlert,
        *,
        threshold: int,
        page_size: int,
    ) -> None:
        self._state = state
        self._storage = storage
        self._send_alert = send_alert
        self._threshold = threshold
        self._page_size = page_size
        self.last_run: RunResult | None = None
        self.recent_runs: deque[RunResult] = deque(maxlen=RECENT)
        self.recent_orders: deque[SeenOrder] = deque(maxlen=RECENT)
        # A thread lock, not an asyncio one: a caller cancelled while it waits for its run
        # must not let the next run start before that run's thread has saved its totals.
        self._one_at_a_time = threading.Lock()

    def statistics(self) -> Statistics:
        """The statistics as last saved."""
        return self._state.load()[0]

    async def run_now(self) -> RunResult:
        """One run on a worker thread (after the run under way, if any)."""
        return await asyncio.to_thread(self.run_once)

    def wait_for_the_run_under_way(self) -> None:
        """Return once no run is under way (before the state is closed)."""
        with self._one_at_a_time:
            pass

    def run_once(self) -> RunResult:
        """One run; if storage fails midway, nothing is saved and the next run starts over.

        Runs never overlap: two at once would both count the events after the same cursor.
        """
        # A run is a trace of its own (or a child of the POST /runs that asked for it).
        with self._one_at_a_time, _tracer.start_as_current_span("processor run") as span:
            result = self._run(span)
            span.set_attribute("merchstore.new_events", result.new_events)
            return result

    def _run(self, span: trace.Span) -> RunResult:
        statistics, cursor = self._state.load()
        started_at = cursor
        new_events = 0
        now = datetime.now(UTC)
        while True:
            events, cursor = self._storage.page(cursor, self._page_size)
            statistics = statistics.with_events(events, now)
            traced = [e for e in events if e.get("traceparent")]
            counted = ((e["traceparent"], {"event_id": str(e.get("event_id"))}) for e in traced)
            span_in_each_trace("count event", counted, span)
            self._remember_orders(events)
            new_events += len(events)
            if len(events) < self._page_size:
                break
        alerted = exceeds_threshold(new_events, self._threshold)
        if new_events:
            self._state.save_run(
                statistics, cursor, (new_events, self._threshold) if alerted else None
            )
        self.send_pending_alerts()
        self.last_run = RunResult(new_events, alerted, now, recorded_trace_id(span))
        if new_events:
            self.recent_runs.append(self.last_run)
        if new_events:
            log.info(
                "run: %d new event%s, %d in total (feed %s to %s)",
                new_events,
                "" if new_events == 1 else "s",
                statistics.total_events,
                started_at,
                cursor,
            )
        return self.last_run

    def _remember_orders(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            if event.get("event_type") not in ("order_placed", "order_cancelled"):
                continue
            metadata = event.get("metadata") or {}
            self.recent_orders.append(
                SeenOrder(
                    str(event["event_type"]),
                    str(metadata.get("order_id", "")),
                    str(metadata.get("total_price", "")),
                    str(event.get("timestamp", "")),
                    sampled_trace_id(event.get("traceparent")),
                )
            )

    def send_pending_alerts(self) -> None:
        """Publish the alerts saved but not yet acknowledged (after a crash, too)."""
        for alert_id, new_events, threshold in self._state.pending_alerts():
            self._send_alert(alert_message(new_events, threshold))
            self._state.alert_sent(alert_id)
