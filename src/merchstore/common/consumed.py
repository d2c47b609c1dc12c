"""A consumed message as plain data, so domain code needs no Kafka types."""

from __future__ import annotations

from typing import NamedTuple


class ConsumedMessage(NamedTuple):
    """One message as read from Kafka, with where it was read from.

    ``topic_id`` is the broker's id of this incarnation of the topic: a topic deleted and
    created again, or a memory-only broker started again, has a new one, so positions kept
    under the old id are never applied to the new log. A named tuple: one is built for every
    consumed message, and a tuple is the cheapest to build.
    """

    topic: str
    partition: int
    offset: int
    value: bytes | None
    topic_id: str = ""
    traceparent: str | None = None
    """The W3C trace context its writer put in its ``traceparent`` header, if any."""
