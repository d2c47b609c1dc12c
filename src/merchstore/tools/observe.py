"""What ``verify`` (and ``simulate``'s baseline) read of a running system: topics and HTTP."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from merchstore.common.kafka.clients import client_config
from merchstore.settings import Settings


class TopicReader:
    """Every message of a topic from its beginning, read a little more at each ``drain``.

    The end of a topic is taken to be reached when nothing arrives for ``idle_s``: some
    Kafka-compatible brokers report a wrong high watermark, so it is not asked for.
    """

    def __init__(self, settings: Settings, topic: str, timeout_s: float = 10.0) -> None:
        self.topic = topic
        self._consumer = Consumer(
            client_config(
                settings,
                **{
                    "group.id": "merchstore-verify",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                },
            )
        )
        metadata = self._consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            self._consumer.close()
            raise LookupError(f"topic {topic!r} does not exist on {settings.bootstrap_servers}")
        self._consumer.assign(
            [
                TopicPartition(topic, partition, OFFSET_BEGINNING)
                for partition in metadata.partitions
            ]
        )

    def drain(self, idle_s: float = 2.0, max_s: float = 120.0) -> Iterator[dict[str, Any]]:
        """The JSON objects that arrived since the last drain (others are skipped)."""
        deadline = time.monotonic() + max_s
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_s and time.monotonic() < deadline:
            messages = self._consumer.consume(500, 0.25)
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.fatal():
                        raise RuntimeError(error.str())
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    quiet_since = time.monotonic()  # broker trouble is not the end
                    continue
                quiet_since = time.monotonic()
                try:
                    body = json.loads(message.value() or b"")
                except (ValueError, RecursionError):
                    continue
                if isinstance(body, dict):
                    yield body

    def close(self) -> None:
        """Leave the broker."""
        self._consumer.close()


def event_log_tally(bodies: Iterator[dict[str, Any]], into: Counter[str]) -> Counter[str]:
    """``into`` plus the ``event_log`` messages of ``bodies``, per code."""
    for body in bodies:
        code = body.get("code")
        if isinstance(code, str):
            into[code] += 1
    return into


def event_logger_counts(url: str) -> Counter[str]:
    """The event-logger's ``GET /events_stats``."""
    answer = httpx.get(f"{url}/events_stats", timeout=10)
    answer.raise_for_status()
    return Counter({code: int(count) for code, count in answer.json().items()})


def event_log_baseline(
    settings: Settings, event_logger_url: str, steady_s: float = 20.0
) -> dict[str, int]:
    """What the event-logger counted beyond the messages ``event_log`` holds now, per code.

    It counted every message of earlier incarnations of the topic (the embedded broker starts
    empty at each run) too; this difference stays the same while it keeps up. It is read until
    two readings a second apart agree (the event-logger caught up), within ``steady_s``.
    """
    reader = TopicReader(settings, settings.topics.event_log)
    try:
        on_topic: Counter[str] = Counter()
        previous: dict[str, int] | None = None
        deadline = time.monotonic() + steady_s
        while True:
            event_log_tally(reader.drain(idle_s=1.0), on_topic)
            counted = event_logger_counts(event_logger_url)
            beyond = {
                code: counted.get(code, 0) - on_topic.get(code, 0)
                for code in sorted(set(counted) | set(on_topic))
            }
            if beyond == previous or time.monotonic() > deadline:
                return beyond
            previous = beyond
            time.sleep(1.0)
    finally:
        reader.close()


class StorageFeed:
    """Every event storage holds, in commit order (its ``/events/feed``), read in pieces.

    Each ``read_on`` goes on from where the last one ended, as the topic readers do.
    """

    def __init__(self, url: str, page: int = 5000) -> None:
        self._url = url
        self._page = page
        self._cursor: str | None = None

    def read_on(self) -> Iterator[dict[str, Any]]:
        """The events stored since the last read."""
        with httpx.Client(base_url=self._url, timeout=30) as client:
            while True:
                params: dict[str, Any] = {"limit": self._page}
                if self._cursor is not None:
                    params["after"] = self._cursor
                answer = client.get("/events/feed", params=params)
                answer.raise_for_status()
                body = answer.json()
                yield from body["events"]
                self._cursor = body["next_cursor"]
                if len(body["events"]) < self._page:
                    return
