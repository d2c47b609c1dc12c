"""Small Kafka helpers for tests: raw clients of a (secured) broker, produce and read topics.

The suite's Apache Kafka is secured (SASL_SSL, ACLs): a test's raw clients log in as its super
user, each service as a user of its own. What a broker at an address needs is registered here
once (`register_secured`), so a helper given only the address connects the right way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from merchstore.common.config.kafka import KafkaSettings
from merchstore.runtime.kafka_security import SUPER_USER

Headers = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class SecuredKafka:
    """A secured broker's CA, and the password of each user (its super user and services)."""

    ca_certificate: str
    passwords: dict[str, str]

    def client_config(self, user: str = SUPER_USER) -> dict[str, str]:
        """The client settings (librdkafka) of ``user``, as a merchstore process makes them."""
        return KafkaSettings.model_validate(self.settings_section(user)).client_security()

    def settings_section(self, user: str = SUPER_USER) -> dict[str, str]:
        """The ``kafka`` settings of a merchstore process logged in as ``user``."""
        return {
            "security_protocol": "SASL_SSL",
            "sasl_username": user,
            "sasl_password": self.passwords[user],
            "ssl_ca_location": self.ca_certificate,
        }

    def environment(self, user: str = SUPER_USER) -> dict[str, str]:
        """The same as environment variables of a merchstore process."""
        return {
            f"MERCHSTORE_KAFKA__{key.upper()}": value
            for key, value in self.settings_section(user).items()
        }

    def save(self, path: Path) -> None:
        """Keep it in a private file, for the suite's other processes."""
        path.write_text(json.dumps(asdict(self)))
        path.chmod(0o600)

    @classmethod
    def load(cls, path: Path) -> SecuredKafka:
        """Read what `save` kept."""
        return cls(**json.loads(path.read_text()))


_SECURED: dict[str, SecuredKafka] = {}


def register_secured(bootstrap: str, access: SecuredKafka) -> None:
    """Clients of the broker at ``bootstrap`` log in with ``access`` from now on."""
    _SECURED[bootstrap] = access


def secured(bootstrap: str) -> SecuredKafka | None:
    """How to log in to the broker at ``bootstrap``; None for a plain one."""
    return _SECURED.get(bootstrap)


def raw_config(bootstrap: str, user: str = SUPER_USER, /, **overrides: Any) -> dict[str, Any]:
    """A raw client's settings for the broker at ``bootstrap``, logged in as ``user`` if secured."""
    access = secured(bootstrap)
    login = access.client_config(user) if access is not None else {}
    return {"bootstrap.servers": bootstrap, **login, **overrides}


def produce_one(
    bootstrap: str, topic: str, user: str = SUPER_USER, **overrides: Any
) -> list[KafkaError]:
    """Produce one message (``written?``) as ``user``; every error the client saw (none: written).

    A fatal error (an idempotent producer refused) ends the producer and is among them.
    """
    errors: list[KafkaError] = []

    def delivered(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            errors.append(error)

    config = {"message.timeout.ms": 8000, "error_cb": errors.append, **overrides}
    producer = Producer(raw_config(bootstrap, user, **config))
    try:
        producer.produce(topic, b"written?", on_delivery=delivered)
        producer.flush(20)
    except KafkaException as error:
        errors.append(error.args[0])
    return errors


def produce_all(
    bootstrap: str,
    topic: str,
    values: Iterable[bytes],
    key: bytes | None = None,
    headers: Headers | None = None,
) -> int:
    """Produce every value (each with ``headers``) until all are acknowledged; return how many."""
    return produce_messages(bootstrap, topic, ((value, headers) for value in values), key)


def produce_messages(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes, Headers | None]],
    key: bytes | None = None,
) -> int:
    """Produce every (value, headers) until all are acknowledged; return how many."""
    producer = Producer(raw_config(bootstrap, **{"enable.idempotence": True, "linger.ms": 5}))
    failures: list[str] = []
    count = 0
    for value, headers in messages:
        while True:
            try:
                producer.produce(
                    topic,
                    value=value,
                    key=key,
                    headers=headers,
                    on_delivery=lambda err, msg: failures.append(str(err)) if err else None,
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        count += 1
    remaining = producer.flush(30)
    assert remaining == 0 and not failures, f"{remaining} unflushed, failures: {failures[:3]}"
    return count


def read_topic(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0, partitions: int = 1
) -> list[Message]:
    """Read ``topic`` from the beginning until ``expected`` messages arrived (or time out)."""
    consumer = Consumer(raw_config(bootstrap, **{"group.id": "test-reader"}))
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is None:
                    messages.append(message)
        return messages
    finally:
        consumer.close()


def read_to_end(
    bootstrap: str,
    topic: str,
    timeout_s: float = 30.0,
    *,
    user: str = SUPER_USER,
    group: str = "test-reader",
) -> list[Message]:
    """Every message of ``topic`` up to the high watermarks of its partitions when called.

    On a secured broker it reads as ``user``, in ``group`` (which commits nothing).

    For Apache Kafka, whose high watermark is exact (the embedded broker's reads low after a
    multi-record batch: use `read_topic` there).
    """
    consumer = Consumer(raw_config(bootstrap, user, **{"group.id": group}))
    try:
        partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1]
            for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        positions = dict.fromkeys(partitions, 0)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while any(positions[p] < ends[p] for p in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: not read to its end within {timeout_s} s")
            for message in consumer.consume(500, 0.5):
                if message.error() is None:
                    messages.append(message)
                    positions[message.partition() or 0] = (message.offset() or 0) + 1
        return messages
    finally:
        consumer.close()
