"""Dashboard view building (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from merchstore.dashboard.domain import EventHistory, ServiceHealthBook, event_log_lines

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
    book.record("storage", True, None, NOW)
    book.record("storage", False, "ConnectError", NOW + timedelta(seconds=5))
    [row] = book.view(NOW + timedelta(seconds=7))
    assert row["status"] == "down" and row["seconds_since_ok"] == 7.0
    assert row["detail"] == "ConnectError"


def test_history_keeps_a_bounded_number_of_points() -> None:
    history = EventHistory.keeping(3)
    for minute in range(5):
        history.add(NOW + timedelta(minutes=minute), {"default": minute})
    assert [point["counts"]["default"] for point in history.points] == [2, 3, 4]


def test_the_health_panel_shows_a_service_s_own_reason() -> None:
    import httpx

    from merchstore.dashboard.sources import _health_detail

    stalled = httpx.Response(503, json={"status": "unavailable", "detail": "no progress for 31 s"})
    assert _health_detail(stalled) == "503: no progress for 31 s"
    assert _health_detail(httpx.Response(502, text="bad gateway")) == "health answered 502"
