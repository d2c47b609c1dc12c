"""Error answers shared by every HTTP service: JSON with a human-readable ``detail``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from merchstore.common.log_shipping import trace_id_var

log = logging.getLogger(__name__)


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
    """One sentence per problem, e.g. ``body.metadata.price: Input should be ...``."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def validation_error_items(error: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, never the submitted values: an answer must not repeat a password."""
    return [
        {key: value for key, value in item.items() if key not in _ECHOED_KEYS}
        for item in error.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Validation errors as a readable 422, and any unexpected error as a JSON 500."""

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return JSONResponse(
            status_code=422,
            content={
                "detail": describe_validation_errors(error),
                "errors": jsonable_encoder(validation_error_items(error)),
            },
        )

    async def on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
        # The exception's text may hold data (a row, a hash): it goes to the log only.
        trace_id = trace_id_var.get()
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        detail = "internal error" + (f" (trace id {trace_id})" if trace_id else "")
        return JSONResponse(status_code=500, content={"detail": detail})

    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected_error)
