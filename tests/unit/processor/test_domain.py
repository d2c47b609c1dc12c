"""Statistics and the 0004 rule (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from merchstore.processor.adapters.state import ProcessorState
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


@pytest.mark.parametrize(
    "forged",
    ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "1e999999999", float("nan"), True, []],
)
def test_a_forged_price_that_is_not_a_finite_amount_is_not_summed(forged: object) -> None:
    placed = {"event_type": "order_placed", "metadata": {"total_price": forged}}
    stats = Statistics().with_events([event("order_placed", total_price="10.00"), placed], NOW)
    stats = stats.with_events([event("order_placed", total_price="5.50")], NOW)
    assert stats.revenue == Decimal("15.50")
    assert stats.orders_placed == 3  # counted, without its price


def test_a_revenue_saved_as_nan_before_prices_were_checked_starts_over(tmp_path: Path) -> None:
    state = ProcessorState(tmp_path / "state.sqlite3")
    state.save_run(Statistics(revenue=Decimal("NaN")), "cursor", None)
    statistics, _ = ProcessorState(tmp_path / "state.sqlite3").load()
    assert statistics.revenue.is_finite()
