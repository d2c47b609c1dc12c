"""Who may call a gRPC service's own methods: the common name of the caller's certificate.

Mutual TLS says a caller holds a certificate of the deployment's CA; this says which party
it is. db-service's StoreData answers store-api only, logging-service's LogCollector the two
that ship their log lines; the dashboard's certificate, which it holds to probe their health,
cannot register a user or forge a log line. Health checks and reflection take any certificate
of the CA: every party probes, and a service's own health command shows its own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc

from merchstore.common.grpc_interceptors import (
    HEALTH_AND_REFLECTION,
    Behavior,
    Kind,
    WrappingInterceptor,
    rebuilt,
)

log = logging.getLogger(__name__)


def common_name(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    """The common name of the caller's certificate; None over plain gRPC."""
    names = context.auth_context().get("x509_common_name") or []
    return names[0].decode("utf-8", "replace") if names else None


class PeerAuthorization(WrappingInterceptor):
    """Refuses a call unless the caller's certificate names a party allowed to make it.

    The answer is ``PERMISSION_DENIED``, before the servicer reads the request. Health checks
    and reflection are open to any certificate of the CA.
    """

    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(allowed)

    async def _check(self, context: grpc.aio.ServicerContext[Any, Any], method: str) -> None:
        caller = common_name(context)
        if caller not in self._allowed:
            log.warning("refused %s to certificate CN=%s", method, caller)
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"the certificate CN={caller} may not call {method}",
            )

    def wrap(self, details: grpc.HandlerCallDetails, kind: Kind, behavior: Behavior) -> Behavior:
        """Check the caller first, unless the method is open to the whole CA."""
        method = details.method
        if method.startswith(HEALTH_AND_REFLECTION):
            return behavior
        check = self._check

        async def checked(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await check(context, method)
            return await behavior(request, context)

        return checked

    def streaming(
        self, details: grpc.HandlerCallDetails, handler: grpc.RpcMethodHandler
    ) -> grpc.RpcMethodHandler:
        """A method answering with a stream is guarded too: no method is left open by its kind."""
        method, check = details.method, self._check
        kind = "unary_stream" if handler.unary_stream is not None else "stream_stream"
        answers = getattr(handler, kind)

        async def checked(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            await check(context, method)
            async for answer in answers(request, context):
                yield answer

        return rebuilt(handler, kind, checked)
