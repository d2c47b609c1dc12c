"""gRPC adapter of logging-service: a client stream in, a summary out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable

import grpc

from merchstore.common.metrics import LOG_LINES
from merchstore.logging_service.domain import InvalidLogMessage, log_channel_json
from merchstore.logging_service.use_cases import InFlight, LogPublisher, Settled
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
        return await self._take(message_batches(request_iterator))

    async def StreamLogBatches(  # noqa: N802 - the RPC's name
        self,
        request_iterator: AsyncIterator[logging_pb2.LogBatch],
        context: grpc.aio.ServicerContext,
    ) -> logging_pb2.StreamSummary:
        """The same as StreamLogs, for lines sent several to a stream message."""
        return await self._take(batch.messages async for batch in request_iterator)

    async def _take(
        self, batches: AsyncIterator[Iterable[logging_pb2.LogMessage]]
    ) -> logging_pb2.StreamSummary:
        received = rejected = 0
        reasons: list[str] = []
        outcome = Settled()
        batch = InFlight()
        # One batch settles (waits for Kafka's acknowledgements) while the next one fills, so
        # the stream keeps flowing; a third waits, which bounds memory and pushes back.
        settling: asyncio.Task[Settled] | None = None
        # Lines are taken a stream message at a time: no await (a trip through the event
        # loop) per line.
        async for messages in batches:
            for message in messages:
                received += 1
                try:
                    self._publisher.submit(log_channel_json(message), batch, message.traceparent)
                except InvalidLogMessage as error:
                    rejected += 1
                    if len(reasons) < MAX_REASONS:
                        reasons.append(f"message {received}: {error}")
                    continue
                if len(batch) >= self._settle_every:
                    if settling is not None:
                        outcome.add(await settling)
                    settling = asyncio.ensure_future(self._publisher.settle(batch))
                    batch = InFlight()
        if settling is not None:
            outcome.add(await settling)
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


async def message_batches(
    messages: AsyncIterator[logging_pb2.LogMessage],
) -> AsyncIterator[tuple[logging_pb2.LogMessage]]:
    """Each message of a single-line stream as a batch of one."""
    async for message in messages:
        yield (message,)
