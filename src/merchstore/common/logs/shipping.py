"""Shipping a service's log lines to logging-service over one long-lived client stream.

Records go into a bounded queue (``emit`` never blocks the service, and costs it the same
whatever is waiting); one thread feeds them, in batches, into ``StreamLogBatches`` calls, each
ended after a bounded number of lines or seconds so that its summary acknowledges them. Lines
stay with the client until acknowledged; if logging-service is down, the thread reconnects with
back-off and sends them again. At most ``queue_size`` lines wait (queued, in flight or to send
again), and with a spool, at most what fits in it; a new line past either is dropped (counted
in ``log_shipping_dropped_lines_total``, said once in the service's log). ``close`` flushes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator

import grpc

from merchstore.common.config.grpc_tls import TlsMaterial
from merchstore.common.grpc_channels import open_channel
from merchstore.common.logs.spool import LogSpool
from merchstore.common.metrics import LOG_LINES_DROPPED
from merchstore.common.poison import doubling_backoff_s
from merchstore.common.tracing import current_traceparent, request_id_var
from merchstore.protos import logging_pb2, logging_pb2_grpc

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
LINES_PER_BATCH = 200
"""At most this many lines go in one stream message (one LogBatch)."""
_Line = tuple[int, str, float, str, str, str, int]
"""A record as queued: level, message, time, traceparent, logger, request id, spool seq (or 0)."""
SHIP_EVERY_S = 0.05
"""How often the shipping thread takes what was logged since."""


class LogShippingHandler(logging.Handler):
    """A logging handler that streams records to logging-service, keeping each until acknowledged.

    logging-service acknowledges a stream's lines with its summary, sent when the client ends
    the stream. So the client ends each stream after ``lines_per_stream`` lines or
    ``stream_max_s`` seconds and opens the next; it keeps the lines of the open stream until
    the summary arrives. If the stream breaks (logging-service crashed or restarted), those
    lines are sent again on the next stream: at least once, nothing acknowledged is lost.
    """

    def __init__(
        self,
        target: str,
        service: str,
        queue_size: int,
        level: int,
        *,
        lines_per_stream: int = 1000,
        stream_max_s: float = 5.0,
        spool: LogSpool | None = None,
        tls: TlsMaterial | None = None,
    ) -> None:
        super().__init__(level)
        self._target, self._tls = target, tls
        self._service = service
        # Appended by emit, taken by the shipping thread every SHIP_EVERY_S: no lock and no wake-up
        # per record (a thread woken per log line costs the service more than the line itself).
        self._queue: deque[_Line] = deque()
        self._queue_size = queue_size
        self._lines_per_stream = lines_per_stream
        self._stream_max_s = stream_max_s
        self._closing = threading.Event()
        self._close_deadline = float("inf")
        # Lines on the open stream, and lines of a broken stream waiting to be sent again.
        self._unacknowledged: list[_Line] = []
        self._resend: deque[_Line] = deque()
        self._spool = spool
        if spool is not None:
            # What a crashed run logged and never had acknowledged goes first (lines an earlier
            # version spooled have no request id).
            self._resend.extend(
                (*line[1:6], line[6] if len(line) > 6 else "", line[0]) for line in spool.recovered
            )
        self._lock = threading.Lock()
        self.dropped = 0
        """Records dropped because the queue (or the spool, or the resend buffer) was full."""
        self._dropping = False
        self.lost = 0
        """Records never acknowledged because closing ran out of time."""
        self.resent = 0
        """Records sent again after a stream broke (logging-service may have them twice)."""
        self.accepted = 0
        """Records logging-service accepted, per the summaries received."""
        self._thread = threading.Thread(target=self._run, name="log-shipping", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record; never blocks, drops (and counts) when the queue is full."""
        if record.name.startswith(_NOT_SHIPPED):
            return
        try:
            # The least work here, on the service's own thread: the shipping thread builds
            # the protobuf messages, a batch at a time.
            fields = (
                record.levelno,
                record.getMessage(),
                record.created,
                getattr(record, "traceparent", None) or current_traceparent(),
                record.name,
                getattr(record, "request_id", None) or request_id_var.get() or "",
            )
            if self.pending >= self._queue_size:
                self._drop(f"its queue of {self._queue_size} lines is full")
            elif self._spool is None:
                self._queue.append((*fields, 0))
            # On disk before the caller goes on (an answer sent after it survives a crash).
            elif not self._spool.append(fields, lambda seq: self._queue.append((*fields, seq))):
                self._drop("its spool on disk is full")
        except Exception:
            self.handleError(record)

    def _drop(self, why: str) -> None:
        """Drop a new line (the lines waiting keep their place): counted, and said once."""
        self.dropped += 1
        LOG_LINES_DROPPED.inc()
        if not self._dropping:
            self._dropping = True
            local_log.warning(
                "logging-service has not taken this service's log lines for a while and %s: "
                "new lines are dropped until it takes them (counted in %s)",
                why,
                "log_shipping_dropped_lines_total",
            )

    def _acknowledged(self) -> None:
        """Tell the spool how far every line is acknowledged (or dropped)."""
        if self._spool is None:
            return
        with self._spool.lock:  # no line is between the spool and the queue meanwhile
            oldest = [source[0][6] for source in (self._resend, self._queue) if source]
            through = min(oldest) - 1 if oldest else self._spool.last_seq
        self._spool.acknowledge(through)

    @property
    def pending(self) -> int:
        """Lines not acknowledged yet: queued, on the open stream, or waiting to be resent."""
        return len(self._queue) + len(self._unacknowledged) + len(self._resend)

    def _batches(self, broken: threading.Event) -> Iterator[logging_pb2.LogBatch]:
        """One stream's lines in batches of what is at hand.

        First the lines a broken stream left, then new ones, within the stream's bounds.
        """
        opened = time.monotonic()
        last_batch_at = float("-inf")
        while True:
            with self._lock:
                if broken.is_set():
                    return
                again = [
                    self._resend.popleft() for _ in range(min(len(self._resend), LINES_PER_BATCH))
                ]
                self._unacknowledged.extend(again)
            if again:
                yield self._batch(again)
                continue
            if len(self._unacknowledged) >= self._lines_per_stream or (
                self._unacknowledged and time.monotonic() - opened >= self._stream_max_s
            ):
                return  # end the stream: its summary acknowledges these lines
            if not self._queue:
                if self._closing.is_set():
                    return  # close(): end the stream to receive its summary
                self._closing.wait(SHIP_EVERY_S)
                continue
            # At most one batch every SHIP_EVERY_S, unless a full one is waiting: each stream
            # message is a round of work for gRPC on the service's own cores, so a busy
            # service ships a few full batches rather than a stream of small ones.
            since_last = time.monotonic() - last_batch_at
            if (
                len(self._queue) < LINES_PER_BATCH
                and since_last < SHIP_EVERY_S
                and not self._closing.is_set()
            ):
                self._closing.wait(SHIP_EVERY_S - since_last)
                continue
            last_batch_at = time.monotonic()
            # Whatever is queued goes in one batch: one stream message.
            room = min(LINES_PER_BATCH, self._lines_per_stream - len(self._unacknowledged))
            lines = [self._queue.popleft() for _ in range(min(room, len(self._queue)))]
            with self._lock:
                if broken.is_set():
                    self._resend.extend(lines)
                    return
                self._unacknowledged.extend(lines)
            yield self._batch(lines)

    def _batch(self, lines: list[_Line]) -> logging_pb2.LogBatch:
        batch = logging_pb2.LogBatch()
        add = batch.messages.add
        # Lines of a batch mostly share their second: format it once (RFC 3339, UTC).
        second, prefix = -1, ""
        for level, text, created, context, logger, request_id, _ in lines:
            traced = len(context) == 55  # a traceparent; else a trace id spooled earlier
            if int(created) != second:
                second = int(created)
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            add(
                level=_LEVELS.get(level, logging_pb2.INFO),
                service_name=self._service,
                message=text,
                timestamp=f"{prefix}.{int((created - second) * 1000):03d}Z",
                trace_id=context[3:35] if traced else context,
                logger=logger,
                request_id=request_id,
                traceparent=context if traced else "",
            )
        return batch

    def _run(self) -> None:
        # One channel (one HTTP/2 connection) for every stream; gRPC reconnects it by itself.
        with open_channel(self._target, self._tls) as channel:
            self._ship(logging_pb2_grpc.LogCollectorStub(channel))

    def _ship(self, collector: logging_pb2_grpc.LogCollectorStub) -> None:
        failures = 0
        while True:
            broken = threading.Event()
            try:
                summary = collector.StreamLogBatches(self._batches(broken))
            except grpc.RpcError as error:
                self._keep_for_resending(broken)
                failures += 1
                backoff = doubling_backoff_s(0.2, failures, 5.0)
                local_log.warning(
                    "logging-service at %s unreachable (%s); %d line(s) kept to send again, "
                    "%d dropped; reconnecting in %.1f s",
                    *(self._target, error.code().name, len(self._resend), self.dropped, backoff),
                )
                if time.monotonic() + backoff > self._close_deadline:
                    self.lost += len(self._resend) + len(self._queue)
                    return
                time.sleep(backoff)
                continue
            with self._lock:
                self._unacknowledged = []
            self._acknowledged()
            failures = 0
            if self._dropping:
                self._dropping = False
                local_log.warning(
                    "logging-service takes log lines again; %d dropped so far", self.dropped
                )
            self.accepted += summary.accepted
            if summary.rejected or summary.dropped:
                local_log.warning(
                    "logging-service rejected %d and dropped %d line(s): %s",
                    summary.rejected,
                    summary.dropped,
                    list(summary.rejection_reasons)[:3],
                )
            if self._closing.is_set() and not self._queue and not self._resend:
                return

    def _keep_for_resending(self, broken: threading.Event) -> None:
        with self._lock:
            broken.set()
            kept = [*self._unacknowledged, *self._resend]
            self._unacknowledged = []
            # Bounded like the queue: beyond it the oldest lines are dropped (and counted).
            excess = max(len(kept) - self._queue_size, 0)
            self.dropped += excess
            self.resent += len(kept) - excess
            self._resend = deque(kept[excess:])

    def close(self, timeout_s: float = 3.0) -> None:
        """Flush what is queued (within ``timeout_s``), end the stream, stop the thread."""
        self._close_deadline = time.monotonic() + timeout_s
        self._closing.set()
        self._thread.join(max(self._close_deadline - time.monotonic(), 0))
        if self._thread.is_alive():
            local_log.warning(
                "log shipping did not finish in %.1f s; %d line(s) left", timeout_s, self.pending
            )
        if self.dropped or self.lost:
            local_log.warning("log shipping: %d dropped, %d lost", self.dropped, self.lost)
        if self._spool is not None and not self._thread.is_alive():
            self._spool.close()  # what is left in it is sent at the next start
        super().close()
