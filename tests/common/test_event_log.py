"""The event_log publisher sends the contract's message format."""

from __future__ import annotations

import json
import re

import pytest

from merchstore.common.config import Settings
from merchstore.common.event_log import EventLogPublisher, build_event_log_message
from merchstore.common.kafka import KafkaProducer
from tests.support.kafka import read_topic

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_message_has_the_contract_fields() -> None:
    message = build_event_log_message("0001", "Receiver ready (code 0001)", "receiver")
    assert set(message) == {"code", "message", "service", "timestamp"}
    assert message["code"] == "0001"
    assert message["service"] == "receiver"
    assert TIMESTAMP.match(message["timestamp"])


def test_code_is_added_to_the_text_when_missing() -> None:
    message = build_event_log_message("0003", "Processor started", "processor")
    assert "0003" in message["message"]


@pytest.mark.parametrize("code", ["1", "00001", "abcd", ""])
def test_invalid_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="four digits"):
        build_event_log_message(code, "text", "svc")


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
