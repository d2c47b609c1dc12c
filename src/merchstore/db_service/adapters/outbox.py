"""The outbox relay: sends order events written with their orders, marking them after the ack.

Rows are claimed for a lease (``claimed_until``) in one short transaction (``FOR UPDATE SKIP
LOCKED``, so several db-service replicas share the work), sent with no transaction open, and
marked sent in another short one once the broker acknowledged them. A transient failure leaves
them pending: they are sent again, with the same ``event_id``, after a back-off (or, if this
relay died, when the lease ran out). A row the broker refuses for good is set aside with the
reason by the shared poison-message mechanism. Sent rows older than the retention are pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from merchstore.common.kafka.delivery import (
    REFUSED_BY_THE_BROKER,
    DeliveryFailed,
    OutgoingMessage,
    send_all,
)
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.metrics import OUTBOX_PENDING, OUTBOX_SET_ASIDE
from merchstore.common.poison import Progress, handle_or_set_aside_async

log = logging.getLogger(__name__)


class OutboxRelay:
    """Moves pending outbox rows to Kafka, in order, until stopped."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        producer: KafkaProducer,
        topic: str,
        *,
        poll_interval_s: float,
        batch_size: int,
        lease_s: float = 30.0,
        retention_s: float = 3600.0,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._topic = topic
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._lease_s = lease_s
        self._retention_s = retention_s
        self._max_backoff_s = max_backoff_s
        self.sent = 0
        self.pruned = 0
        self.progress = Progress()
        """Rows sent and set aside, and whether attempts keep failing."""
        self._measured_at = float("-inf")

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, backing off while Kafka or PostgreSQL is down."""
        while not stop.is_set():
            try:
                sent = await self.relay_once()
                await self.prune()
                await self.measure()
                pause = self._poll_interval_s
            except (DeliveryFailed, psycopg.Error, PoolTimeout) as error:
                self.progress.failed(error)
                pause = self.progress.backoff_s(self._poll_interval_s, self._max_backoff_s)
                log.warning("outbox relay: %s; retrying in %.1f s", error, pause)
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)

    async def relay_once(self) -> int:
        """Claim, send and mark one batch of pending events; return how many left the outbox."""
        rows = await self._claim()
        if not rows:
            return 0
        acknowledged: set[int] = set()

        async def send(batch: Sequence[OutgoingMessage]) -> None:
            await send_all(self._producer, self._topic, batch, acknowledged)

        async def set_aside(row: OutgoingMessage, reason: str) -> None:
            log.error("outbox row %d set aside: %s", row.id, reason)
            async with self._pool.connection() as connection:
                await connection.execute(
                    "UPDATE outbox SET failed_at = now(), failure = %s, claimed_until = NULL"
                    " WHERE id = %s",
                    (reason, row.id),
                )

        try:
            set_aside_count = await handle_or_set_aside_async(
                [OutgoingMessage(*row) for row in rows], send, set_aside, REFUSED_BY_THE_BROKER
            )
        finally:
            async with self._pool.connection() as connection:
                # Whatever the broker acknowledged is marked, even if others in the batch failed.
                if acknowledged:
                    await connection.execute(
                        "UPDATE outbox SET sent_at = now(), claimed_until = NULL"
                        " WHERE id = ANY(%s)",
                        (sorted(acknowledged),),
                    )
                # The rest go back at once, for the next attempt: left to their lease, orders
                # placed during a broker outage waited up to the lease after it ended. (The
                # lease is for a relay that dies holding them.)
                unsent = sorted({row[0] for row in rows} - acknowledged)
                if unsent:
                    await connection.execute(
                        "UPDATE outbox SET claimed_until = NULL"
                        " WHERE id = ANY(%s) AND sent_at IS NULL AND failed_at IS NULL",
                        (unsent,),
                    )
        self.sent += len(acknowledged)
        self.progress.succeeded(len(acknowledged), set_aside_count)
        return len(rows)

    async def _claim(self) -> list[tuple[int, str, str, str | None]]:
        async with self._pool.connection() as connection:
            cursor = await connection.execute(
                "UPDATE outbox SET claimed_until = now() + make_interval(secs => %s)"
                " WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
                " AND (claimed_until IS NULL OR claimed_until < now())"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
                " RETURNING id, message_key, payload, traceparent",
                (self._lease_s, self._batch_size),
            )
            rows = await cursor.fetchall()
        # (id, payload, key, traceparent): the order OutgoingMessage takes them in.
        return sorted(
            (int(i), str(payload), str(key), traceparent) for i, key, payload, traceparent in rows
        )

    async def measure(self) -> None:
        """Publish how many rows wait to be sent and how many were set aside (at most 1/s)."""
        now = asyncio.get_running_loop().time()
        if now - self._measured_at < 1.0:
            return
        self._measured_at = now
        async with self._pool.connection() as connection:
            cursor = await connection.execute(
                "SELECT count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL),"
                " count(*) FILTER (WHERE failed_at IS NOT NULL) FROM outbox"
            )
            row = await cursor.fetchone()
        if row is not None:
            OUTBOX_PENDING.set(row[0])
            OUTBOX_SET_ASIDE.set(row[1])

    async def prune(self) -> int:
        """Delete rows sent longer ago than the retention; return how many."""
        async with self._pool.connection() as connection:
            cursor = await connection.execute(
                "DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => %s)",
                (self._retention_s,),
            )
            pruned = int(cursor.rowcount)
        self.pruned += pruned
        return pruned

    async def pending(self) -> int:
        """Rows waiting to be sent (for monitoring)."""
        async with self._pool.connection() as connection:
            cursor = await connection.execute(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else 0
