"""Dashboard view building (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from merchstore.dashboard.adapters import metric_figures
from merchstore.dashboard.domain import (
    EventHistory,
    ServiceHealthBook,
    ServiceReading,
    consumer_figures,
    event_log_lines,
)

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def test_event_log_lines_read_like_the_classic_dashboard() -> None:
    lines = event_log_lines({"0002": 22, "0001": 10, "0042": 1})
    assert [line["text"] for line in lines] == [
        "0001 Events Logged: 10",
        "0002 Events Logged: 22",
        "0042 Events Logged: 1",
    ]
    assert lines[0]["meaning"] == "receiver ready to receive events"
    assert lines[2]["meaning"] == "other service event"


def test_health_book_remembers_the_last_good_answer() -> None:
    book = ServiceHealthBook()
    book.record(ServiceReading("storage", True), NOW)
    book.record(ServiceReading("storage", False, "ConnectError"), NOW + timedelta(seconds=5))
    [row] = book.view(NOW + timedelta(seconds=7))
    assert row["status"] == "down" and row["seconds_since_ok"] == 7.0
    assert row["detail"] == "ConnectError"
    assert row["uptime_seconds"] is None


def test_uptime_is_counted_from_the_process_start_while_up() -> None:
    book = ServiceHealthBook()
    started = NOW.timestamp() - 90
    book.record(ServiceReading("storage", True, None, started, {}, {}), NOW)
    book.record(ServiceReading("receiver", False, "ConnectError", started), NOW)
    rows = {row["name"]: row for row in book.view(NOW + timedelta(seconds=10))}
    assert rows["storage"]["uptime_seconds"] == 100.0
    assert rows["receiver"]["uptime_seconds"] is None, "a down service has no uptime"


def stats(counts: dict[str, int], placed: int = 0, cancelled: int = 0) -> dict[str, object]:
    return {"counts": counts, "orders": {"placed": placed, "cancelled": cancelled}}


def test_history_keeps_a_bounded_number_of_points() -> None:
    history = EventHistory.keeping(3)
    for minute in range(5):
        history.add(NOW + timedelta(minutes=minute), stats({"default": minute}), {}, {})
    assert [point["counts"]["default"] for point in list(history.points)] == [2, 3, 4]


def test_events_per_second_come_from_the_counts_of_consecutive_points() -> None:
    history = EventHistory.keeping(10)
    history.add(NOW, stats({"join_guild": 10, "default": 0}), {}, {})
    history.add(NOW + timedelta(seconds=2), stats({"join_guild": 30, "default": 1}, 2, 1), {}, {})
    first, second = list(history.points)
    assert first["events_per_s"] is None, "no rate before a second point"
    assert second["events_per_s"] == {"join_guild": 10.0, "default": 0.5}
    assert second["orders"] == {"placed": 2, "cancelled": 1}


def test_rates_are_measured_between_the_processors_runs_not_between_refreshes() -> None:
    history = EventHistory.keeping(10)

    def refresh(at_s: float, run_at_s: float, total: int) -> None:
        counted = stats({"join_guild": total}) | {
            "last_run": {"at": (NOW + timedelta(seconds=run_at_s)).isoformat()}
        }
        history.add(NOW + timedelta(seconds=at_s), counted, {}, {})

    # The processor runs every 5 s (10 events a second); the dashboard refreshes every 2 to 3 s.
    refresh(1, 0.5, 0)
    refresh(3, 0.5, 0)
    refresh(6, 5.5, 50)
    refresh(8, 5.5, 50)
    refresh(11, 10.5, 100)
    rates = [point["events_per_s"] for point in history.points]
    assert rates == [None, None, {"join_guild": 10.0}, {"join_guild": 10.0}, {"join_guild": 10.0}]


def test_a_processor_outage_leaves_a_gap_and_the_rate_resumes_after_it() -> None:
    history = EventHistory.keeping(10)
    history.add(NOW, stats({"default": 0}), {"storage": 3.0}, {"storage": 0.0})
    history.add(NOW + timedelta(seconds=1), None, {"storage": 5.0}, {"storage": 1.0})
    history.add(NOW + timedelta(seconds=4), stats({"default": 8}), {}, {})
    points = list(history.points)
    assert points[1]["counts"] is None and points[1]["events_per_s"] is None
    assert points[1]["lag"] == {"storage": 5.0}, "consumer figures go on while it is down"
    assert points[2]["events_per_s"] == {"default": 2.0}, "over the 4 s since the last counts"


def test_consumer_figures_name_the_services_that_gave_none() -> None:
    readings = [
        ServiceReading("storage", True, None, 1.0, {"storage": 4.0}, {"storage": 1.0}),
        ServiceReading("event-logger", False, "ConnectError"),
        ServiceReading("db-service", True, None, 1.0, {}, {"outbox": 0.0}),
    ]
    lag, set_aside, unknown = consumer_figures(readings)
    assert lag == {"storage": 4.0}
    assert set_aside == {"storage": 1.0, "outbox": 0.0}
    assert unknown == ["event-logger"]


def test_metric_figures_read_a_real_exposition() -> None:
    text = """# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.7e+09
# TYPE consumer_lag_messages gauge
consumer_lag_messages{consumer="storage",partition="0",topic="events"} 3.0
consumer_lag_messages{consumer="storage",partition="1",topic="events"} 4.0
# TYPE consumer_messages_set_aside_total counter
consumer_messages_set_aside_total{consumer="storage"} 2.0
# TYPE outbox_set_aside_rows gauge
outbox_set_aside_rows 1.0
"""
    assert metric_figures(text) == (1.7e9, {"storage": 7.0}, {"storage": 2.0, "outbox": 1.0})
