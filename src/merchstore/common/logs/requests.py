"""Request logging under the request's trace, for HTTP (ASGI middleware) and gRPC (interceptor).

The trace id of a line is the W3C trace id of the request's span (the OpenTelemetry
middleware and server interceptor, outside these, start it, continuing a client's
``traceparent``). A client's ``X-Request-ID`` is kept beside it as the request id: checked,
echoed in the answer, and passed on to db-service in the call's metadata.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import grpc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from merchstore.common.clean_text import escape_controls
from merchstore.common.grpc_interceptors import (
    HEALTH_AND_REFLECTION,
    Behavior,
    Kind,
    WrappingInterceptor,
    observed,
)
from merchstore.common.tracing import (
    REQUEST_ID_METADATA_KEY,
    current_traceparent,
    request_id_var,
)

PROBE_PATHS = frozenset({"/health", "/metrics"})
"""What the system's own probes ask every few seconds: logged only when asked for."""

REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
"""A client's X-Request-ID is kept only when it is this: safe in logs and gRPC metadata."""


def request_id_from(value: bytes | str | None) -> str | None:
    """The client's id when it is 1 to 128 of ``[A-Za-z0-9._-]``; otherwise None."""
    raw = value.encode("latin-1", "replace") if isinstance(value, str) else value
    if raw and REQUEST_ID.fullmatch(raw):
        return raw.decode("ascii")
    return None


class RequestLogging:
    """ASGI middleware: one log line per request, under its trace id and request id.

    The line says method, path, status, latency until the answer starts and client address.
    The answer carries ``X-Request-ID``: the client's, or the trace id when it sent none.
    Requests of the system's own probes (`PROBE_PATHS`) are logged only with ``log_probes``.
    """

    def __init__(self, app: ASGIApp, logger_name: str, log_probes: bool = False) -> None:
        self._app = app
        self._log = logging.getLogger(logger_name)
        self._log_probes = log_probes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request with its ids and log it."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = request_id_from(headers.get(b"x-request-id"))
        token = request_id_var.set(request_id)
        traceparent = current_traceparent()
        trace_id = traceparent[3:35]
        started = time.perf_counter()
        logged = False
        logging_it = self._log_probes or scope["path"] not in PROBE_PATHS

        def log(status: int) -> None:
            nonlocal logged
            logged = True
            if logging_it:
                elapsed_ms = (time.perf_counter() - started) * 1000
                client = scope.get("client")
                self._log.info(
                    "%s %s %d %.1fms client=%s",
                    scope["method"],
                    escape_controls(scope["path"]),  # as sent, not as a terminal reads it
                    status,
                    elapsed_ms,
                    client[0] if client else "-",
                    extra={"traceparent": traceparent, "request_id": request_id},
                )

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", (request_id or trace_id).encode("latin-1")),
                ]
                # Logged before the answer leaves: a client that got it can find this line,
                # whenever the service crashes after (the shipper keeps it on disk).
                log(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_with_trace)
        finally:
            if not logged:
                log(500)  # ended before any answer started
            request_id_var.reset(token)


def request_metadata() -> tuple[tuple[str, str], ...]:
    """GRPC metadata carrying the client's request id (empty when it sent none).

    The trace context travels beside it, in ``traceparent``, put there by OpenTelemetry's
    client interceptor.
    """
    request_id = request_id_var.get()
    return ((REQUEST_ID_METADATA_KEY, request_id),) if request_id else ()


class RpcLogging(WrappingInterceptor):
    """Logs every unary RPC (method, status, latency) under its trace id and request id."""

    def __init__(self, logger_name: str) -> None:
        self._log = logging.getLogger(logger_name)

    def wrap(self, details: grpc.HandlerCallDetails, kind: Kind, behavior: Behavior) -> Behavior:
        """Log unary-unary calls; leave streams, health checks and reflection unlogged."""
        method = details.method
        if kind != "unary_unary" or method.startswith(HEALTH_AND_REFLECTION):
            return behavior
        metadata = dict(details.invocation_metadata or ())
        request_id = request_id_from(metadata.get(REQUEST_ID_METADATA_KEY))
        log = self._log

        def write(status: str, seconds: float) -> None:
            log.info(
                "%s %s %.1fms",
                escape_controls(method),
                status,
                seconds * 1000,
                extra={"traceparent": current_traceparent(), "request_id": request_id},
            )

        async def logged(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = request_id_var.set(request_id)
            try:
                return await observed(behavior, request, context, write, failed="ERROR")
            finally:
                request_id_var.reset(token)

        return logged
