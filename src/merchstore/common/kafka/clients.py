"""CommonSettings every Kafka client of merchstore shares, the broker probe and topic ids."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from merchstore.common.config.base import CommonSettings

log = logging.getLogger(__name__)


class ConsumerBroken(Exception):
    """A consumer client hit a fatal error: only a new one consumes again."""


client_log = logging.getLogger("merchstore.kafka.client")
"""librdkafka's own messages, routed through Python logging instead of raw stderr."""

EMBEDDED_CLUSTER_ID = "tansu_cluster"
"""The cluster id the embedded broker reports: its high watermarks are not to be trusted."""


class BrokerUnavailable(Exception):
    """Kafka could not be reached; the message says where and what to do."""


def client_config(settings: CommonSettings, **overrides: Any) -> dict[str, Any]:
    """CommonSettings common to every Kafka client of merchstore."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "reconnect.backoff.max.ms": settings.kafka.reconnect_backoff_max_ms,
        "logger": client_log,
        **settings.kafka.client_security(),
    }
    config.update(overrides)
    return config


def producer_config(settings: CommonSettings, client_id: str, **overrides: Any) -> dict[str, Any]:
    """How every producer of merchstore sends, ``overrides`` last.

    Idempotent, acknowledged by every in-sync copy, within the delivery timeout, and never
    creating a topic (``ensure_topics`` does, with the contract's layout).
    """
    return client_config(
        settings,
        **{
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": settings.kafka.delivery_timeout_ms,
            "allow.auto.create.topics": False,
            **overrides,
        },
    )


_quiet_log = logging.getLogger("merchstore.kafka.probe")
_quiet_log.setLevel(logging.CRITICAL)
_quiet_log.propagate = False


def message_position(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a consumed message."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return topic, partition, offset


def check_broker(
    settings: CommonSettings,
    timeout_s: float | None = None,
    *,
    refused_is_final: bool = False,
    report_topics: bool = False,
) -> None:
    """Raise `BrokerUnavailable` with a helpful message unless the broker answers metadata.

    With ``refused_is_final`` (a command a user is waiting on), every broker refusing the
    connection is reported at once instead of being retried for the whole timeout. With
    ``report_topics`` (a service starting), existing topics with fewer partitions or replicas
    than configured are logged as warnings.
    """
    refused = threading.Event()
    login_refused: list[str] = []
    tls_failed: list[str] = []

    def on_error(error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            refused.set()
        elif error.code() == KafkaError._AUTHENTICATION:
            login_refused.append(error.str())
        elif error.code() == KafkaError._SSL:
            tls_failed.append(error.str())

    # A probe expects refusals while the broker starts: keep them out of the logs.
    admin = AdminClient(client_config(settings, logger=_quiet_log, error_cb=on_error))
    timeout = timeout_s if timeout_s is not None else settings.kafka.request_timeout_s
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            # Short waits while a refusal may come, so a refused login is told at once.
            metadata = admin.list_topics(timeout=max(0.0, min(remaining, 0.5)))
        except KafkaException as error:
            admin.poll(0)  # serves the error callback
            if login_refused:
                raise BrokerUnavailable(
                    f"Kafka at {settings.bootstrap_servers} refused the login of "
                    f"{settings.kafka.sasl_username!r}: check kafka.sasl_username and "
                    "kafka.sasl_password (MERCHSTORE_KAFKA__SASL_USERNAME, "
                    f"MERCHSTORE_KAFKA__SASL_PASSWORD): {login_refused[-1]}"
                ) from None
            if tls_failed:
                raise BrokerUnavailable(
                    f"Kafka at {settings.bootstrap_servers}: no TLS connection (is its "
                    "certificate signed by a CA of kafka.ssl_ca_location, "
                    f"MERCHSTORE_KAFKA__SSL_CA_LOCATION?): {tls_failed[-1]}"
                ) from None
            gave_up = time.monotonic() >= deadline or (refused_is_final and refused.is_set())
            if gave_up:
                raise BrokerUnavailable(
                    f"Kafka at {settings.bootstrap_servers} is not reachable "
                    f"({error.args[0].str()}); start it or set MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS"
                ) from None
            continue
        if report_topics:
            # Imported here: topics builds on this module's clients.
            from merchstore.common.kafka.topics import layout_warnings, layouts_of, required_topics

            for warning in layout_warnings(required_topics(settings), layouts_of(metadata)):
                log.warning("%s", warning)
        return


def topic_ids(
    settings: CommonSettings, topics: Iterable[str], strict: bool = False
) -> dict[str, str]:
    """The broker's id of each topic's current incarnation ("" where the broker has none).

    ``strict``: a failed lookup raises instead of leaving the ids out (positions keyed by
    topic id would otherwise not be found, and consumption would start over).
    """
    names = sorted(set(topics))
    if not names:
        return {}
    admin = AdminClient(client_config(settings))
    ids: dict[str, str] = {}
    try:
        futures = admin.describe_topics(TopicCollection(names))
        for name, future in futures.items():
            ids[name] = str(future.result(settings.kafka.request_timeout_s).topic_id or "")
    except Exception as error:
        if strict:
            raise TopicIdsUnavailable(f"cannot read the topic ids of {names}: {error}") from None
        log.warning("cannot read topic ids of %s (%s)", names, error)
    return ids


class TopicIdsUnavailable(Exception):
    """The broker did not say which incarnation of a topic this is."""


def every_partition(
    consumer: Consumer, topics: Sequence[str], stop: threading.Event
) -> list[TopicPartition]:
    """Every partition of ``topics``, asked of the broker until it answers or ``stop`` is set.

    For a consumer that reads them all itself, without joining its group.
    """
    attempt = 0
    while not stop.is_set():
        try:
            found = []
            for topic in topics:
                partitions = consumer.list_topics(topic, 10).topics[topic].partitions
                found += [TopicPartition(topic, partition) for partition in sorted(partitions)]
            return found
        except Exception as error:  # the broker not up yet, or the topic not there yet
            attempt += 1
            log.warning("cannot list the partitions of %s yet: %s", ", ".join(topics), error)
            stop.wait(min(0.5 * 2**attempt, 30.0))
    return []
