"""Shipping a service's log lines to logging-service over one long-lived client stream.

Records go into a bounded queue (``emit`` never blocks the service); one background thread
feeds them into a ``StreamLogs`` call. If logging-service is down, the thread reconnects with
back-off, the queue absorbs what it can, and what is dropped or lost is counted and logged
locally. ``close`` flushes what is queued, within a bound.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

import grpc

from merchstore.common.config import Settings
from merchstore.common.timeutil import to_rfc3339
from merchstore.protos import logging_pb2, logging_pb2_grpc

trace_id_var: ContextVar[str | None] = ContextVar("trace_id", default=None)
"""The trace id of the request being handled (from X-Request-ID or gRPC metadata)."""

TRACE_METADATA_KEY = "x-request-id"

local_log = logging.getLogger("merchstore.log_shipping")
"""Reports about shipping itself: written locally only, never shipped (no feedback loop)."""

_LEVELS = {
    logging.DEBUG: logging_pb2.DEBUG,
    logging.INFO: logging_pb2.INFO,
    logging.WARNING: logging_pb2.WARNING,
    logging.ERROR: logging_pb2.ERROR,
    logging.CRITICAL: logging_pb2.CRITICAL,
}
_NOT_SHIPPED = ("merchstore.log_shipping", "grpc", "merchstore.kafka.client")


class LogShippingHandler(logging.Handler):
    """A logging handler that streams records to logging-service."""

    def __init__(self, target: str, service: str, queue_size: int, level: int) -> None:
        super().__init__(level)
        self._target = target
        self._service = service
        self._queue: queue.Queue[logging_pb2.LogMessage | None] = queue.Queue(queue_size)
        self._closing = threading.Event()
        self.dropped = 0
        """Records dropped because the queue was full."""
        self.lost = 0
        """Records handed to a stream that broke before its summary (may or may not be kept)."""
        self.accepted = 0
        """Records logging-service accepted, per the summaries received."""
        self._in_stream = 0
        self._thread = threading.Thread(target=self._run, name="log-shipping", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record; never blocks, drops (and counts) when the queue is full."""
        if record.name.startswith(_NOT_SHIPPED):
            return
        try:
            message = logging_pb2.LogMessage(
                level=_LEVELS.get(record.levelno, logging_pb2.INFO),
                service_name=self._service,
                message=record.getMessage(),
                timestamp=to_rfc3339(datetime.fromtimestamp(record.created, UTC)),
                trace_id=getattr(record, "trace_id", None) or trace_id_var.get() or "",
                logger=record.name,
            )
            self._queue.put_nowait(message)
        except queue.Full:
            self.dropped += 1
        except Exception:
            self.handleError(record)

    def _messages(self, broken: threading.Event) -> Iterator[logging_pb2.LogMessage]:
        while not broken.is_set():
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is None:  # close(): end the stream to receive its summary
                return
            self._in_stream += 1
            yield item

    def _run(self) -> None:
        backoff = 0.2
        while True:
            broken = threading.Event()
            self._in_stream = 0
            with grpc.insecure_channel(self._target) as channel:
                try:
                    summary = logging_pb2_grpc.LogCollectorStub(channel).StreamLogs(
                        self._messages(broken)
                    )
                except grpc.RpcError as error:
                    broken.set()
                    self.lost += self._in_stream
                    if not self._closing.is_set():
                        local_log.warning(
                            "logging-service at %s unreachable (%s); %d line(s) may be lost, "
                            "%d queued, %d dropped; reconnecting in %.1f s",
                            self._target,
                            error.code().name,
                            self._in_stream,
                            self._queue.qsize(),
                            self.dropped,
                            backoff,
                        )
                    if self._closing.wait(backoff):
                        return
                    backoff = min(backoff * 2, 5.0)
                    continue
            self.accepted += summary.accepted
            local_log.info(
                "log stream closed: %d accepted, %d rejected, %d dropped by logging-service",
                summary.accepted,
                summary.rejected,
                summary.dropped,
            )
            return

    def close(self, timeout_s: float = 3.0) -> None:
        """Flush what is queued (within ``timeout_s``), end the stream, stop the thread."""
        self._closing.set()
        deadline = time.monotonic() + timeout_s
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)
        self._thread.join(max(deadline - time.monotonic(), 0))
        if self._thread.is_alive():
            local_log.warning(
                "log shipping did not finish in %.1f s; %d line(s) left",
                timeout_s,
                self._queue.qsize(),
            )
        if self.dropped or self.lost:
            local_log.warning("log shipping: %d dropped, %d possibly lost", self.dropped, self.lost)
        super().close()


def ship_logs(settings: Settings, service: str) -> LogShippingHandler | None:
    """Start streaming this service's ``merchstore.*`` records to logging-service."""
    config = settings.log_shipping
    if not config.enabled:
        return None
    target = config.target or f"{settings.logging_service.host}:{settings.logging_service.port}"
    handler = LogShippingHandler(
        target, service, config.queue_size, logging.getLevelName(config.level)
    )
    logging.getLogger("merchstore").addHandler(handler)
    return handler


def stop_shipping_logs(handler: LogShippingHandler | None, settings: Settings) -> None:
    """Flush and detach the handler ``ship_logs`` returned."""
    if handler is not None:
        logging.getLogger("merchstore").removeHandler(handler)
        handler.close(settings.log_shipping.shutdown_flush_s)
