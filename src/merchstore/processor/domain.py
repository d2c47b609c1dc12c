"""Cumulative statistics over events, and the rule for the 0004 alert (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from merchstore.common.messages import EVENT_TYPES


@dataclass(frozen=True)
class Statistics:
    """Totals since the first event: per type, and the store's orders and revenue."""

    total_events: int = 0
    counts: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0))
    orders_placed: int = 0
    orders_cancelled: int = 0
    revenue: Decimal = Decimal("0.00")
    last_updated: datetime | None = None

    def with_events(self, events: Iterable[Mapping[str, Any]], now: datetime) -> Statistics:
        """These statistics with ``events`` added (events are contract-format dicts)."""
        counts = dict(self.counts)
        total, placed, cancelled, revenue = self.total_events, 0, 0, self.revenue
        for event in events:
            event_type = str(event["event_type"])
            counts[event_type] = counts.get(event_type, 0) + 1
            total += 1
            if event_type == "order_placed":
                placed += 1
                revenue += _money(event)
            elif event_type == "order_cancelled":
                cancelled += 1
                revenue -= _money(event)
        return replace(
            self,
            total_events=total,
            counts=counts,
            orders_placed=self.orders_placed + placed,
            orders_cancelled=self.orders_cancelled + cancelled,
            revenue=revenue,
            last_updated=now,
        )


def _money(event: Mapping[str, Any]) -> Decimal:
    """The event's ``total_price``, or 0 when it is not a finite amount of money.

    Anyone who can write to ``events`` can forge an order: ``"NaN"`` or ``"Infinity"`` passes
    ``quantize`` and, once summed, would make the revenue "NaN" for good.
    """
    raw = event.get("metadata", {}).get("total_price", "0")
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        return Decimal("0.00")
    try:
        amount = Decimal(str(raw))
        if not amount.is_finite():
            return Decimal("0.00")
        return amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal("0.00")


def exceeds_threshold(new_events: int, threshold: int) -> bool:
    """Whether one run received more events than the threshold (code 0004)."""
    return new_events > threshold


def alert_message(new_events: int, threshold: int) -> str:
    """The text of a 0004 message."""
    return (
        f"Processor received {new_events} new events in one run, more than the threshold of "
        f"{threshold} (code 0004)"
    )
