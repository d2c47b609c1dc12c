"""The event_log publisher sends the contract's message format."""

from __future__ import annotations

import json

from merchstore.common.kafka.event_log import EventLogPublisher
from merchstore.common.kafka.producer import KafkaProducer
from merchstore.settings import Settings
from tests.support.kafka import read_topic


def test_publish_reaches_the_topic(settings: Settings) -> None:
    producer = KafkaProducer(settings, client_id="test")
    publisher = EventLogPublisher(producer, settings.topics.event_log, "receiver")
    publisher.publish("0001", "Receiver connected to Kafka and ready")
    producer.close()
    [message] = read_topic(settings.bootstrap_servers, settings.topics.event_log, 1)
    body = json.loads(message.value() or b"")
    assert body["code"] == "0001"
    assert "0001" in body["message"]
    assert body["service"] == "receiver"
    assert message.key() == b"receiver"
