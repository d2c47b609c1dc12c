"""The Apache Kafka launcher's own rules: the lock file, cluster ids, replication by size."""

from __future__ import annotations

from pathlib import Path

import pytest

from merchstore.runtime.apache_kafka import (
    KAFKA_VERSION,
    KafkaNode,
    NodeAddress,
    cluster_id_of,
    locked_jars,
    new_cluster_id,
)


def test_the_lock_pins_the_release_and_a_checksum_for_every_jar() -> None:
    jars = locked_jars()
    names = {f"{jar.group}:{jar.artifact}": jar for jar in jars}
    assert names["org.apache.kafka:kafka_2.13"].version == KAFKA_VERSION
    assert names["org.apache.kafka:kafka-clients"].version == KAFKA_VERSION
    assert all(len(jar.sha256) == 64 for jar in jars)
    assert len({jar.file_name for jar in jars}) == len(jars)
    assert names["org.apache.kafka:kafka_2.13"].repository_path == (
        f"org/apache/kafka/kafka_2.13/{KAFKA_VERSION}/kafka_2.13-{KAFKA_VERSION}.jar"
    )


def test_a_malformed_lock_line_is_refused_with_its_number(tmp_path: Path) -> None:
    lock = tmp_path / "bad.lock"
    lock.write_text("# a comment\norg.example:thing:1.0 not-a-checksum\n")
    with pytest.raises(ValueError, match=r"bad\.lock:2"):
        locked_jars(lock)


def test_cluster_ids_are_kafka_uuids_never_read_as_an_option() -> None:
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_the_cluster_id_is_read_from_a_formatted_log_dir(tmp_path: Path) -> None:
    assert cluster_id_of(tmp_path) is None
    (tmp_path / "meta.properties").write_text("version=1\ncluster.id=abc-DEF_123\nnode.id=1\n")
    assert cluster_id_of(tmp_path) == "abc-DEF_123"


def _properties(node: KafkaNode) -> dict[str, str]:
    lines = node.server_properties().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_one_node_keeps_one_copy_three_keep_three_with_two_in_sync(tmp_path: Path) -> None:
    single = _properties(KafkaNode(tmp_path, NodeAddress(1, "127.0.0.1", 9092, 9093)))
    assert single["default.replication.factor"] == "1"
    assert single["min.insync.replicas"] == "1"
    assert single["controller.quorum.voters"] == "1@127.0.0.1:9093"

    quorum = [NodeAddress(i, "127.0.0.1", 9000 + i, 9100 + i) for i in (1, 2, 3)]
    second = _properties(KafkaNode(tmp_path, quorum[1], quorum))
    assert second["node.id"] == "2"
    assert second["listeners"] == "PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102"
    assert second["controller.quorum.voters"] == (
        "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    )
    for key in ("default.replication.factor", "offsets.topic.replication.factor"):
        assert second[key] == "3"
    assert second["min.insync.replicas"] == second["transaction.state.log.min.isr"] == "2"
    assert second["auto.create.topics.enable"] == "false"
    assert second["unclean.leader.election.enable"] == "false"
