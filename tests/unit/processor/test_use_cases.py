"""The processor's runs against fakes: the feed, the saved state, and the 0004 alert."""

from __future__ import annotations

from typing import Any

import pytest

from merchstore.common.feed import FEED_START
from merchstore.processor.domain import Statistics
from merchstore.processor.use_cases import StatisticsRuns


class Unavailable(Exception):
    """storage did not answer."""


class ListFeed:
    """storage's feed over a list: the cursor is the index of the next event."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.fail_after_pages: int | None = None
        self.pages = 0

    def page(self, after: str, limit: int) -> tuple[list[dict[str, Any]], str]:
        if self.fail_after_pages is not None and self.pages >= self.fail_after_pages:
            raise Unavailable("storage is down")
        self.pages += 1
        start = 0 if after == FEED_START else int(after)
        chunk = self.events[start : start + limit]
        return chunk, str(start + len(chunk)) if chunk else after


class MemoryState:
    """The statistics, the cursor and the alerts not yet acknowledged, saved together."""

    def __init__(self) -> None:
        self.statistics, self.cursor = Statistics(), FEED_START
        self.alerts: dict[int, tuple[int, int]] = {}
        self.saves = 0

    def load(self) -> tuple[Statistics, str]:
        return self.statistics, self.cursor

    def save_run(self, statistics: Statistics, cursor: str, alert: tuple[int, int] | None) -> None:
        self.saves += 1
        self.statistics, self.cursor = statistics, cursor
        if alert is not None:
            self.alerts[len(self.alerts) + self.saves] = alert

    def pending_alerts(self) -> list[tuple[int, int, int]]:
        return [(key, *alert) for key, alert in sorted(self.alerts.items())]

    def alert_sent(self, alert_id: int) -> None:
        del self.alerts[alert_id]


def events(count: int, event_type: str = "join_guild") -> list[dict[str, Any]]:
    return [{"event_type": event_type, "metadata": {}} for _ in range(count)]


def runs_over(feed: ListFeed, state: MemoryState, sent: list[str]) -> StatisticsRuns:
    return StatisticsRuns(state, feed, sent.append, threshold=25, page_size=10)


def test_a_run_reads_every_page_and_saves_the_totals_with_the_cursor() -> None:
    feed, state = ListFeed(events(23)), MemoryState()
    sent: list[str] = []
    result = runs_over(feed, state, sent).run_once()
    assert (result.new_events, result.alerted) == (23, False)
    assert state.statistics.total_events == 23
    assert state.statistics.counts["join_guild"] == 23
    assert state.cursor == "23"
    assert sent == []


def test_the_next_run_counts_only_what_came_after() -> None:
    feed, state = ListFeed(events(5)), MemoryState()
    sent: list[str] = []
    runs = runs_over(feed, state, sent)
    runs.run_once()
    feed.events += events(3, "purchase_sword")
    assert runs.run_once().new_events == 3
    assert state.statistics.total_events == 8
    assert state.statistics.counts["purchase_sword"] == 3


def test_more_events_than_the_threshold_in_one_run_send_one_alert() -> None:
    feed, state = ListFeed(events(26)), MemoryState()
    sent: list[str] = []
    runs = runs_over(feed, state, sent)
    assert runs.run_once().alerted
    assert len(sent) == 1 and "26 new events" in sent[0] and "0004" in sent[0]
    assert state.alerts == {}  # acknowledged: not sent again
    runs.run_once()
    assert len(sent) == 1


def test_exactly_the_threshold_sends_no_alert() -> None:
    feed, state = ListFeed(events(25)), MemoryState()
    sent: list[str] = []
    assert not runs_over(feed, state, sent).run_once().alerted
    assert sent == []


def test_storage_failing_midway_saves_nothing_and_the_next_run_starts_over() -> None:
    feed, state = ListFeed(events(30)), MemoryState()
    sent: list[str] = []
    feed.fail_after_pages = 2
    runs = runs_over(feed, state, sent)
    with pytest.raises(Unavailable):
        runs.run_once()
    assert (state.saves, state.cursor, sent) == (0, FEED_START, [])
    feed.fail_after_pages = None
    assert runs.run_once().new_events == 30
    assert state.statistics.total_events == 30


def test_an_alert_whose_send_failed_is_sent_by_the_next_run() -> None:
    feed, state = ListFeed(events(40)), MemoryState()
    sent: list[str] = []
    failing = True

    def send(text: str) -> None:
        if failing:
            raise ConnectionError("broker unreachable")
        sent.append(text)

    runs = StatisticsRuns(state, feed, send, threshold=25, page_size=10)
    with pytest.raises(ConnectionError):
        runs.run_once()
    assert state.statistics.total_events == 40  # the run itself was saved, with its alert
    failing = False
    assert runs.run_once().new_events == 0
    assert len(sent) == 1 and "40 new events" in sent[0]


def test_the_latest_runs_and_orders_are_remembered_with_their_recorded_traces() -> None:
    sampled, unsampled = "ab" * 16, "cd" * 16
    orders = [
        {
            "event_id": f"e{number}",
            "event_type": "order_placed",
            "metadata": {"order_id": str(number), "total_price": "9.97"},
            "timestamp": "2026-12-06T10:00:00.000Z",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-{flags}",
        }
        for number, trace_id, flags in ((1, sampled, "01"), (2, unsampled, "00"))
    ]
    feed, state = ListFeed([*orders, *events(3)]), MemoryState()
    runs = runs_over(feed, state, [])
    runs.run_once()
    runs.run_once()  # nothing new: not a run worth showing
    assert [(o.order_id, o.total_price, o.trace_id) for o in runs.recent_orders] == [
        ("1", "9.97", sampled),
        ("2", "9.97", None),  # not recorded: nothing to link to
    ]
    assert [run.new_events for run in runs.recent_runs] == [5]
