"""verify's rules: each promise fails when one acknowledged thing is missing or doubled."""

from __future__ import annotations

from collections import Counter
from typing import Any

from merchstore.tools.ledger import Ledger
from merchstore.tools.verify import Check, Observed, compare


def ledger() -> Ledger:
    """Two events, one shopper with two orders (one cancelled), two traced requests."""
    read = Ledger()
    records: list[dict[str, Any]] = [
        {"kind": "run", "event_log_baseline": {"0001": 2}},
        {"kind": "event", "event_id": "e1"},
        {"kind": "event", "event_id": "e2"},
        {"kind": "shopper", "user_id": 5, "username": "u", "password": "p"},
        {"kind": "order", "order_id": 1, "user_id": 5, "product_id": 1, "quantity": 2},
        {"kind": "order", "order_id": 2, "user_id": 5, "product_id": 2, "quantity": 1},
        {"kind": "cancel", "order_id": 2},
        {"kind": "request", "request_id": "r1"},
        {"kind": "request", "request_id": "r2"},
    ]
    for record in records:
        read.add(record)
    return read


def observed() -> Observed:
    """What a system that kept every promise of ``ledger()`` shows."""
    return Observed(
        stored_events=Counter({"e1": 1, "e2": 1, "x": 1}),
        order_events=Counter(
            {("order_placed", 1): 1, ("order_placed", 2): 1, ("order_cancelled", 2): 1}
        ),
        sold=Counter({1: 2, 2: 0}),
        stock={1: 498, 2: 500, 3: 500},
        orders={5: {1: "placed", 2: "cancelled"}},
        event_logger=Counter({"0001": 3, "0002": 1}),
        event_log_topic=Counter({"0001": 1, "0002": 1}),
        request_ids={"r1", "r2", "other"},
    )


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name.split()[0] + " " + check.name.split()[1]: check for check in checks}


def test_a_system_that_kept_every_promise_passes_every_check() -> None:
    checks = compare(ledger(), observed())
    assert len(checks) == 6
    assert all(check.holds for check in checks), checks


def failing(seen: Observed, read: Ledger | None = None) -> dict[str, tuple[int, int]]:
    return {
        name: (check.lost, check.doubled)
        for name, check in by_name(compare(read or ledger(), seen)).items()
        if not check.holds
    }


def test_an_event_missing_or_stored_twice_fails_the_events_check() -> None:
    seen = observed()
    seen.stored_events = Counter({"e1": 2})
    assert failing(seen) == {"game events": (1, 1)}


def test_an_order_missing_with_another_status_or_unexplained_fails_the_orders_check() -> None:
    seen = observed()
    seen.orders = {5: {2: "placed", 3: "placed"}}
    assert failing(seen) == {"orders once,": (2, 1)}
    read = ledger()
    read.add({"kind": "attempt", "user_id": 5})  # an order request that got no answer
    assert failing(seen, read) == {"orders once,": (2, 0)}


def test_a_shopper_that_cannot_log_in_loses_its_orders() -> None:
    seen = observed()
    seen.orders = {5: None}
    assert failing(seen) == {"orders once,": (2, 0)}


def test_a_repeat_answered_with_another_order_is_a_double() -> None:
    read = ledger()
    read.add({"kind": "order", "order_id": 9, "user_id": 5, "repeat_of": 1})
    seen = observed()
    seen.orders = {5: {1: "placed", 2: "cancelled", 9: "placed"}}
    seen.order_events[("order_placed", 9)] = 1
    assert failing(seen, read) == {"orders once,": (0, 1)}


def test_order_events_missing_or_doubled_fail_their_check() -> None:
    seen = observed()
    seen.order_events = Counter({("order_placed", 1): 2, ("order_placed", 2): 1})
    assert failing(seen) == {"order events": (1, 1)}


def test_stock_that_does_not_add_up_fails_both_ways() -> None:
    seen = observed()
    seen.stock = {1: 497, 2: 501, 3: 500}
    assert failing(seen) == {"stock +": (1, 1)}


def test_event_logger_counts_off_the_topic_plus_the_baseline_fail() -> None:
    seen = observed()
    seen.event_logger = Counter({"0001": 2, "0002": 2})
    assert failing(seen) == {"event-logger counts": (1, 1)}


def test_an_untraced_request_fails_the_log_channel_check() -> None:
    seen = observed()
    seen.request_ids = {"r1"}
    assert failing(seen) == {"store requests": (1, 0)}


def ledger_against(topic_ids: dict[str, str]) -> Ledger:
    """``ledger()`` whose run recorded the topics' incarnations it was written against."""
    read = ledger()
    read.runs[0]["topic_ids"] = topic_ids
    return read


def test_topics_made_anew_since_the_ledger_skip_their_checks_without_lost_or_doubled() -> None:
    seen = observed()
    seen.topic_names = {"event_log": "event_log", "log_channel": "log-channel"}
    seen.topic_ids = {"event_log": "new-1", "log-channel": "new-2"}
    # What a restarted memory-only broker shows: its topics empty, the old counts kept.
    seen.event_log_topic, seen.request_ids = Counter(), set()
    checks = compare(ledger_against({"event_log": "old-1", "log-channel": "old-2"}), seen)
    skipped = {check.name: check for check in checks if check.skipped}
    assert set(skipped) == {
        "event-logger counts = announcements",
        "store requests traced on log-channel",
    }
    assert all(c.holds and (c.lost, c.doubled) == (0, 0) for c in skipped.values())
    assert all("restarted" in c.skipped for c in skipped.values())
    assert all(check.holds for check in checks)  # what it could check holds


def test_the_same_topics_are_checked_as_before() -> None:
    seen = observed()
    seen.topic_names = {"event_log": "event_log", "log_channel": "log-channel"}
    seen.topic_ids = {"event_log": "id-1", "log-channel": "id-2"}
    seen.request_ids = {"r1"}
    read = ledger_against({"event_log": "id-1", "log-channel": "id-2"})
    assert not [check for check in compare(read, seen) if check.skipped]
    assert failing(seen, read) == {"store requests": (1, 0)}


def test_only_the_replaced_topics_check_is_skipped() -> None:
    seen = observed()
    seen.topic_names = {"event_log": "event_log", "log_channel": "log-channel"}
    seen.topic_ids = {"event_log": "id-1", "log-channel": "new-2"}
    seen.event_logger = Counter({"0001": 2, "0002": 2})
    read = ledger_against({"event_log": "id-1", "log-channel": "id-2"})
    assert [c.name for c in compare(read, seen) if c.skipped] == [
        "store requests traced on log-channel"
    ]
    assert failing(seen, read) == {"event-logger counts": (1, 1)}
