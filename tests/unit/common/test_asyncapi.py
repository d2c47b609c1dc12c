"""The AsyncAPI document: committed as generated, and saying what the producers really send."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from merchstore.common.asyncapi import asyncapi_document, render_asyncapi
from merchstore.common.messages import DomainEvent, build_event_log_message
from merchstore.logging_service.domain import log_channel_json
from merchstore.protos import logging_pb2
from tests.support.asyncapi import payload_validator
from tests.support.paths import REPOSITORY

DOCUMENT = REPOSITORY / "docs" / "asyncapi.yaml"


def test_the_committed_document_is_the_generated_one() -> None:
    assert DOCUMENT.read_text() == render_asyncapi(), (
        "docs/asyncapi.yaml is stale: run `make openapi` (merchstore asyncapi > docs/asyncapi.yaml)"
    )


def test_it_is_an_asyncapi_3_document_of_the_three_topics() -> None:
    document = yaml.safe_load(DOCUMENT.read_text())
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {"events", "event_log", "log-channel"}
    actions = sorted(operation["action"] for operation in document["operations"].values())
    assert actions == ["receive"] * 3 + ["send"] * 3


def _a_log_line() -> bytes:
    return log_channel_json(
        logging_pb2.LogMessage(
            level=logging_pb2.INFO, service_name="store-api", message="GET /products 200"
        )
    )


PRODUCED = {
    "events": lambda: DomainEvent.new("purchase_sword", "42", {"sword_type": "katana"}).to_json(),
    "eventLog": lambda: json.dumps(
        build_event_log_message("0001", "Receiver ready", "receiver")
    ).encode(),
    "logChannel": _a_log_line,
}


@pytest.mark.parametrize("channel", sorted(PRODUCED))
def test_what_the_producers_send_is_valid_by_the_document(channel: str) -> None:
    validator = payload_validator(asyncapi_document(), channel)
    message = json.loads(PRODUCED[channel]())
    assert not list(validator.iter_errors(message))


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("events", {"event_id": "not a uuid"}),
        ("eventLog", {"code": "12", "message": "m", "service": "s", "timestamp": "t"}),
        ("logChannel", {"level": "LOUD", "service_name": "s", "message": "m"}),
    ],
)
def test_what_the_contract_forbids_is_invalid_by_the_document(
    channel: str, message: dict[str, Any]
) -> None:
    assert list(payload_validator(asyncapi_document(), channel).iter_errors(message))
