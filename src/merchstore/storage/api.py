"""HTTP API of storage: events by time, a commit-safe feed for the processor, counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from merchstore.common.domain_events import MetadataValue
from merchstore.common.health import ReadinessCheck
from merchstore.common.http_errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.http_service import service_app
from merchstore.storage.repository import FEED_START, EventRepository

_CURSOR = re.compile(r"^\d+:\d+$")


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


def _rfc3339(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name} must be an RFC 3339 timestamp, got {value!r}") from None
    if parsed.tzinfo is None:
        raise HTTPException(422, f"{name} must include a time zone (e.g. Z), got {value!r}")
    return parsed.astimezone(UTC)


def create_app(repository: EventRepository, is_ready: ReadinessCheck, **options: Any) -> FastAPI:
    """The storage FastAPI application over ``repository``."""
    app = service_app(
        "storage",
        "Events consumed from Kafka `events`, stored once each in PostgreSQL.",
        is_ready,
        **options,
    )
    router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["events"])

    @router.get("/events", summary="Events with start <= timestamp < end, oldest first")
    async def events_between(
        start: Annotated[str, Query(examples=["2026-11-22T00:00:00Z"])],
        end: Annotated[str, Query(examples=["2026-11-23T00:00:00Z"])],
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> list[StoredEvent]:
        begin, finish = _rfc3339(start, "start"), _rfc3339(end, "end")
        if finish < begin:
            raise HTTPException(422, "end must not be before start")
        rows = await run_in_threadpool(repository.between, begin, finish, limit)
        return [StoredEvent(**row) for row in rows]

    @router.get("/events/feed", summary="Events stored after a cursor, in commit order")
    async def event_feed(
        after: Annotated[str, Query(description="A cursor from a previous page")] = FEED_START,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> EventFeedPage:
        if not _CURSOR.match(after):
            raise HTTPException(422, f"after must be a cursor like {FEED_START!r}, got {after!r}")
        rows, cursor = await run_in_threadpool(repository.feed, after, limit)
        return EventFeedPage(events=[StoredEvent(**row) for row in rows], next_cursor=cursor)

    @router.get("/events/count", summary="How many events are stored")
    async def event_count() -> EventCount:
        count = await run_in_threadpool(repository.count)
        dead = await run_in_threadpool(repository.dead_letter_count)
        return EventCount(count=count, dead_letters=dead)

    app.include_router(router)
    return app


def documentation_app() -> FastAPI:
    """Storage's routes with no database behind them, to render the OpenAPI document."""
    # Route handlers are never called here, so no repository is needed.
    return create_app(cast(EventRepository, None), lambda: None)
