"""HTTP API of the receiver: one route per player action, answered after the broker's ack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from merchstore.common.clean_text import CLEAN_TEXT_SCHEMA
from merchstore.common.http.app import service_app
from merchstore.common.http.dependencies import app_parts
from merchstore.common.http.errors import VALIDATION_ERROR_RESPONSES, ErrorDetail
from merchstore.common.kafka.delivery import DeliveryFailed
from merchstore.common.messages import MetadataValue
from merchstore.common.serving.health import ReadinessCheck, not_started
from merchstore.receiver.domain import (
    ACTIONS,
    DEFAULT_ACTION,
    ActionBody,
    PlayerAction,
)
from merchstore.receiver.use_cases import PlayerActions


@dataclass(frozen=True)
class Parts:
    """What the receiver's routes use; its entry point builds them."""

    actions: PlayerActions


ReceiverParts = Annotated[Parts, Depends(app_parts(Parts))]


class EventAccepted(BaseModel):
    """The broker has the event."""

    message: str
    event_id: str


UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorDetail, "description": "Kafka is unreachable or too slow"}
}


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retry-safe: requests with the same key, path and user_id carry the same "
        "event_id, and storage keeps that event once, however often it was retried",
    ),
]

UserIdQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="Who did it, as `user_id` in a POST body (`GET /join_guild?user_id=7`)",
        json_schema_extra=CLEAN_TEXT_SCHEMA,
    ),
]

router = APIRouter(responses=VALIDATION_ERROR_RESPONSES, tags=["game events"])


async def accept(
    parts: Parts,
    action: PlayerAction,
    user_id: str | None,
    metadata: dict[str, MetadataValue] | None,
    idempotency_key: str | None,
    status_code: int = 201,
) -> JSONResponse:
    """Publish ``action``'s event; answer once the broker has it (503 if it cannot)."""
    try:
        event = await parts.actions.record(action, user_id, metadata, idempotency_key)
    except DeliveryFailed as error:
        # Not acknowledged is not "not written": the broker may hold it. Say how to be sure.
        raise HTTPException(
            503,
            f"the event could not be published: {error}; it may or may not have been written: "
            "retry with the same Idempotency-Key to store it exactly once",
        ) from None
    # Built directly: the answer is ours and needs no re-validation on this hot path.
    body = {"message": action.answer, "event_id": str(event.event_id)}
    return JSONResponse(body, status_code=status_code)


@router.get(
    DEFAULT_ACTION.path,
    response_model=EventAccepted,
    responses=UNAVAILABLE,
    summary="Default event",
)
async def default_event(
    parts: ReceiverParts, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """The default action, answered 200 as the classic receiver did."""
    return await accept(parts, DEFAULT_ACTION, None, None, idempotency_key, status_code=200)


def _add_action_routes(action: PlayerAction) -> None:
    """POST (optional body) and GET (no body) routes of one action, from its table entry."""
    name = action.path.strip("/")

    async def by_post(
        parts: ReceiverParts,
        body: ActionBody | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        body = body or ActionBody()
        return await accept(parts, action, body.user_id, body.metadata, idempotency_key)

    async def by_get(
        parts: ReceiverParts, user_id: UserIdQuery = None, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        return await accept(parts, action, user_id, None, idempotency_key)

    documented: dict[str, Any] = {
        "status_code": 201,
        "response_model": EventAccepted,
        "responses": UNAVAILABLE,
        "summary": f"{action.answer.rstrip('!')} ({action.event_type})",
    }
    router.add_api_route(
        action.path, by_post, methods=["POST"], operation_id=f"{name}_post", **documented
    )
    router.add_api_route(
        action.path, by_get, methods=["GET"], operation_id=f"{name}_get", **documented
    )


for _action in ACTIONS:
    _add_action_routes(_action)


def create_app(is_ready: ReadinessCheck = not_started, **options: Any) -> FastAPI:
    """The receiver's application; its entry point builds its `Parts`."""
    return service_app(
        "receiver",
        "The game events API: each player action is published to Kafka `events`. "
        "GET on an action path does the same as POST with no body.",
        router,
        is_ready,
        **options,
    )
