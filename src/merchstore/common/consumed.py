"""A consumed message as plain data, so domain code needs no Kafka types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsumedMessage:
    """One message as read from Kafka, with where it was read from."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
