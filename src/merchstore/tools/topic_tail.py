"""``merchstore events tail``: print a topic's messages as they arrive (a small kafkacat)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from merchstore.common.kafka.clients import client_config
from merchstore.settings import Settings


def follow_topic(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool,
    stop: threading.Event,
    timeout_s: float = 10.0,
    note: Callable[[str], None] | None = None,
) -> Iterator[Message]:
    """Yield every message of ``topic`` (all partitions), from now or from the beginning.

    "From now" is found by timestamp, not by the end offset, because some Kafka-compatible
    brokers report a wrong high watermark; it works the same on Apache Kafka. A broker that
    goes away is waited for (``note`` hears of it once per outage): the client reconnects and
    goes on from where it was; a log that restarted (the embedded broker comes back empty) is
    followed from its new beginning. Only a fatal client error ends the tail.
    """
    consumer = Consumer(
        client_config(
            settings,
            **{
                "group.id": "merchstore-tail",
                "enable.auto.commit": False,
                # A position the log no longer has (it restarted below it): its new beginning.
                "auto.offset.reset": "earliest",
            },
        )
    )
    troubled = False
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise LookupError(f"topic {topic!r} does not exist on {settings.bootstrap_servers}")
        started_ms = int(time.time() * 1000)
        partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        if not from_beginning:
            found = consumer.offsets_for_times(
                [TopicPartition(topic, p.partition, started_ms) for p in partitions],
                timeout=timeout_s,
            )
            partitions = [
                TopicPartition(topic, p.partition, p.offset if p.offset >= 0 else OFFSET_BEGINNING)
                for p in found
            ]
        consumer.assign(partitions)
        if note is not None:
            since = "the beginning" if from_beginning else "now"
            note(f"following {topic} ({len(partitions)} partition(s)) from {since}; Ctrl-C stops")
        while not stop.is_set():
            for message in consumer.consume(100, 0.5):
                error = message.error()
                if error is not None:
                    if error.fatal():
                        raise RuntimeError(error.str())
                    if error.code() != KafkaError._PARTITION_EOF and not troubled:
                        troubled = True
                        if note is not None:
                            note(f"broker trouble ({error.str()}); waiting for it to come back")
                    continue
                if troubled and note is not None:
                    note("the broker is back; following again")
                troubled = False
                if not from_beginning and message.timestamp()[1] < started_ms:
                    continue
                yield message
    finally:
        consumer.close()


def format_message(message: Message) -> str:
    """One line: ``topic[partition]@offset key=K value``."""
    key = message.key()
    value = message.value() or b""
    shown_key = key.decode(errors="replace") if key else "-"
    return (
        f"{message.topic()}[{message.partition()}]@{message.offset()} key={shown_key} "
        f"{value.decode(errors='replace')}"
    )


def has_event_type(message: Message, event_type: str) -> bool:
    """Whether the message is a JSON object whose ``event_type`` is ``event_type``."""
    try:
        body = json.loads(message.value() or b"")
    except (ValueError, RecursionError):
        return False
    return isinstance(body, dict) and body.get("event_type") == event_type


def tail_topic(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool,
    stop: threading.Event,
    echo: Callable[[str], None],
    max_messages: int | None = None,
    as_json: bool = False,
    event_type: str | None = None,
    note: Callable[[str], None] | None = None,
) -> None:
    """Print each message of ``topic`` until ``stop`` is set or ``max_messages`` were shown.

    ``as_json`` prints the value alone (one JSON document per line, for ``jq``);
    ``event_type`` keeps only domain events of that type; ``note`` hears, once, that the
    tail is following the topic (a message sent after that is shown).
    """
    shown = 0
    for message in follow_topic(
        settings, topic, from_beginning=from_beginning, stop=stop, note=note
    ):
        if event_type is not None and not has_event_type(message, event_type):
            continue
        if as_json:
            echo((message.value() or b"").decode(errors="replace"))
        else:
            echo(format_message(message))
        shown += 1
        if max_messages is not None and shown >= max_messages:
            return
