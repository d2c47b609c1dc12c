"""gRPC adapter of store-api: one long-lived channel to db-service, deadlines on every call."""

from __future__ import annotations

from collections.abc import Awaitable
from enum import Enum
from typing import Any, NamedTuple, TypeVar

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from merchstore.common.config.grpc_tls import TlsMaterial
from merchstore.common.grpc_channels import open_aio_channel
from merchstore.common.logs.requests import request_metadata
from merchstore.common.tracing import current_trace_id
from merchstore.protos import store_pb2, store_pb2_grpc
from merchstore.store_api import domain

T = TypeVar("T")


class StoreFailure(Enum):
    """Why a call to db-service failed, in the store's words (the HTTP layer picks statuses)."""

    NOT_FOUND = "not found"
    TAKEN = "already taken"
    CONFLICT = "conflict"
    INVALID = "invalid"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


FAILURE_OF_CODE = {
    grpc.StatusCode.RESOURCE_EXHAUSTED: StoreFailure.THROTTLED,
    grpc.StatusCode.NOT_FOUND: StoreFailure.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: StoreFailure.TAKEN,
    grpc.StatusCode.FAILED_PRECONDITION: StoreFailure.CONFLICT,
    grpc.StatusCode.INVALID_ARGUMENT: StoreFailure.INVALID,
    grpc.StatusCode.UNAUTHENTICATED: StoreFailure.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED: StoreFailure.FORBIDDEN,
    grpc.StatusCode.UNAVAILABLE: StoreFailure.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: StoreFailure.UNAVAILABLE,
}

# Reconnect quickly after db-service restarts (gRPC's default back-off grows to 120 s).
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


class StoreCallFailed(Exception):
    """A call to db-service failed: ``failure`` says why, ``detail`` says it to a client."""

    def __init__(
        self, failure: StoreFailure, detail: str, retry_after_s: int | None = None
    ) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail
        self.retry_after_s = retry_after_s


def _failure(error: grpc.aio.AioRpcError) -> StoreCallFailed:
    """What a failed call means; unexpected failures never pass their text on."""
    failure = FAILURE_OF_CODE.get(error.code(), StoreFailure.INTERNAL)
    if failure is StoreFailure.INTERNAL:
        trace_id = current_trace_id() or "none"
        return StoreCallFailed(failure, f"internal error (trace id {trace_id})")
    if failure is StoreFailure.THROTTLED:
        retry_after = dict(error.trailing_metadata() or ()).get("retry-after", "60")
        return StoreCallFailed(failure, error.details() or "", int(str(retry_after)))
    if failure is StoreFailure.UNAVAILABLE:
        return StoreCallFailed(
            failure,
            f"the store's data service is unavailable ({error.code().name}): "
            f"{error.details() or 'try again'}",
            retry_after_s=1,
        )
    return StoreCallFailed(failure, error.details() or error.code().name)


class UserAccount(NamedTuple):
    """A user and the generation of tokens currently valid for them."""

    user: domain.User
    token_generation: int


def _product(message: store_pb2.Product) -> domain.Product:
    return domain.Product(
        id=message.id,
        name=message.name,
        description=message.description,
        category=message.category,
        price=message.price,
        slogan=message.slogan,
        stock=message.stock,
        created_at=message.created_at,
    )


def _user(message: store_pb2.User) -> domain.User:
    return domain.User(
        id=message.id,
        sid=message.sid,
        username=message.username,
        email=message.email,
        created_at=message.created_at,
    )


def _order(message: store_pb2.Order) -> domain.Order:
    return domain.Order(
        id=message.id,
        user_id=message.user_id,
        product_id=message.product_id,
        quantity=message.quantity,
        total_price=message.total_price,
        status=message.status,
        created_at=message.created_at,
    )


class StoreDataClient:
    """The store's data, as seen through db-service."""

    def __init__(self, target: str, timeout_s: float, tls: TlsMaterial | None = None) -> None:
        # OpenTelemetry's interceptors: each call is a CLIENT span, its context in `traceparent`.
        self._channel = open_aio_channel(
            target,
            tls,
            options=CHANNEL_OPTIONS,
            interceptors=aio_client_interceptors(),  # type: ignore[no-untyped-call]
        )
        self._stub = store_pb2_grpc.StoreDataStub(self._channel)
        self._timeout_s = timeout_s

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    def _call_options(self) -> dict[str, Any]:
        # A deadline on every call, and the request's trace id for db-service's logs.
        return {"timeout": self._timeout_s, "metadata": request_metadata()}

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            raise _failure(error) from None

    async def list_products(self) -> list[domain.Product]:
        """Every product."""
        reply = await self._call(
            self._stub.ListProducts(
                store_pb2.ListProductsRequest(),
                timeout=self._timeout_s,
                metadata=request_metadata(),
            )
        )
        return [_product(p) for p in reply.products]

    async def get_product(self, product_id: int) -> domain.Product:
        """One product."""
        request = store_pb2.GetProductRequest(id=product_id)
        return _product(await self._call(self._stub.GetProduct(request, **self._call_options())))

    async def create_user(self, registration: domain.UserRegistration) -> domain.User:
        """Register a user."""
        request = store_pb2.CreateUserRequest(**registration.model_dump())
        return _user(await self._call(self._stub.CreateUser(request, **self._call_options())))

    async def authenticate(self, credentials: domain.Credentials) -> UserAccount:
        """The user these credentials belong to."""
        request = store_pb2.AuthenticateRequest(**credentials.model_dump())
        reply = await self._call(self._stub.Authenticate(request, **self._call_options()))
        return UserAccount(_user(reply), reply.token_generation)

    async def get_user(self, user_id: int) -> UserAccount:
        """An active user."""
        request = store_pb2.GetUserRequest(id=user_id)
        reply = await self._call(self._stub.GetUser(request, **self._call_options()))
        return UserAccount(_user(reply), reply.token_generation)

    async def update_user(self, user_id: int, changes: domain.UserChanges) -> domain.User:
        """Change email and/or password."""
        request = store_pb2.UpdateUserRequest(id=user_id, **changes.model_dump(exclude_none=True))
        return _user(await self._call(self._stub.UpdateUser(request, **self._call_options())))

    async def deactivate_user(self, user_id: int) -> None:
        """Deactivate a user."""
        request = store_pb2.DeactivateUserRequest(id=user_id)
        await self._call(self._stub.DeactivateUser(request, **self._call_options()))

    async def place_order(
        self, user_id: int, order: domain.OrderRequest, idempotency_key: str | None = None
    ) -> domain.Order:
        """Place an order (once per idempotency key, when one is given)."""
        request = store_pb2.PlaceOrderRequest(
            user_id=user_id, idempotency_key=idempotency_key or "", **order.model_dump()
        )
        return _order(await self._call(self._stub.PlaceOrder(request, **self._call_options())))

    async def list_orders(
        self, user_id: int, limit: int, after_id: int
    ) -> tuple[list[domain.Order], int]:
        """One page of the user's orders and the id to continue after (0 at the end)."""
        request = store_pb2.ListOrdersRequest(user_id=user_id, limit=limit, after_id=after_id)
        reply = await self._call(self._stub.ListOrders(request, **self._call_options()))
        return [_order(o) for o in reply.orders], reply.next_after_id

    async def get_order(self, order_id: int, user_id: int) -> domain.Order:
        """One of the user's orders."""
        request = store_pb2.GetOrderRequest(id=order_id, user_id=user_id)
        return _order(await self._call(self._stub.GetOrder(request, **self._call_options())))

    async def cancel_order(self, order_id: int, user_id: int) -> domain.Order:
        """Cancel one of the user's orders."""
        request = store_pb2.CancelOrderRequest(id=order_id, user_id=user_id)
        return _order(await self._call(self._stub.CancelOrder(request, **self._call_options())))
