"""gRPC adapter of db-service: requests to use cases, store errors to status codes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

import grpc
import psycopg
from psycopg_pool import PoolTimeout

from merchstore.common.timeutil import to_rfc3339
from merchstore.common.tracing import current_trace_id
from merchstore.db_service import domain
from merchstore.db_service.use_cases import StoreService
from merchstore.protos import store_pb2, store_pb2_grpc

log = logging.getLogger(__name__)

T = TypeVar("T")

_STATUS = {
    domain.NotFound: grpc.StatusCode.NOT_FOUND,
    domain.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    domain.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    domain.Conflict: grpc.StatusCode.FAILED_PRECONDITION,
    domain.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    domain.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    domain.Throttled: grpc.StatusCode.RESOURCE_EXHAUSTED,
    domain.Busy: grpc.StatusCode.UNAVAILABLE,
}

SERVICE_NAME = store_pb2.DESCRIPTOR.services_by_name["StoreData"].full_name


def product_message(product: domain.Product) -> store_pb2.Product:
    """A product as a protobuf message."""
    return store_pb2.Product(
        id=product.id,
        name=product.name,
        description=product.description,
        category=product.category,
        price=f"{product.price:.2f}",
        slogan=product.slogan,
        stock=product.stock,
        created_at=to_rfc3339(product.created_at),
    )


def user_message(user: domain.User) -> store_pb2.User:
    """A user as a protobuf message (there is no field for credentials)."""
    return store_pb2.User(
        id=user.id,
        sid=user.sid,
        username=user.username,
        email=user.email,
        created_at=to_rfc3339(user.created_at),
        token_generation=user.token_generation,
    )


def order_message(order: domain.Order) -> store_pb2.Order:
    """An order as a protobuf message."""
    return store_pb2.Order(
        id=order.id,
        user_id=order.user_id,
        product_id=order.product_id,
        quantity=order.quantity,
        total_price=f"{order.total_price:.2f}",
        status=order.status,
        created_at=to_rfc3339(order.created_at),
    )


class StoreDataServicer(store_pb2_grpc.StoreDataServicer):
    """Implements ``merchstore.store.v1.StoreData`` over the store's use cases."""

    def __init__(self, store: StoreService) -> None:
        self._store = store

    async def _call(self, context: grpc.aio.ServicerContext, work: Awaitable[T]) -> T:
        try:
            return await work
        except domain.StoreError as error:
            if isinstance(error, domain.Throttled):
                context.set_trailing_metadata((("retry-after", str(error.retry_after_s)),))
            await context.abort(_STATUS[type(error)], str(error))
        except (psycopg.OperationalError, PoolTimeout) as error:
            log.warning("database unavailable: %s", error)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the database is unavailable")
        except Exception:
            # The cause (psycopg's text can hold a row, hash and all) goes to this log only.
            trace_id = current_trace_id() or "none"
            log.exception("unexpected error (trace id %s)", trace_id)
            await context.abort(
                grpc.StatusCode.INTERNAL, f"internal error in db-service (trace id {trace_id})"
            )
        raise AssertionError("unreachable: abort raises")

    async def ListProducts(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """Every product."""
        products = await self._call(context, self._store.list_products())
        return store_pb2.ListProductsReply(products=[product_message(p) for p in products])

    async def GetProduct(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """One product."""
        return product_message(await self._call(context, self._store.get_product(request.id)))

    async def CreateUser(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """Register a user."""
        user = await self._call(
            context,
            self._store.create_user(request.sid, request.username, request.email, request.password),
        )
        return user_message(user)

    async def Authenticate(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """Check credentials."""
        user = await self._call(
            context, self._store.authenticate(request.username, request.password)
        )
        return user_message(user)

    async def GetUser(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """One active user."""
        return user_message(await self._call(context, self._store.get_user(request.id)))

    async def UpdateUser(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """Change email and/or password."""
        email = request.email if request.HasField("email") else None
        password = request.password if request.HasField("password") else None
        current = request.current_password if request.HasField("current_password") else None
        user = await self._call(
            context, self._store.update_user(request.id, email, password, current)
        )
        return user_message(user)

    async def DeactivateUser(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """Deactivate a user."""
        await self._call(context, self._store.deactivate_user(request.id))
        return store_pb2.DeactivateUserReply()

    async def PlaceOrder(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """Place an order."""
        order = await self._call(
            context,
            self._store.place_order(
                request.user_id, request.product_id, request.quantity, request.idempotency_key
            ),
        )
        return order_message(order)

    async def ListOrders(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """The caller's orders."""
        orders, next_after_id = await self._call(
            context,
            self._store.list_orders(request.user_id, request.limit, request.after_id),
        )
        return store_pb2.ListOrdersReply(
            orders=[order_message(o) for o in orders], next_after_id=next_after_id
        )

    async def GetOrder(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """One of the caller's orders."""
        order = await self._call(context, self._store.get_order(request.id, request.user_id))
        return order_message(order)

    async def CancelOrder(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        """Cancel one of the caller's orders."""
        order = await self._call(context, self._store.cancel_order(request.id, request.user_id))
        return order_message(order)
