"""Error answers shared by every HTTP service: JSON with a human-readable ``detail``."""

from __future__ import annotations

import logging
import sys
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from merchstore.common.http.validation_messages import plain_messages
from merchstore.common.tracing import current_trace_id

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    """Why the request failed, in words."""

    detail: str


class ValidationErrorAnswer(BaseModel):
    """A 422 answer: a readable ``detail``, and the machine-readable ``errors`` when present."""

    detail: str
    errors: list[dict[str, Any]] = Field(default_factory=list)


VALIDATION_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorAnswer, "description": "Invalid input; `detail` says why"}
}
"""Give to every APIRouter: documents 422 as answered, instead of FastAPI's default shape."""

_ECHOED_KEYS = ("input", "ctx", "url")
"""Parts of pydantic's error items that may repeat what the client sent (a password, say)."""


def describe_validation_errors(error: RequestValidationError) -> str:
    """One sentence per problem, e.g. ``password: must have at least 8 characters``."""
    return "; ".join(plain_messages(error.errors())) or "invalid request"


def validation_error_items(error: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, never the submitted values: an answer must not repeat a password."""
    return [
        {key: value for key, value in item.items() if key not in _ECHOED_KEYS}
        for item in error.errors()
    ]


def body_sent_as_other_than_json(content_type: str | None, error: RequestValidationError) -> bool:
    """Whether a body was refused as a whole because it was not sent as JSON.

    ``curl -d '{...}'`` without a JSON content type is the first mistake most people make with
    an API; FastAPI then reads the body as bytes and refuses it as "not a valid dictionary".
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return False
    return any(tuple(item.get("loc", ())) == ("body",) for item in error.errors())


def not_json_detail(content_type: str | None) -> str:
    """What to say of a body that was not sent as JSON."""
    sent = f"it was sent as {content_type}" if content_type else "it was sent with none"
    return f"the body must be JSON, sent with Content-Type: application/json ({sent})"


def install_error_handlers(app: FastAPI) -> None:
    """Validation errors as a readable 422, and any unexpected error as a JSON 500."""

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        content_type = request.headers.get("content-type")
        detail = (
            not_json_detail(content_type)
            if body_sent_as_other_than_json(content_type, error)
            else describe_validation_errors(error)
        )
        return JSONResponse(
            status_code=422,
            content={
                "detail": detail,
                "errors": jsonable_encoder(validation_error_items(error)),
            },
        )

    async def on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
        # The exception's text may hold data (a row, a hash): it goes to the log only.
        trace_id = current_trace_id()
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        detail = "internal error" + (f" (trace id {trace_id})" if trace_id else "")
        return JSONResponse(status_code=500, content={"detail": detail})

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 400 and is_number_too_long(error.__cause__):
            return JSONResponse(status_code=422, content={"detail": NUMBER_TOO_LONG})
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Every method the path has, not only those of the one route that matched first.
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return await http_exception_handler(
            request, StarletteHTTPException(error.status_code, error.detail, headers)
        )

    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)


NUMBER_TOO_LONG = (
    f"the body holds a number of more than {sys.get_int_max_str_digits()} digits, "
    "which is not accepted"
)


def is_number_too_long(cause: BaseException | None) -> bool:
    """Whether parsing a body failed on Python's limit on the digits of an integer.

    FastAPI answers such a body (valid JSON, but one integer longer than the interpreter will
    convert) with a bare 400 "error parsing the body"; it is invalid input like any other, so
    it gets a 422 that says what is wrong.
    """
    return isinstance(cause, ValueError) and "integer string conversion" in str(cause)


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods of every route whose path matches the request's."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match != Match.NONE and route_methods:
            methods.update(route_methods)
    # OPTIONS is not served by any route; HEAD comes with every GET.
    return sorted(methods)
