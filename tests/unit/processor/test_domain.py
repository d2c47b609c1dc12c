"""Statistics and the 0004 rule (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from merchstore.processor.domain import Statistics, alert_message, exceeds_threshold

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def event(event_type: str, **metadata: str) -> dict[str, object]:
    return {"event_type": event_type, "metadata": metadata}


def test_counts_accumulate_per_type() -> None:
    first = Statistics().with_events([event("purchase_sword"), event("join_guild")], NOW)
    second = first.with_events([event("purchase_sword")], NOW)
    assert second.total_events == 3
    assert second.counts["purchase_sword"] == 2
    assert second.counts["join_guild"] == 1
    assert second.counts["default"] == 0
    assert second.last_updated == NOW


def test_orders_and_revenue() -> None:
    stats = Statistics().with_events(
        [
            event("order_placed", total_price="149.97"),
            event("order_placed", total_price="19.98"),
            event("order_cancelled", total_price="19.98"),
        ],
        NOW,
    )
    assert (stats.orders_placed, stats.orders_cancelled) == (2, 1)
    assert stats.revenue == Decimal("149.97")


def test_threshold_is_strictly_more_than() -> None:
    assert exceeds_threshold(26, 25)
    assert not exceeds_threshold(25, 25)
    assert "0004" in alert_message(30, 25) and "30" in alert_message(30, 25)
