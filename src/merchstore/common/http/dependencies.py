"""The one typed way a route reaches its service's parts: ``Annotated[Parts, Depends(...)]``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from fastapi import Request

PartsT = TypeVar("PartsT")


def app_parts(kind: type[PartsT]) -> Callable[[Request], Awaitable[PartsT]]:
    """A dependency giving the parts (of type ``kind``) the serving application was started with.

    Each service's ``api.py`` declares the dataclass of what its routes need, and its entry
    point builds one (``serve_http`` keeps it as ``app.state.parts``): routes name one typed
    dependency, never an attribute by string.
    """

    async def parts(request: Request) -> PartsT:
        return cast(PartsT, request.app.state.parts)

    parts.__name__ = f"{kind.__name__.lower()}_of_the_app"
    # What it gives, for whoever inspects the routes' dependencies (not the type variable).
    parts.__annotations__ = {"request": Request, "return": kind}
    return parts
