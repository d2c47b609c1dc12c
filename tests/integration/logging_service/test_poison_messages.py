"""Whatever sits in the spill, the drain publishes the next good line (real broker)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merchstore.common.kafka.producer import KafkaProducer
from merchstore.logging_service.adapters import SpillBuffer
from merchstore.logging_service.use_cases import LogPublisher
from merchstore.settings import Settings
from tests.support.hostile import hostile_messages, hostile_text, shaped_like
from tests.support.kafka import read_topic

LINE_SHAPED = shaped_like(
    {"level": hostile_text, "message": hostile_text, "trace_id": hostile_text}
)
_published_before: dict[str, int] = {}
"""Messages each test topic held before the current example (examples share one topic)."""

TOO_LARGE = st.builds(
    # A line the broker refuses for its size, of any content: hostile bytes repeated past 1 MB.
    lambda chunk, size: (chunk or b"x") * (size // len(chunk or b"x") + 1),
    st.binary(min_size=1, max_size=64),
    st.integers(min_value=1_100_000, max_value=1_500_000),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        # One payload in five is too large: most examples are about content, a few about size.
        st.one_of(*[hostile_messages(LINE_SHAPED).map(lambda v: v or b"-")] * 4, TOO_LARGE),
        min_size=1,
        max_size=5,
    ),
)
def test_any_spilled_payloads_then_a_good_line_is_published_with_counts_exact(
    settings: Settings, tmp_path_factory: object, payloads: list[bytes]
) -> None:
    topic = settings.topics.log_channel
    good = json.dumps({"message": f"good {uuid.uuid4()}"}).encode()
    folder = Path(str(tmp_path_factory.mktemp("spill")))  # type: ignore[attr-defined]
    spill = SpillBuffer(folder / "spill.sqlite3", max_bytes=64 * 1024 * 1024)
    spill.append([*payloads, good])
    producer = KafkaProducer(settings, client_id="test-drain")
    publisher = LogPublisher(producer, topic, spill, drain_batch=3, drain_producer=producer)

    async def drain() -> None:
        while len(spill):
            assert await publisher.drain_once() > 0

    try:
        asyncio.run(drain())
        too_large = sum(len(p) > 1_000_000 for p in payloads)
        expected = _published_before.get(topic, 0) + len(payloads) - too_large + 1
        published = [m.value() for m in read_topic(settings.bootstrap_servers, topic, expected)]
        _published_before[topic] = expected
        assert len(published) == expected
        assert published[-1] == good
        assert spill.set_aside_count() == too_large
    finally:
        producer.close(1)
        spill.close()
