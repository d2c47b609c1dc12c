"""``merchstore kafka-setup`` on a secured Apache Kafka: topics, users and their ACLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaError

from merchstore.runtime.compose_access import password_file
from merchstore.tools.kafka_setup import set_up_kafka
from tests.support.broker import PrivateBroker, broker_kinds
from tests.support.kafka import produce_one, read_to_end

pytestmark = pytest.mark.skipif(
    "kafka" not in broker_kinds(), reason="Apache Kafka is not among this run's brokers"
)


def test_kafka_setup_makes_topics_users_and_only_their_acls(tmp_path: Path) -> None:
    broker = PrivateBroker("kafka", tmp_path / "broker", topics={"events": "shop-events"})
    broker.start()
    try:
        passwords = tmp_path / "passwords"
        passwords.mkdir()
        (passwords / password_file("storage")).write_text("storage-new-password\n")
        (passwords / password_file("logging-service")).write_text("logging-new-password")
        done = set_up_kafka(broker.settings, passwords)
        assert "topic shop-events: 3 partition(s)" in done
        assert "user storage: write event_log, read shop-events, read storage" in done
        assert any(line.startswith("user logging-service: write log-channel") for line in done)
        assert not any(line.startswith("user receiver") for line in done)  # no password file

        login = {"sasl.password": "storage-new-password"}
        assert produce_one(broker.bootstrap_servers, "event_log", "storage", **login) == []
        refused = produce_one(broker.bootstrap_servers, "log-channel", "storage", **login)
        assert KafkaError.TOPIC_AUTHORIZATION_FAILED in {e.code() for e in refused}
        assert read_to_end(broker.bootstrap_servers, "log-channel") == []
        # Run again: nothing changes, nothing fails.
        assert set_up_kafka(broker.settings, passwords) == done
    finally:
        broker.stop()
