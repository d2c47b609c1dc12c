"""HTTP API of the processor: the statistics, and a way to run now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field

from merchstore.common.http.app import service_app
from merchstore.common.http.dependencies import app_parts
from merchstore.common.http.errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.serving.health import ReadinessCheck, not_started
from merchstore.common.timeutil import to_rfc3339
from merchstore.processor.domain import Statistics
from merchstore.processor.use_cases import RunResult, SeenOrder


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
    trace_id: str | None = Field(None, description="The run's trace, when it was recorded")


class RecentOrder(BaseModel):
    """An order event a recent run counted."""

    event_type: str
    order_id: str
    total_price: str
    timestamp: str
    trace_id: str | None = Field(
        None, description="The trace of the request that made it, when it was recorded"
    )


class StatisticsView(BaseModel):
    """Cumulative statistics over every event stored so far."""

    total_events: int
    counts: dict[str, int]
    orders: OrderStatistics
    last_updated: str | None
    last_run: RunSummary | None
    recent_runs: list[RunSummary] = Field(description="The latest runs that counted events")
    recent_orders: list[RecentOrder] = Field(description="The latest order events counted")


def _summary(run: RunResult | None) -> RunSummary | None:
    return None if run is None else _run_summary(run)


def _run_summary(run: RunResult) -> RunSummary:
    return RunSummary(
        at=to_rfc3339(run.at), new_events=run.new_events, alerted=run.alerted, trace_id=run.trace_id
    )


class StatisticsService(Protocol):
    """What the processor's routes need: the saved statistics, the last run, a run now."""

    def statistics(self) -> Statistics:
        """The statistics as last saved."""
        ...

    @property
    def last_run(self) -> RunResult | None:
        """What the latest run did, if one ran."""
        ...

    @property
    def recent_runs(self) -> Sequence[RunResult]:
        """The latest runs that counted events, oldest first."""
        ...

    @property
    def recent_orders(self) -> Sequence[SeenOrder]:
        """The latest order events counted, oldest first."""
        ...

    async def run_now(self) -> RunResult:
        """Run at once (after the run under way, if any)."""
        ...


@dataclass(frozen=True)
class Parts:
    """What the processor's routes use; its entry point builds them."""

    statistics: StatisticsService


ProcessorParts = Annotated[Parts, Depends(app_parts(Parts))]

router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["statistics"])


@router.get("/stats", summary="Cumulative statistics")
def get_stats(parts: ProcessorParts) -> StatisticsView:
    """The statistics as the last run saved them."""
    current = parts.statistics.statistics()
    return StatisticsView(
        total_events=current.total_events,
        counts=dict(current.counts),
        orders=OrderStatistics(
            placed=current.orders_placed,
            cancelled=current.orders_cancelled,
            revenue=f"{current.revenue:.2f}",
        ),
        last_updated=to_rfc3339(current.last_updated) if current.last_updated else None,
        last_run=_summary(parts.statistics.last_run),
        recent_runs=[_run_summary(run) for run in reversed(parts.statistics.recent_runs)],
        recent_orders=[
            RecentOrder(**asdict(order)) for order in reversed(parts.statistics.recent_orders)
        ],
    )


@router.post(
    "/runs",
    summary="Run now instead of waiting for the next period",
    responses={503: {"description": "storage or Kafka is unavailable; nothing was counted"}},
)
async def post_run(parts: ProcessorParts) -> RunSummary:
    """One run now; 503 if it failed (the next period retries it)."""
    try:
        result = await parts.statistics.run_now()
    except Exception as error:
        raise HTTPException(503, f"the run failed and will be retried: {error}") from None
    summary = _summary(result)
    assert summary is not None
    return summary


def create_app(is_ready: ReadinessCheck = not_started, **options: Any) -> FastAPI:
    """The processor's application; its entry point builds its `Parts`."""
    return service_app(
        "processor",
        "Periodic statistics over the events storage holds.",
        router,
        is_ready,
        **options,
    )
