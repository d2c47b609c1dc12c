"""HTTP API of the event-logger: counts per code and recent messages."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, Field

from merchstore.common.event_log import SEED_CODES
from merchstore.common.health import ReadinessCheck
from merchstore.common.http_errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.http_service import add_routes, service_app
from merchstore.event_logger.store import EventLogStore


class EventLogEntry(BaseModel):
    """One stored ``event_log`` message."""

    id: int
    code: str
    message: str
    service: str | None
    sent_at: str | None = Field(description="The producer's timestamp, as sent")
    written_at: str = Field(description="When the event-logger stored it (RFC 3339, UTC)")
    partition: int
    offset: int


def create_app(store: EventLogStore, is_ready: ReadinessCheck, **app_options: Any) -> FastAPI:
    """The event-logger's FastAPI application over ``store``."""
    app = service_app(
        "event-logger",
        "Consumes `event_log` exactly once and counts messages per code.",
        is_ready,
        **app_options,
    )
    router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["event log"])
    example = {code: 0 for code in SEED_CODES}

    @router.get(
        "/events_stats",
        summary="Messages consumed per code",
        responses={200: {"content": {"application/json": {"example": example}}}},
    )
    def events_stats() -> dict[str, int]:
        return store.counts()

    @router.get("/event_stats", summary="Same as /events_stats")
    def event_stats() -> dict[str, int]:
        return store.counts()

    @router.get("/events", summary="Recent messages, newest first")
    def recent_events(
        code: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> list[EventLogEntry]:
        return [EventLogEntry(**row) for row in store.recent(code, limit)]

    add_routes(app, router)
    return app


def documentation_app() -> FastAPI:
    """The event-logger's routes with no database behind them, to render the document."""
    # Route handlers are never called here, so no store is needed.
    return create_app(cast(EventLogStore, None), lambda: None)
