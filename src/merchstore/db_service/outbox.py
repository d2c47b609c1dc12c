"""The outbox relay: sends order events written with their orders, marking them after the ack.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` (several db-service replicas share the work),
sent, and marked sent in the same transaction only once the broker acknowledged every one. A
failure leaves them pending: they are sent again, with the same ``event_id``, after a back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from merchstore.common.kafka import DeliveryFailed, KafkaProducer

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
        max_backoff_s: float = 10.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._topic = topic
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._max_backoff_s = max_backoff_s
        self.sent = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, backing off while Kafka or PostgreSQL is down."""
        backoff = self._poll_interval_s
        while not stop.is_set():
            try:
                sent = await self.relay_once()
                backoff = self._poll_interval_s
            except (DeliveryFailed, psycopg.Error, PoolTimeout) as error:
                log.warning("outbox relay: %s; retrying in %.1f s", error, backoff)
                sent = 0
                backoff = min(backoff * 2, self._max_backoff_s)
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)

    async def relay_once(self) -> int:
        """Send one batch of pending events; return how many were acknowledged."""
        async with self._pool.connection() as connection, connection.transaction():
            cursor = await connection.execute(
                "SELECT id, message_key, payload FROM outbox WHERE sent_at IS NULL"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (self._batch_size,),
            )
            rows = await cursor.fetchall()
            if not rows:
                return 0
            await asyncio.gather(
                *(self._producer.send_async(self._topic, payload, key) for _, key, payload in rows)
            )
            await connection.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY(%s)", ([row[0] for row in rows],)
            )
        self.sent += len(rows)
        return len(rows)
