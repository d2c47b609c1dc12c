"""HTTP API of the merch store: products, users, orders, JWT authentication.

Routes reach what they use through one typed dependency (``parts: StoreParts``), which the
entry point builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
)
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from merchstore.common.http.app import service_app
from merchstore.common.http.dependencies import app_parts
from merchstore.common.http.errors import VALIDATION_ERROR_RESPONSES, ErrorDetail
from merchstore.common.logs.requests import RequestLogging
from merchstore.common.serving.health import ReadinessCheck, not_started
from merchstore.store_api import domain
from merchstore.store_api.adapters.db_client import StoreCallFailed, StoreDataClient, StoreFailure
from merchstore.store_api.adapters.product_cache import ProductCache
from merchstore.store_api.adapters.tokens import TokenIssuer
from merchstore.store_api.domain import InvalidToken
from merchstore.store_api.use_cases import ProductAnswers


@dataclass(frozen=True)
class Parts:
    """What store-api's routes use; its entry point builds them."""

    store: StoreDataClient
    """The db-service client (created inside the server's event loop, which gRPC needs)."""
    products: ProductAnswers
    """Product answers kept by this replica for a moment, loaded from db-service on a miss."""
    product_cache: ProductCache
    """Where those answers are kept (orders clear it)."""
    tokens: TokenIssuer
    """This deployment's token issuer."""


StoreParts = Annotated[Parts, Depends(app_parts(Parts))]


_bearer = HTTPBearer(auto_error=False, description="A token from POST /users/login")


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(401, detail, {"WWW-Authenticate": "Bearer"})


async def current_user(
    parts: StoreParts,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> domain.User:
    """The active user the bearer token names; 401 otherwise."""
    if credentials is None:
        raise _unauthenticated("not authenticated")
    try:
        claims = parts.tokens.read(credentials.credentials)
    except InvalidToken as error:
        raise _unauthenticated(str(error)) from None
    try:
        # Every request checks the user is still active: deactivation takes effect at once.
        account = await parts.store.get_user(claims.user_id)
    except StoreCallFailed as error:
        if error.failure is StoreFailure.NOT_FOUND:
            raise _unauthenticated("the user no longer exists or is deactivated") from None
        raise
    try:
        claims.check_current(account.token_generation)
    except InvalidToken as error:
        raise _unauthenticated(str(error)) from None
    return account.user


CurrentUser = Annotated[domain.User, Depends(current_user)]


WELCOME = "Welcome to the SUSTech Merch Store!"


class AccessToken(BaseModel):
    """A bearer token for the Authorization header."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


Id = Annotated[int, Path(ge=1, le=domain.MAX_ID)]


HTTP_STATUS = {
    StoreFailure.NOT_FOUND: 404,
    StoreFailure.TAKEN: 409,
    StoreFailure.CONFLICT: 409,
    StoreFailure.INVALID: 422,
    StoreFailure.UNAUTHENTICATED: 401,
    StoreFailure.FORBIDDEN: 403,
    StoreFailure.THROTTLED: 429,
    StoreFailure.UNAVAILABLE: 503,
    StoreFailure.INTERNAL: 500,
}
"""The HTTP status of each way a store call can fail: decided here, at the HTTP edge."""


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "Missing, invalid or expired token, or wrong credentials",
        429: "Too many failed logins for this username; see Retry-After",
        403: "A valid token acting on another user's resource",
        404: "Not found",
        409: "Conflict",
        503: "The store's data service is unavailable",
    }
    return {code: {"model": ErrorDetail, "description": descriptions[code]} for code in codes}


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def require_self(user: domain.User, user_id: int) -> None:
    """403 unless the caller acts on their own account."""
    if user.id != user_id:
        raise HTTPException(403, "you can only act on your own account")


class ServedByHeader:
    """ASGI middleware adding ``X-Served-By`` to every answer, so load balancing is visible."""

    def __init__(self, app: ASGIApp, served_by: str) -> None:
        self._app = app
        self._header = (b"x-served-by", served_by.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the header to the response start."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self._header]
            await send(message)

        await self._app(scope, receive, send_with_header)


router = APIRouter(responses=VALIDATION_ERROR_RESPONSES)


@router.get("/", tags=["store"], summary="Welcome")
async def welcome() -> dict[str, str]:
    """The store's greeting."""
    return {"message": WELCOME}


# Answered with JSON encoded once per load, so a kept answer costs no encoding at all.
@router.get(
    "/products",
    tags=["products"],
    response_model=list[domain.Product],
    responses=_errors(503),
)
async def list_products(parts: StoreParts) -> Response:
    """Every product with its price and stock."""
    return _json(await parts.products.every_product())


@router.get(
    "/products/{id}",
    tags=["products"],
    response_model=domain.Product,
    responses=_errors(404, 503),
)
async def get_product(id: Id, parts: StoreParts) -> Response:
    """One product."""
    return _json(await parts.products.product(id))


@router.post("/users/register", status_code=201, tags=["users"], responses=_errors(409, 503))
async def register(registration: domain.UserRegistration, parts: StoreParts) -> domain.User:
    """Create an account; the password is stored only as an argon2 hash."""
    return await parts.store.create_user(registration)


@router.post("/users/login", tags=["users"], responses=_errors(401, 429, 503))
async def login(credentials: domain.Credentials, parts: StoreParts) -> AccessToken:
    """Exchange a username and password for a bearer token."""
    account = await parts.store.authenticate(credentials)
    token = parts.tokens.issue(account.user.id, account.token_generation)
    return AccessToken(access_token=token, expires_in=parts.tokens.ttl_s)


# A user's id stays an integer in the path itself: /users/login and /users/register share the
# prefix, and PATCH /users/login is a method the route does not have (405), not a bad id.
@router.get("/users/{id:int}", tags=["users"], responses=_errors(401, 403, 404, 503))
async def get_user(id: Id, user: CurrentUser) -> domain.User:
    """Your own account."""
    require_self(user, id)
    return user


@router.patch("/users/{id:int}", tags=["users"], responses=_errors(401, 403, 404, 409, 503))
async def update_user(
    id: Id,
    changes: domain.UserChanges,
    user: CurrentUser,
    parts: StoreParts,
) -> domain.User:
    """Change your email and/or password.

    A new password needs `current_password`, and it revokes every token issued before.
    """
    require_self(user, id)
    if changes.email is None and changes.password is None:
        raise HTTPException(422, "give an email and/or a password to change")
    return await parts.store.update_user(id, changes)


@router.delete(
    "/users/{id:int}", status_code=204, tags=["users"], responses=_errors(401, 403, 404, 503)
)
async def deactivate_user(id: Id, user: CurrentUser, parts: StoreParts) -> Response:
    """Deactivate your account; every token of it stops working at once."""
    require_self(user, id)
    await parts.store.deactivate_user(id)
    return Response(status_code=204)


@router.post("/orders", status_code=201, tags=["orders"], responses=_errors(401, 404, 409, 503))
async def place_order(
    order: domain.OrderRequest,
    user: CurrentUser,
    parts: StoreParts,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Retry-safe: a repeat with the same key and body answers the "
            "first order again and moves no stock; another body with it answers 422",
        ),
    ] = None,
) -> domain.Order:
    """Order a quantity of one product; the stock moves in the same transaction."""
    try:
        return await parts.store.place_order(user.id, order, idempotency_key)
    except StoreCallFailed as error:
        if error.failure is StoreFailure.UNAVAILABLE:
            # The order may have been committed before the failure: say how to be sure.
            error.detail = (
                f"{error.detail}; the order may or may not have been placed: retry with "
                "the same Idempotency-Key to place it exactly once"
            )
        raise
    finally:
        # Stock may have moved (even when the answer is an error): read it afresh.
        parts.product_cache.invalidate()


@router.get("/orders", tags=["orders"], responses=_errors(401, 503))
async def list_orders(
    user: CurrentUser,
    parts: StoreParts,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=200, description="Orders per page")] = 50,
    after: Annotated[
        int, Query(ge=0, le=domain.MAX_ID, description="Order id to continue after")
    ] = 0,
) -> list[domain.Order]:
    """Your orders, oldest first, a page at a time (the `Link` header gives the next page)."""
    orders, next_after = await parts.store.list_orders(user.id, limit, after)
    if next_after:
        # The next page, as RFC 8288 says: the body stays the plain list of the contract.
        response.headers["Link"] = f'</orders?limit={limit}&after={next_after}>; rel="next"'
    return orders


@router.get("/orders/{id}", tags=["orders"], responses=_errors(401, 403, 404, 503))
async def get_order(id: Id, user: CurrentUser, parts: StoreParts) -> domain.Order:
    """One of your orders."""
    return await parts.store.get_order(id, user.id)


@router.delete("/orders/{id}", tags=["orders"], responses=_errors(401, 403, 404, 409, 503))
async def cancel_order(id: Id, user: CurrentUser, parts: StoreParts) -> domain.Order:
    """Cancel one of your orders; its stock is put back once."""
    try:
        return await parts.store.cancel_order(id, user.id)
    finally:
        parts.product_cache.invalidate()


async def store_error(request: Request, error: Exception) -> JSONResponse:
    """A failed store call, answered with the HTTP status of its kind of failure."""
    failed = cast(StoreCallFailed, error)
    headers = {"Retry-After": str(failed.retry_after_s)} if failed.retry_after_s else {}
    return JSONResponse(
        {"detail": failed.detail}, status_code=HTTP_STATUS[failed.failure], headers=headers
    )


def create_app(
    is_ready: ReadinessCheck = not_started, log_probes: bool = False, **options: Any
) -> FastAPI:
    """The store-api application.

    Its entry point builds its `Parts` (the db-service client inside the server's event
    loop: gRPC channels belong to the loop that creates them) and adds :class:`ServedByHeader`.
    """
    app = service_app(
        "store-api",
        "The SUSTech merch store: products, users and orders. "
        "Authenticate with `Authorization: Bearer <token>` from `POST /users/login`.",
        router,
        is_ready,
        **options,
    )
    app.add_exception_handler(StoreCallFailed, store_error)
    app.add_middleware(
        RequestLogging, logger_name="merchstore.store_api.requests", log_probes=log_probes
    )
    return app
