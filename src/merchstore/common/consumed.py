"""A consumed message as plain data, so domain code needs no Kafka types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsumedMessage:
    """One message as read from Kafka, with where it was read from.

    ``topic_id`` is the broker's id of this incarnation of the topic: a topic deleted and
    created again, or a memory-only broker started again, has a new one, so positions kept
    under the old id are never applied to the new log.
    """

    topic: str
    partition: int
    offset: int
    value: bytes | None
    topic_id: str = ""
