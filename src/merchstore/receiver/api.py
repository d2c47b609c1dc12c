"""HTTP API of the receiver: one route per player action, answered after the broker's ack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError

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


IDEMPOTENCY_KEY = "Idempotency-Key"
_IDEMPOTENCY_KEY_DESCRIPTION = (
    "Retry-safe: requests with the same key, path and user_id carry the same event_id, and "
    "storage keeps that event once, however often it was retried"
)
_IdempotencyKeyValue = TypeAdapter(Annotated[str, StringConstraints(min_length=1, max_length=255)])
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_KEY,
    "in": "header",
    "required": False,
    "description": _IDEMPOTENCY_KEY_DESCRIPTION,
    "schema": {
        "anyOf": [_IdempotencyKeyValue.json_schema(), {"type": "null"}],
        "title": IDEMPOTENCY_KEY,
        "description": _IDEMPOTENCY_KEY_DESCRIPTION,
    },
}
"""The optional ``Idempotency-Key`` header as the API document describes it."""


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` (1 to 255 characters), None without one.

    Read here rather than declared as a header parameter, whose extraction FastAPI works out
    anew for every request: about 24 µs of the route's 150 µs measured in process. A key of the
    wrong length is refused as a parameter would be, with pydantic's own error, located at the
    header; `IDEMPOTENCY_KEY_PARAMETER` documents it as FastAPI did.
    """
    value = request.headers.get(IDEMPOTENCY_KEY)
    if value is None:
        return None
    try:
        return _IdempotencyKeyValue.validate_python(value)
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("header", IDEMPOTENCY_KEY)} for item in error.errors()]
        ) from None


UserIdQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="Who did it, as `user_id` in a POST body (`GET /join_guild?user_id=7`)",
        json_schema_extra=CLEAN_TEXT_SCHEMA,
    ),
]

HEADER_PARAMETERS = {"parameters": [IDEMPOTENCY_KEY_PARAMETER]}
"""Documents the header each action route reads itself (`idempotency_key`)."""

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
    openapi_extra=HEADER_PARAMETERS,
)
async def default_event(parts: ReceiverParts, request: Request) -> JSONResponse:
    """The default action, answered 200 as the classic receiver did."""
    key = idempotency_key(request)
    return await accept(parts, DEFAULT_ACTION, None, None, key, status_code=200)


def _add_action_routes(action: PlayerAction) -> None:
    """POST (optional body) and GET (no body) routes of one action, from its table entry."""
    name = action.path.strip("/")

    async def by_post(
        parts: ReceiverParts, request: Request, body: ActionBody | None = None
    ) -> JSONResponse:
        body = body or ActionBody()
        key = idempotency_key(request)
        return await accept(parts, action, body.user_id, body.metadata, key)

    async def by_get(
        parts: ReceiverParts, request: Request, user_id: UserIdQuery = None
    ) -> JSONResponse:
        return await accept(parts, action, user_id, None, idempotency_key(request))

    documented: dict[str, Any] = {
        "status_code": 201,
        "response_model": EventAccepted,
        "responses": UNAVAILABLE,
        "summary": f"{action.answer.rstrip('!')} ({action.event_type})",
        "openapi_extra": HEADER_PARAMETERS,
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
