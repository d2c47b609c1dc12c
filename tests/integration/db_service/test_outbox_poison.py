"""Whatever sits in the outbox, the relay sends the next good event (real PostgreSQL, broker)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.messages import DomainEvent
from merchstore.common.postgres import apply_migrations, open_async_pool
from merchstore.db_service.adapters.outbox import OutboxRelay
from merchstore.settings import Settings
from tests.support.hostile import hostile_text, shaped_like
from tests.support.kafka import read_topic

EVENT_SHAPED = shaped_like(
    {"event_id": hostile_text, "event_type": hostile_text, "user_id": hostile_text}
).map(lambda payload: payload.decode())
TOO_LARGE = st.builds(
    # A row the broker refuses for its size, of varied content: an event-shaped row repeated
    # past 1 MB (text PostgreSQL takes, as every outbox row is).
    lambda payload, size: payload * (size // len(payload) + 1),
    EVENT_SHAPED,
    st.integers(min_value=1_100_000, max_value=1_300_000),
)
_published_before: dict[str, int] = {}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# One row in five is too large: most examples are about content, a few about size.
@given(st.lists(st.one_of(*[EVENT_SHAPED] * 4, TOO_LARGE), min_size=1, max_size=4))
def test_any_outbox_rows_then_a_good_event_is_sent_with_counts_exact(
    settings: Settings, database_url: str, payloads: list[str]
) -> None:
    with psycopg.connect(database_url) as connection:
        apply_migrations(connection, "merchstore.db_service", "db-service")
        connection.execute("DELETE FROM outbox")
        good = DomainEvent.new("order_placed", "1", {"order_id": "1"})
        for payload in [*payloads, good.to_json().decode()]:
            connection.execute(
                "INSERT INTO outbox (event_id, message_key, payload) VALUES (%s, %s, %s)",
                (uuid.uuid4(), "1", payload),
            )
    topic = settings.topics.events

    async def relay_all() -> OutboxRelay:
        pool = await open_async_pool(database_url, name="test", min_size=1, max_size=2)
        producer = KafkaProducer(settings, client_id="test-outbox")
        relay = OutboxRelay(pool, producer, topic, poll_interval_s=0.1, batch_size=3)
        try:
            while await relay.relay_once():
                pass
        finally:
            producer.close(1)
            await pool.close()
        return relay

    relay = asyncio.run(relay_all())
    too_large = sum(len(p) > 1_000_000 for p in payloads)
    expected = _published_before.get(topic, 0) + len(payloads) - too_large + 1
    published = read_topic(settings.bootstrap_servers, topic, expected, partitions=3)
    _published_before[topic] = expected
    assert len(published) == expected
    assert good.to_json() in [m.value() for m in published]
    assert relay.sent == len(payloads) - too_large + 1
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL),"
            " count(*) FILTER (WHERE failed_at IS NOT NULL), count(*) FROM outbox"
        ).fetchone()
    assert row == (len(payloads) - too_large + 1, too_large, len(payloads) + 1)
