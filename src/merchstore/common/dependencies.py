"""FastAPI dependencies every service uses: what its entry point keeps in ``app.state``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request


def app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency giving ``app.state.<name>`` of the application serving the request.

    Routes declare what they need by type, ``Annotated[Store, Depends(app_state("store"))]``;
    the service's entry point puts the real part there, so the routes never build it.
    """

    async def from_app_state(request: Request) -> Any:
        return getattr(request.app.state, name)

    from_app_state.__name__ = f"app_state_{name}"
    return from_app_state
