"""The suite's Apache Kafka is secured: SASL_SSL logins, and each user only what its ACLs allow.

Every test on Apache Kafka runs there, each service logged in as its own user (see
`tests.support.broker.grant_service_access`); these tests show what is refused, and that a
refused client wrote nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from merchstore.runtime.certificate_authority import CertificateAuthority
from tests.support.broker import broker_kinds
from tests.support.kafka import produce_one, raw_config, read_to_end, secured
from tests.support.processes import free_port

pytestmark = pytest.mark.skipif(
    "kafka" not in broker_kinds(), reason="Apache Kafka is not among this run's brokers"
)


@pytest.fixture
def topics(apache_kafka_bootstrap: str) -> Iterator[dict[str, str]]:
    """Topics of the test's own (events, event_log, log-channel), made by the super user."""
    suffix = uuid.uuid4().hex[:10]
    names = {
        "events": f"events-{suffix}",
        "event_log": f"event_log-{suffix}",
        "log_channel": f"log-channel-{suffix}",
    }
    admin = AdminClient(raw_config(apache_kafka_bootstrap))
    for future in admin.create_topics([NewTopic(name, 1, 1) for name in names.values()]).values():
        future.result(30)
    yield names


def produce(bootstrap: str, topic: str, user: str, **overrides: object) -> list[KafkaError]:
    """One message as a service's producer sends it (idempotent, every copy acknowledging)."""
    return produce_one(
        bootstrap, topic, user, **{"enable.idempotence": True, "acks": "all", **overrides}
    )


def codes(errors: list[KafkaError]) -> set[int]:
    return {error.code() for error in errors}


def test_the_suite_broker_takes_no_plain_client(apache_kafka_bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": apache_kafka_bootstrap})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)


def test_a_wrong_password_is_refused_and_writes_nothing(
    apache_kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    errors = produce(
        apache_kafka_bootstrap, topics["events"], "receiver", **{"sasl.password": "not-it"}
    )
    assert KafkaError._AUTHENTICATION in codes(errors)
    assert any("invalid credentials" in error.str() for error in errors)
    assert read_to_end(apache_kafka_bootstrap, topics["events"]) == []


def test_the_right_password_writes(apache_kafka_bootstrap: str, topics: dict[str, str]) -> None:
    assert produce(apache_kafka_bootstrap, topics["events"], "receiver") == []
    assert len(read_to_end(apache_kafka_bootstrap, topics["events"])) == 1


def test_storage_cannot_write_log_channel(
    apache_kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    errors = produce(apache_kafka_bootstrap, topics["log_channel"], "storage")
    assert KafkaError.TOPIC_AUTHORIZATION_FAILED in codes(errors)
    assert read_to_end(apache_kafka_bootstrap, topics["log_channel"]) == []


def test_storage_cannot_commit_another_groups_offsets(
    apache_kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    others = f"event-logger-{uuid.uuid4().hex[:8]}"
    partition = TopicPartition(topics["events"], 0, 1)
    as_storage = Consumer(raw_config(apache_kafka_bootstrap, "storage", **{"group.id": others}))
    try:
        # Its coordinator is not even named to storage: the commit waits for one, and fails.
        with pytest.raises(KafkaException):
            as_storage.commit(offsets=[partition], asynchronous=False)
    finally:
        as_storage.close()
    admin = AdminClient(raw_config(apache_kafka_bootstrap, "storage"))
    request = ConsumerGroupTopicPartitions(others, [partition])
    with pytest.raises(KafkaException) as refused:
        admin.alter_consumer_group_offsets([request])[others].result(15)
    assert refused.value.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    as_super = Consumer(raw_config(apache_kafka_bootstrap, **{"group.id": others}))
    try:
        committed = as_super.committed([TopicPartition(topics["events"], 0)], timeout=15)
        assert committed[0].offset < 0  # nothing was committed for that group
    finally:
        as_super.close()


def test_storage_commits_its_own_groups_offsets(
    apache_kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    own = f"storage-{uuid.uuid4().hex[:8]}"
    as_storage = Consumer(raw_config(apache_kafka_bootstrap, "storage", **{"group.id": own}))
    try:
        as_storage.commit(offsets=[TopicPartition(topics["events"], 0, 0)], asynchronous=False)
    finally:
        as_storage.close()


def test_the_receiver_cannot_read_events(
    apache_kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    assert produce(apache_kafka_bootstrap, topics["events"], "receiver") == []
    reader = Consumer(
        raw_config(apache_kafka_bootstrap, "receiver", **{"group.id": f"receiver-{uuid.uuid4()}"})
    )
    try:
        reader.assign([TopicPartition(topics["events"], 0, 0)])
        seen: list[int] = []
        for _ in range(20):
            message = reader.poll(0.5)
            if message is None:
                continue
            error = message.error()
            assert error is not None, "the receiver read a message of events"
            seen.append(error.code())
            if error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                break
        assert KafkaError.TOPIC_AUTHORIZATION_FAILED in seen
    finally:
        reader.close()


def test_no_service_deletes_a_topic(apache_kafka_bootstrap: str, topics: dict[str, str]) -> None:
    for user in ("storage", "receiver", "administrator"):
        admin = AdminClient(raw_config(apache_kafka_bootstrap, user))
        future = admin.delete_topics([topics["events"]], operation_timeout=10)[topics["events"]]
        with pytest.raises(KafkaException) as refused:
            future.result(15)
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    listed = AdminClient(raw_config(apache_kafka_bootstrap)).list_topics(timeout=15).topics
    assert topics["events"] in listed


def test_the_administrator_reads_log_channel_and_cannot_write_it(
    apache_kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    assert produce(apache_kafka_bootstrap, topics["log_channel"], "logging-service") == []
    # Not idempotent: an idempotent producer of a user who may write no topic at all is refused
    # before it names one (CLUSTER_AUTHORIZATION_FAILED, fatal); this one asks the topic.
    plain = produce(
        apache_kafka_bootstrap,
        topics["log_channel"],
        "administrator",
        **{"enable.idempotence": False},
    )
    assert KafkaError.TOPIC_AUTHORIZATION_FAILED in codes(plain)
    access = secured(apache_kafka_bootstrap)
    assert access is not None
    reader = Consumer(
        raw_config(apache_kafka_bootstrap, "administrator", **{"group.id": "merchstore-tail"})
    )
    try:
        reader.assign([TopicPartition(topics["log_channel"], 0, 0)])
        values = []
        for _ in range(40):
            message = reader.poll(0.5)
            if message is not None and message.error() is None:
                values.append(message.value())
                break
        assert values == [b"written?"]
    finally:
        reader.close()


def serve_receiver(
    bootstrap: str, tmp_path: Path, **changes: str
) -> subprocess.CompletedProcess[str]:
    """``merchstore serve receiver`` as the receiver's user, with ``changes`` to its login."""
    access = secured(bootstrap)
    assert access is not None
    env = {
        **os.environ,
        "MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        **access.environment("receiver"),
        "MERCHSTORE_DATA_DIR": str(tmp_path),
        "MERCHSTORE_RECEIVER__PORT": str(free_port()),
        **changes,
    }
    return subprocess.run(
        [sys.executable, "-m", "merchstore", "serve", "receiver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_service_whose_login_is_refused_stops_with_one_line(
    apache_kafka_bootstrap: str, tmp_path: Path
) -> None:
    result = serve_receiver(
        apache_kafka_bootstrap, tmp_path, MERCHSTORE_KAFKA__SASL_PASSWORD="not-it"
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"receiver: Kafka at {apache_kafka_bootstrap} refused the login of")
    assert "MERCHSTORE_KAFKA__SASL_PASSWORD" in last


def test_a_service_without_its_ca_file_stops_with_one_line(
    apache_kafka_bootstrap: str, tmp_path: Path
) -> None:
    missing = tmp_path / "no-ca.pem"
    result = serve_receiver(
        apache_kafka_bootstrap, tmp_path, MERCHSTORE_KAFKA__SSL_CA_LOCATION=str(missing)
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "receiver: kafka.ssl_ca_location (MERCHSTORE_KAFKA__SSL_CA_LOCATION): "
        f"{missing} does not exist"
    )


def test_a_service_given_another_ca_stops_with_one_line(
    apache_kafka_bootstrap: str, tmp_path: Path
) -> None:
    other = CertificateAuthority(tmp_path / "other").create("another CA")
    result = serve_receiver(
        apache_kafka_bootstrap,
        tmp_path,
        MERCHSTORE_KAFKA__SSL_CA_LOCATION=str(other.certificate_path),
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "no TLS connection" in last and "MERCHSTORE_KAFKA__SSL_CA_LOCATION" in last
