"""Error answers shared by every HTTP service: JSON with a human-readable ``detail``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class ValidationErrorAnswer(BaseModel):
    """A 422 answer: a readable ``detail``, and the machine-readable ``errors`` when present."""

    detail: str
    errors: list[dict[str, Any]] = Field(default_factory=list)


VALIDATION_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorAnswer, "description": "Invalid input; `detail` says why"}
}
"""Give to every APIRouter: documents 422 as answered, instead of FastAPI's default shape."""


def describe_validation_errors(error: RequestValidationError) -> str:
    """One sentence per problem, e.g. ``body.metadata.price: Input should be ...``."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Make request validation errors a 422 whose ``detail`` is a readable string."""

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return JSONResponse(
            status_code=422,
            content={
                "detail": describe_validation_errors(error),
                "errors": jsonable_encoder(error.errors()),
            },
        )

    app.add_exception_handler(RequestValidationError, on_validation_error)
