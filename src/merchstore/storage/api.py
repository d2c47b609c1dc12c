"""HTTP API of storage: events by time, a commit-safe feed for the processor, counts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field

from merchstore.common.dependencies import app_state
from merchstore.common.feed import CURSOR_PATTERN, FEED_START
from merchstore.common.health import ReadinessCheck, not_started
from merchstore.common.http_errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.http_service import service_app
from merchstore.common.messages import MetadataValue
from merchstore.storage.adapters import EventRepository


class StoredEvent(BaseModel):
    """An event as stored, in the contract's format."""

    event_id: str
    event_type: str
    user_id: str
    metadata: dict[str, MetadataValue]
    timestamp: str


class EventFeedPage(BaseModel):
    """A page of the feed and the cursor to ask for the next one."""

    events: list[StoredEvent]
    next_cursor: str = Field(description="Pass as `after` to continue after this page")


class EventCount(BaseModel):
    """How many events are stored (and how many messages were dead letters)."""

    count: int
    dead_letters: int


Events = Annotated[EventRepository, Depends(app_state("repository"))]

router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["events"])


@router.get("/events", summary="Events with start <= timestamp < end, oldest first")
async def events_between(
    repository: Events,
    start: Annotated[AwareDatetime, Query(examples=["2026-11-22T00:00:00Z"])],
    end: Annotated[AwareDatetime, Query(examples=["2026-11-23T00:00:00Z"])],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[StoredEvent]:
    """The events of a half-open time interval."""
    # Compared and queried as given: a time zone can put a bound outside the years 1 to 9999
    # in UTC, where Python cannot convert it but PostgreSQL compares it rightly.
    if end <= start:
        return []  # an empty interval holds no events
    rows = await run_in_threadpool(repository.between, start, end, limit)
    return [StoredEvent(**row) for row in rows]


@router.get("/events/feed", summary="Events stored after a cursor, in commit order")
async def event_feed(
    repository: Events,
    after: Annotated[
        str,
        Query(description="A cursor from a previous page", pattern=CURSOR_PATTERN),
    ] = FEED_START,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> EventFeedPage:
    """The next page of the feed the processor reads."""
    rows, cursor = await run_in_threadpool(repository.feed, after, limit)
    return EventFeedPage(events=[StoredEvent(**row) for row in rows], next_cursor=cursor)


@router.get("/events/count", summary="How many events are stored")
async def event_count(repository: Events) -> EventCount:
    """Stored events and dead letters."""
    count = await run_in_threadpool(repository.count)
    dead = await run_in_threadpool(repository.dead_letter_count)
    return EventCount(count=count, dead_letters=dead)


def create_app(is_ready: ReadinessCheck = not_started, **options: Any) -> FastAPI:
    """Storage's application; its entry point sets ``app.state.repository``."""
    return service_app(
        "storage",
        "Events consumed from Kafka `events`, stored once each in PostgreSQL.",
        router,
        is_ready,
        **options,
    )
