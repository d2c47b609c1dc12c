"""HTTP API of storage: events by time, a commit-safe feed for the processor, counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field

from merchstore.common.feed import CURSOR_PATTERN, FEED_START
from merchstore.common.http.app import service_app
from merchstore.common.http.dependencies import app_parts
from merchstore.common.http.errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.messages import MetadataValue
from merchstore.common.serving.health import ReadinessCheck, not_started
from merchstore.storage.adapters import EventRepository


class StoredEvent(BaseModel):
    """An event as stored, in the contract's format."""

    event_id: str
    event_type: str
    user_id: str
    metadata: dict[str, MetadataValue]
    timestamp: str


class FedEvent(StoredEvent):
    """An event of the feed: as stored, with the trace context it was written in."""

    traceparent: str | None = Field(
        None, description="The W3C trace context of the request that made the event, if sent"
    )


class EventFeedPage(BaseModel):
    """A page of the feed and the cursor to ask for the next one."""

    events: list[FedEvent]
    next_cursor: str = Field(description="Pass as `after` to continue after this page")


class EventCount(BaseModel):
    """How many events are stored, and how many messages were set aside (`dead_letters`)."""

    count: int
    dead_letters: int = Field(description="Messages set aside: not events, or refused")


@dataclass(frozen=True)
class Parts:
    """What storage's routes use; its entry point builds them."""

    events: EventRepository


StorageParts = Annotated[Parts, Depends(app_parts(Parts))]

router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["events"])


@router.get("/events", summary="Events with start <= timestamp < end, oldest first")
async def events_between(
    parts: StorageParts,
    start: Annotated[AwareDatetime, Query(examples=["2026-11-22T00:00:00Z"])],
    end: Annotated[AwareDatetime, Query(examples=["2026-11-23T00:00:00Z"])],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[StoredEvent]:
    """The events of a half-open time interval."""
    # Compared and queried as given: a time zone can put a bound outside the years 1 to 9999
    # in UTC, where Python cannot convert it but PostgreSQL compares it rightly.
    if end <= start:
        return []  # an empty interval holds no events
    rows = await run_in_threadpool(parts.events.between, start, end, limit)
    return [StoredEvent(**row) for row in rows]


@router.get("/events/feed", summary="Events stored after a cursor, in commit order")
async def event_feed(
    parts: StorageParts,
    after: Annotated[
        str,
        Query(description="A cursor from a previous page", pattern=CURSOR_PATTERN),
    ] = FEED_START,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> EventFeedPage:
    """The next page of the feed the processor reads."""
    rows, cursor = await run_in_threadpool(parts.events.feed, after, limit)
    return EventFeedPage(events=[FedEvent(**row) for row in rows], next_cursor=cursor)


@router.get("/events/count", summary="How many events are stored")
async def event_count(parts: StorageParts) -> EventCount:
    """Stored events and the messages set aside (the contract's `dead_letters`)."""
    count = await run_in_threadpool(parts.events.count)
    set_aside = await run_in_threadpool(parts.events.set_aside_count)
    return EventCount(count=count, dead_letters=set_aside)


def create_app(is_ready: ReadinessCheck = not_started, **options: Any) -> FastAPI:
    """Storage's application; its entry point builds its `Parts`."""
    return service_app(
        "storage",
        "Events consumed from Kafka `events`, stored once each in PostgreSQL.",
        router,
        is_ready,
        **options,
    )
