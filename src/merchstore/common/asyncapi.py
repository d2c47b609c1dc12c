"""The AsyncAPI 3 document of merchstore's topics, generated from their message contracts.

``docs/asyncapi.yaml`` is this document (``merchstore asyncapi`` prints it; a test keeps the
two equal), as ``docs/openapi/`` holds the HTTP services' documents. The payload schemas come
from the models of :mod:`merchstore.common.messages`, so the document cannot say other than
what the producers send and the consumers accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from merchstore.common.config.kafka import KafkaSettings
from merchstore.common.config.sections import TopicSettings
from merchstore.common.messages import (
    KNOWN_CODES,
    LOG_LINE_MAX_BYTES,
    DomainEvent,
    EventLogMessage,
    LogChannelMessage,
)

ASYNCAPI_VERSION = "3.0.0"


@dataclass(frozen=True)
class _Topic:
    """One channel of the document: the topic, its message, who sends and who receives it."""

    channel: str
    message: type[BaseModel]
    message_name: str
    summary: str
    description: str
    key: str | None
    partitions: int | None
    senders: list[str]
    receivers: list[str]


def _topics() -> list[_Topic]:
    topics, default = TopicSettings(), KafkaSettings()
    codes = "; ".join(f"{code}: {meaning}" for code, meaning in KNOWN_CODES.items())
    return [
        _Topic(
            channel=topics.events,
            message=DomainEvent,
            message_name="domainEvent",
            summary="A player's action or a store order",
            description=(
                "Domain events: the receiver publishes players' actions, db-service's outbox "
                "relay the store's orders. Storage keeps each `event_id` once; a message it "
                "cannot store is set aside with its reason (counted as `dead_letters`). "
                f"Partitions: `topics.events_partitions` (default {topics.events_partitions}); "
                f"copies: `kafka.replication_factor` (default {default.replication_factor})."
            ),
            key="The user id: one player's events stay in order.",
            partitions=topics.events_partitions,
            senders=["receiver", "db-service"],
            receivers=["storage"],
        ),
        _Topic(
            channel=topics.event_log,
            message=EventLogMessage,
            message_name="eventLogMessage",
            summary="A service's lifecycle message",
            description=(
                "Lifecycle messages, one partition so that they keep one total order. The "
                f"event-logger stores each exactly once and counts it by code. Codes: {codes}."
            ),
            key="The sending service's name.",
            partitions=1,
            senders=[
                "receiver",
                "storage",
                "processor",
                "store-api",
                "db-service",
                "logging-service",
            ],
            receivers=["event-logger"],
        ),
        _Topic(
            channel=topics.log_channel,
            message=LogChannelMessage,
            message_name="logLine",
            summary="One operation log line",
            description=(
                "Operation logs that services stream to logging-service over gRPC, published "
                f"as JSON. A line over {LOG_LINE_MAX_BYTES // 1024} KiB is cut to fit, with a "
                "marker saying so. Read with `merchstore logs tail`. Partitions: "
                f"`topics.log_channel_partitions` (default {topics.log_channel_partitions})."
            ),
            key=None,
            partitions=topics.log_channel_partitions,
            senders=["logging-service"],
            receivers=["merchstore logs tail"],
        ),
    ]


def _camel(name: str) -> str:
    words = name.replace("-", " ").replace("_", " ").split()
    return words[0] + "".join(word.capitalize() for word in words[1:])


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3 document of the three topics, as a plain mapping."""
    topics = _topics()
    _, schemas = models_json_schema(
        [(topic.message, "validation") for topic in topics],
        ref_template="#/components/schemas/{model}",
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics:
        channel_id = _camel(topic.channel)
        model = topic.message.__name__
        messages[topic.message_name] = {
            "name": model,
            "title": model,
            "summary": topic.summary,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{model}"},
        }
        if topic.key is not None:
            key = {"type": "string", "description": topic.key}
            messages[topic.message_name]["bindings"] = {"kafka": {"key": key}}
        channels[channel_id] = {
            "address": topic.channel,
            "description": topic.description,
            "messages": {
                topic.message_name: {"$ref": f"#/components/messages/{topic.message_name}"}
            },
            "bindings": {"kafka": {"topic": topic.channel, "partitions": topic.partitions}},
        }
        for action, parties in (("send", topic.senders), ("receive", topic.receivers)):
            operations[f"{action}{channel_id[0].upper()}{channel_id[1:]}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{'Sent' if action == 'send' else 'Received'} by {', '.join(parties)}",
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{topic.message_name}"}],
            }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "merchstore topics",
            "version": "1.0.0",
            "description": (
                "The Kafka topics of merchstore: what travels on each, who sends it and who "
                "receives it. Generated from `merchstore/common/messages.py`; the HTTP and gRPC "
                "interfaces are in docs/openapi/ and protos/."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": (
                    "The broker `merchstore up` runs, or the one that "
                    "MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS names (Apache Kafka, KRaft)."
                ),
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas["$defs"]},
    }


def render_asyncapi() -> str:
    """The document as YAML, keys in the order written (what ``docs/asyncapi.yaml`` holds)."""
    return yaml.safe_dump(asyncapi_document(), sort_keys=False, allow_unicode=True, width=100)
