"""gRPC adapter of logging-service: a client stream in, a summary out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc

from merchstore.common.metrics import LOG_LINES
from merchstore.logging_service.domain import InvalidLogMessage, log_channel_json
from merchstore.logging_service.publisher import InFlight, LogPublisher, Settled
from merchstore.protos import logging_pb2, logging_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = logging_pb2.DESCRIPTOR.services_by_name["LogCollector"].full_name
MAX_REASONS = 10


class LogCollectorServicer(logging_pb2_grpc.LogCollectorServicer):
    """Validates each message, publishes the valid ones, answers with what became of them."""

    def __init__(self, publisher: LogPublisher, settle_every: int) -> None:
        self._publisher = publisher
        self._settle_every = settle_every

    async def StreamLogs(  # noqa: N802 - the RPC's name
        self,
        request_iterator: AsyncIterator[logging_pb2.LogMessage],
        context: grpc.aio.ServicerContext,
    ) -> logging_pb2.StreamSummary:
        """Take any number of messages; settle them in batches; summarise at the end."""
        received = rejected = 0
        reasons: list[str] = []
        outcome = Settled()
        batch = InFlight()
        async for message in request_iterator:
            received += 1
            try:
                self._publisher.submit(log_channel_json(message), batch)
            except InvalidLogMessage as error:
                rejected += 1
                if len(reasons) < MAX_REASONS:
                    reasons.append(f"message {received}: {error}")
                continue
            if len(batch) >= self._settle_every:
                # Settling as the stream goes bounds memory and applies back-pressure.
                outcome.add(await self._publisher.settle(batch))
        outcome.add(await self._publisher.settle(batch))
        for outcome_name, count in (
            ("received", received),
            ("published", outcome.published),
            ("spilled", outcome.spilled),
            ("dropped", outcome.dropped),
            ("rejected", rejected),
        ):
            LOG_LINES.labels(outcome_name).inc(count)
        if rejected:
            log.warning("stream rejected %d invalid message(s): %s", rejected, reasons[:3])
        return logging_pb2.StreamSummary(
            received=received,
            accepted=outcome.published + outcome.spilled,
            published=outcome.published,
            spilled=outcome.spilled,
            rejected=rejected,
            dropped=outcome.dropped,
            rejection_reasons=reasons,
        )
