"""HTTP API of the event-logger: counts per code and recent messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel, Field

from merchstore.common.http.app import service_app
from merchstore.common.http.dependencies import app_parts
from merchstore.common.http.errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.messages import SEED_CODES
from merchstore.common.serving.health import ReadinessCheck, not_started
from merchstore.event_logger.adapters.store import EventLogStore


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


@dataclass(frozen=True)
class Parts:
    """What the event-logger's routes use; its entry point builds them."""

    store: EventLogStore


EventLoggerParts = Annotated[Parts, Depends(app_parts(Parts))]

router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["event log"])
_EXAMPLE = {code: 0 for code in SEED_CODES}


# Plain functions: SQLite answers in microseconds, run on the thread pool off the event loop.
@router.get(
    "/events_stats",
    summary="Messages consumed per code",
    responses={200: {"content": {"application/json": {"example": _EXAMPLE}}}},
)
def events_stats(parts: EventLoggerParts) -> dict[str, int]:
    """Messages consumed per code."""
    return parts.store.counts()


@router.get("/event_stats", summary="Same as /events_stats")
def event_stats(parts: EventLoggerParts) -> dict[str, int]:
    """The same counts, at the name some clients use."""
    return parts.store.counts()


@router.get("/events", summary="Recent messages, newest first")
def recent_events(
    parts: EventLoggerParts,
    code: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[EventLogEntry]:
    """The latest stored messages, of one code or all."""
    return [EventLogEntry(**row) for row in parts.store.recent(code, limit)]


def create_app(is_ready: ReadinessCheck = not_started, **options: Any) -> FastAPI:
    """The event-logger's application; its entry point builds its `Parts`."""
    return service_app(
        "event-logger",
        "Consumes `event_log` exactly once and counts messages per code.",
        router,
        is_ready,
        **options,
    )
