"""Where a consumer resumes each partition: its stored position, checked against the log."""

from __future__ import annotations

import logging
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from merchstore.common.config.base import CommonSettings
from merchstore.common.kafka.clients import EMBEDDED_CLUSTER_ID, client_config, topic_ids
from merchstore.common.kafka.consumer_metrics import LOG_RESTARTS, SKIPPED

log = logging.getLogger(__name__)

StartOffsets = Callable[[str, str, int], int | None]
"""Where to resume (topic, topic id, partition), or None to start at the beginning."""

MovedStart = Callable[[str, str, int, int], None]
"""Told (topic, topic id, partition, offset) when a stored position was beyond the log's end
and consumption resumes at ``offset`` instead: a handler that filters redeliveries by its
stored position must lower it, or it would drop every new message below the old position."""


class StartPositions:
    """The positions a consumer takes newly assigned partitions at.

    With ``start_offsets`` the handler's own store says where each partition resumes
    (exactly-once), asked with the topic's id, so offsets of an earlier incarnation of the topic
    are never trusted; without, the group's committed offsets do. A position the log no longer
    holds (deleted by retention, or beyond a restarted log's end) is reported and moved.
    """

    def __init__(
        self,
        settings: CommonSettings,
        group_id: str,
        start_offsets: StartOffsets | None,
        moved_start: MovedStart | None,
    ) -> None:
        self._settings = settings
        self._group_id = group_id
        self._start_offsets = start_offsets
        self._moved_start = moved_start
        self._trusts_high_watermark: bool | None = None
        self.topic_ids: dict[str, str] = {}
        """The broker's id of each topic taken so far."""

    def of(self, consumer: Consumer, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """Where each partition resumes, checked against what the log still holds.

        Raises if a topic id or a position cannot be read: the consumer retries.
        """
        ids = topic_ids(self._settings, {p.topic for p in partitions}, strict=True)
        self.topic_ids = {**self.topic_ids, **ids}
        if self._start_offsets is not None:
            stored = {
                (p.topic, p.partition): self._start_offsets(p.topic, ids[p.topic], p.partition)
                for p in partitions
            }
        else:
            timeout = self._settings.kafka.request_timeout_s
            committed = consumer.committed(partitions, timeout=timeout)
            stored = {
                (c.topic, c.partition): c.offset if c.offset >= 0 else None for c in committed
            }
        positions = []
        for partition in partitions:
            key = (partition.topic, partition.partition)
            offset = self._checked_start(consumer, partition, stored[key])
            positions.append(TopicPartition(partition.topic, partition.partition, offset))
        return positions

    def _checked_start(
        self, consumer: Consumer, partition: TopicPartition, stored: int | None
    ) -> int:
        """The offset to resume ``partition`` at: ``stored``, unless the log no longer has it."""
        if stored is None:
            # Nothing stored: never seen this partition (or its database started afresh).
            return OFFSET_BEGINNING
        topic, number = partition.topic, partition.partition
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, number), timeout=self._settings.kafka.request_timeout_s
        )
        if stored < low:
            SKIPPED.labels(self._group_id, topic, str(number)).inc(low - stored)
            log.error(
                "gap on %s[%d]: resuming at %d, but the log starts at %d: %d message(s) were "
                "deleted (retention) before they were read",
                topic,
                number,
                stored,
                low,
                low - stored,
            )
            return low
        if self._trusts_high_watermark is None:
            # Asked through a client of its own: this runs inside a rebalance callback, and the
            # consumer's list_topics there would forget the consumer's call state, so that its
            # next log line aborts the process (confluent-kafka's CallState assertion).
            admin = AdminClient(client_config(self._settings))
            cluster = admin.list_topics(timeout=self._settings.kafka.request_timeout_s)
            # The embedded broker under-reports its high watermark after a multi-record batch:
            # there a position past it is no sign of a restarted log.
            self._trusts_high_watermark = cluster.cluster_id != EMBEDDED_CLUSTER_ID
        if stored > high and self._trusts_high_watermark:
            LOG_RESTARTS.labels(self._group_id, topic, str(number)).inc()
            log.error(
                "%s[%d] ends at %d, below the stored position %d, under the same topic id: its "
                "log restarted (an unclean leader election, a replaced disk). New messages are "
                "read from %d on; offsets %d to %d no longer hold what was read there",
                topic,
                number,
                high,
                stored,
                high,
                high,
                stored - 1,
            )
            if self._moved_start is not None:
                self._moved_start(topic, self.topic_ids[topic], number, high)
            return high
        return stored
