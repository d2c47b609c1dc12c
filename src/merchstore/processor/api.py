"""HTTP API of the processor: the statistics, and a way to run now."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel, Field

from merchstore.common.health import ReadinessCheck
from merchstore.common.http_errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.http_service import add_routes, service_app
from merchstore.common.openapi import not_served
from merchstore.common.timeutil import to_rfc3339
from merchstore.processor.domain import Statistics
from merchstore.processor.runs import RunResult


class OrderStatistics(BaseModel):
    """The store's orders seen on ``events``."""

    placed: int
    cancelled: int
    revenue: str = Field(description="Placed minus cancelled total_price, two decimals")


class RunSummary(BaseModel):
    """What a run did."""

    at: str
    new_events: int
    alerted: bool = Field(description="Whether the run published code 0004")


class StatisticsView(BaseModel):
    """Cumulative statistics over every event stored so far."""

    total_events: int
    counts: dict[str, int]
    orders: OrderStatistics
    last_updated: str | None
    last_run: RunSummary | None


def _summary(run: RunResult | None) -> RunSummary | None:
    if run is None:
        return None
    return RunSummary(at=to_rfc3339(run.at), new_events=run.new_events, alerted=run.alerted)


def create_app(
    statistics: Callable[[], Statistics],
    last_run: Callable[[], RunResult | None],
    run_now: Callable[[], Awaitable[RunResult]],
    is_ready: ReadinessCheck,
    **options: Any,
) -> FastAPI:
    """The processor's FastAPI application."""
    app = service_app(
        "processor",
        "Periodic statistics over the events storage holds.",
        is_ready,
        **options,
    )
    router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["statistics"])

    @router.get("/stats", summary="Cumulative statistics")
    def get_stats() -> StatisticsView:
        current = statistics()
        return StatisticsView(
            total_events=current.total_events,
            counts=dict(current.counts),
            orders=OrderStatistics(
                placed=current.orders_placed,
                cancelled=current.orders_cancelled,
                revenue=f"{current.revenue:.2f}",
            ),
            last_updated=to_rfc3339(current.last_updated) if current.last_updated else None,
            last_run=_summary(last_run()),
        )

    @router.post(
        "/runs",
        summary="Run now instead of waiting for the next period",
        responses={503: {"description": "storage or Kafka is unavailable; nothing was counted"}},
    )
    async def post_run() -> RunSummary:
        try:
            result = await run_now()
        except Exception as error:
            raise HTTPException(503, f"the run failed and will be retried: {error}") from None
        summary = _summary(result)
        assert summary is not None
        return summary

    add_routes(app, router)
    return app


def documentation_app() -> FastAPI:
    """The processor's routes with nothing behind them, to render the OpenAPI document."""
    return create_app(not_served, not_served, not_served, lambda: None)
