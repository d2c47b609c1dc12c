"""What store-api's routes depend on, typed.

The db-service client, the product answers kept here (and the reads that use them), the
token issuer and the user a bearer token names.

The entry point puts the parts in ``app.state``; routes name them by type (``store: Store``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from merchstore.common.dependencies import app_state
from merchstore.store_api import schemas
from merchstore.store_api.db_client import StoreCallFailed, StoreDataClient, StoreFailure
from merchstore.store_api.domain import InvalidToken
from merchstore.store_api.product_cache import ProductCache
from merchstore.store_api.products import ProductAnswers
from merchstore.store_api.security import TokenIssuer

Store = Annotated[StoreDataClient, Depends(app_state("store"))]
"""The db-service client (created inside the server's event loop, which gRPC channels need)."""
Products = Annotated[ProductCache, Depends(app_state("product_cache"))]
"""The product answers this replica keeps for a moment (orders clear them)."""
ProductReads = Annotated[ProductAnswers, Depends(app_state("products"))]
"""Product answers from that cache, loaded from db-service on a miss."""
Tokens = Annotated[TokenIssuer, Depends(app_state("tokens"))]
"""This deployment's token issuer."""

_bearer = HTTPBearer(auto_error=False, description="A token from POST /users/login")


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(401, detail, {"WWW-Authenticate": "Bearer"})


async def current_user(
    store: Store,
    tokens: Tokens,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> schemas.User:
    """The active user the bearer token names; 401 otherwise."""
    if credentials is None:
        raise _unauthenticated("not authenticated")
    try:
        claims = tokens.read(credentials.credentials)
    except InvalidToken as error:
        raise _unauthenticated(str(error)) from None
    try:
        # Every request checks the user is still active: deactivation takes effect at once.
        account = await store.get_user(claims.user_id)
    except StoreCallFailed as error:
        if error.failure is StoreFailure.NOT_FOUND:
            raise _unauthenticated("the user no longer exists or is deactivated") from None
        raise
    try:
        claims.check_current(account.token_generation)
    except InvalidToken as error:
        raise _unauthenticated(str(error)) from None
    return account.user


CurrentUser = Annotated[schemas.User, Depends(current_user)]
