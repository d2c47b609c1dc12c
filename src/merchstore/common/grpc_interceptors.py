"""The one way merchstore's gRPC server interceptors wrap what a method does.

Metrics, request logs and peer authorization each run code around a method's behavior; this
base finds the behavior in the method's handler and builds the handler again around the
wrapped one, with the same request and response codecs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import grpc

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
"""A unary or client-streaming method: the request (or its iterator) and the context in, the
one response out."""
Kind = Literal["unary_unary", "stream_unary"]

HEALTH_AND_REFLECTION = ("/grpc.health.", "/grpc.reflection.")
"""Method prefixes of the standard services every gRPC server of merchstore carries."""


def rebuilt(handler: grpc.RpcMethodHandler, kind: str, behavior: Any) -> grpc.RpcMethodHandler:
    """A handler of ``kind`` running ``behavior``, with ``handler``'s codecs."""
    make = getattr(grpc, f"{kind}_rpc_method_handler")
    return make(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


async def observed(
    behavior: Behavior,
    request: Any,
    context: grpc.aio.ServicerContext,
    done: Callable[[str, float], None],
    failed: str = "UNKNOWN",
) -> Any:
    """Run ``behavior``; then ``done(status, seconds)``, whether it answered or raised.

    The status is ``OK``, the code the servicer set, or ``failed`` when it set none.
    """
    started = time.perf_counter()
    status = "OK"
    try:
        return await behavior(request, context)
    except BaseException:
        code = context.code()
        status = code.name if isinstance(code, grpc.StatusCode) else failed
        raise
    finally:
        done(status, time.perf_counter() - started)


class WrappingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """A server interceptor that runs its own code around the methods it chooses.

    A subclass says how in `wrap`. Methods that answer with a stream (merchstore has none)
    go to `streaming`, which leaves them as they are unless a subclass says otherwise.
    """

    def wrap(self, details: grpc.HandlerCallDetails, kind: Kind, behavior: Behavior) -> Behavior:
        """The behavior to run instead of ``behavior``; it is returned unchanged to skip."""
        raise NotImplementedError

    def streaming(
        self, details: grpc.HandlerCallDetails, handler: grpc.RpcMethodHandler
    ) -> grpc.RpcMethodHandler:
        """The handler of a method that answers with a stream; unchanged here."""
        return handler

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """The method's handler, its behavior wrapped by `wrap`."""
        handler = await continuation(details)
        if handler is None:
            return handler
        kind: Kind
        for kind in ("unary_unary", "stream_unary"):
            behavior = getattr(handler, kind)
            if behavior is not None:
                wrapped = self.wrap(details, kind, behavior)
                return handler if wrapped is behavior else rebuilt(handler, kind, wrapped)
        return self.streaming(details, handler)
