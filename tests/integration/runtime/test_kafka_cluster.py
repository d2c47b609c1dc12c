"""A three-broker Apache Kafka cluster (KRaft, replication factor 3, min.insync.replicas 2).

What a cluster adds to a single node: topics with three copies, acks=all sends needing two in
sync, and the loss of any one broker losing nothing acknowledged.
"""

from __future__ import annotations

from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from merchstore.common.kafka.producer import KafkaProducer
from merchstore.common.kafka.topics import ensure_topics
from merchstore.runtime.apache_kafka import KafkaCluster
from merchstore.settings import Settings, load_settings
from tests.support.broker import broker_settings
from tests.support.kafka import raw_config, read_topic


def _on(cluster: KafkaCluster, tmp_path: Path, copies: int) -> Settings:
    return load_settings(
        **broker_settings(
            "kafka",
            data_dir=tmp_path / "data",
            kafka_bootstrap_servers=cluster.bootstrap_servers,
            kafka={"replication_factor": copies, "delivery_timeout_ms": 30_000},
        )
    )


def test_every_topic_has_three_copies_and_survives_the_loss_of_a_broker(
    three_brokers: KafkaCluster, tmp_path: Path
) -> None:
    settings = _on(three_brokers, tmp_path, copies=3)
    said: list[str] = []
    ensure_topics(settings, warn=said.append)
    assert said == []
    metadata = AdminClient(raw_config(settings.bootstrap_servers)).list_topics(timeout=10)
    for name in (settings.topics.events, settings.topics.event_log, settings.topics.log_channel):
        partitions = metadata.topics[name].partitions.values()
        assert all(len(p.replicas) == 3 for p in partitions), name

    producer = KafkaProducer(settings, client_id="cluster-test")
    try:
        # acks=all with min.insync.replicas 2: two of the three copies have every message.
        producer.send_and_wait(settings.topics.event_log, b"before")
        leader = metadata.topics[settings.topics.event_log].partitions[0].leader
        three_brokers.node(leader).kill()  # the partition's leader, as a crash ends it
        for i in range(20):
            producer.send_and_wait(settings.topics.event_log, f"after {i}".encode())
    finally:
        producer.close(timeout_s=10)
    values = [
        m.value() for m in read_topic(settings.bootstrap_servers, settings.topics.event_log, 21)
    ]
    assert values == [b"before", *(f"after {i}".encode() for i in range(20))]


def test_a_topic_with_one_copy_is_reported_at_start(
    three_brokers: KafkaCluster, tmp_path: Path
) -> None:
    settings = _on(three_brokers, tmp_path, copies=3)
    admin = AdminClient(raw_config(settings.bootstrap_servers))
    name = settings.topics.event_log
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=30)
    said: list[str] = []
    ensure_topics(settings, warn=said.append)
    assert any(f"topic {name} has 1 copy of a partition" in warning for warning in said), said
