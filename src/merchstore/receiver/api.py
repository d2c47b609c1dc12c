"""HTTP API of the receiver: one route per player action, answered after the broker's ack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from merchstore.common.domain_events import DomainEvent
from merchstore.common.health import ReadinessCheck
from merchstore.common.http_errors import VALIDATION_ERROR_RESPONSES
from merchstore.common.http_service import service_app
from merchstore.common.kafka import DeliveryFailed
from merchstore.common.openapi import not_served
from merchstore.receiver.domain import (
    DEFAULT_ACTION,
    JOIN_GUILD,
    PURCHASE_KNIFE,
    PURCHASE_SWORD,
    GuildMetadata,
    NoMetadata,
    PlayerAction,
    WeaponMetadata,
    action_event,
)

PublishEvent = Callable[[DomainEvent], Awaitable[None]]

UserId = Field(None, min_length=1, max_length=64, examples=["42"])


class EventAccepted(BaseModel):
    """The broker has the event."""

    message: str
    event_id: str


class ErrorDetail(BaseModel):
    """Why the request was not accepted."""

    detail: str


class WeaponPurchase(BaseModel):
    """Body of a sword or knife purchase (optional)."""

    user_id: str | None = UserId
    metadata: WeaponMetadata = Field(default_factory=WeaponMetadata)


class GuildJoin(BaseModel):
    """Body of joining a guild (optional)."""

    user_id: str | None = UserId
    metadata: GuildMetadata = Field(default_factory=GuildMetadata)


def create_app(publish: PublishEvent, is_ready: ReadinessCheck, **app_options: Any) -> FastAPI:
    """The receiver's FastAPI application; ``publish`` returns once the broker acknowledged."""
    app = service_app(
        "receiver",
        "The game events API: each player action is published to Kafka `events`. "
        "GET on an action path does the same as POST with no body.",
        is_ready,
        **app_options,
    )
    router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["game events"])
    unavailable: dict[int | str, dict[str, Any]] = {
        503: {"model": ErrorDetail, "description": "Kafka is unreachable or too slow"}
    }

    async def accept(
        action: PlayerAction,
        user_id: str | None,
        metadata: WeaponMetadata | GuildMetadata | NoMetadata,
        status_code: int = 201,
    ) -> JSONResponse:
        event = action_event(action, user_id, metadata)
        try:
            await publish(event)
        except (DeliveryFailed, TimeoutError) as error:
            raise HTTPException(503, f"the event could not be published: {error}") from None
        # Built directly: the answer is ours and needs no re-validation on this hot path.
        body = {"message": action.answer, "event_id": str(event.event_id)}
        return JSONResponse(body, status_code=status_code)

    @router.get("/", response_model=EventAccepted, responses=unavailable, summary="Default event")
    async def default_event() -> JSONResponse:
        return await accept(DEFAULT_ACTION, None, NoMetadata(), status_code=200)

    @router.post(
        "/purchase_a_sword", status_code=201, response_model=EventAccepted, responses=unavailable
    )
    async def purchase_a_sword(body: WeaponPurchase | None = None) -> JSONResponse:
        body = body or WeaponPurchase()
        return await accept(PURCHASE_SWORD, body.user_id, body.metadata)

    @router.get(
        "/purchase_a_sword", status_code=201, response_model=EventAccepted, responses=unavailable
    )
    async def purchase_a_sword_by_get() -> JSONResponse:
        return await accept(PURCHASE_SWORD, None, WeaponMetadata())

    @router.post(
        "/purchase_a_knife", status_code=201, response_model=EventAccepted, responses=unavailable
    )
    async def purchase_a_knife(body: WeaponPurchase | None = None) -> JSONResponse:
        body = body or WeaponPurchase()
        return await accept(PURCHASE_KNIFE, body.user_id, body.metadata)

    @router.get(
        "/purchase_a_knife", status_code=201, response_model=EventAccepted, responses=unavailable
    )
    async def purchase_a_knife_by_get() -> JSONResponse:
        return await accept(PURCHASE_KNIFE, None, WeaponMetadata())

    @router.post(
        "/join_guild", status_code=201, response_model=EventAccepted, responses=unavailable
    )
    async def join_guild(body: GuildJoin | None = None) -> JSONResponse:
        body = body or GuildJoin()
        return await accept(JOIN_GUILD, body.user_id, body.metadata)

    @router.get("/join_guild", status_code=201, response_model=EventAccepted, responses=unavailable)
    async def join_guild_by_get() -> JSONResponse:
        return await accept(JOIN_GUILD, None, GuildMetadata())

    app.include_router(router)
    return app


def documentation_app() -> FastAPI:
    """The receiver's routes with no Kafka behind them, to render the OpenAPI document."""
    return create_app(not_served, lambda: None)
