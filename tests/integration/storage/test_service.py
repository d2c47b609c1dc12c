"""storage as a real process: dead letters, crashes, and its 0002 announcement."""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from merchstore.common.messages import DomainEvent
from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.broker import members_that_leave_for_good
from tests.support.kafka import produce_all, raw_config, read_topic
from tests.support.processes import ServiceProcess, free_port, holds_for, wait_until


def count(storage_url: str) -> int:
    return int(httpx.get(f"{storage_url}/events/count", timeout=5).json()["count"])


def test_malformed_message_goes_to_dead_letters_and_the_next_is_stored(
    services: ServiceLauncher, settings: Settings, database_url: str
) -> None:
    storage = services.start("storage")
    good = DomainEvent.new("join_guild", "7", {"guild_name": "red"})
    # One partition (key) so the bad message sits between good ones.
    values = [b"{not json", json.dumps({"event_type": "join_guild"}).encode(), good.to_json()]
    produce_all(settings.bootstrap_servers, settings.topics.events, values, key=b"7")
    wait_until(lambda: count(storage.url) == 1, 60, "the good event stored")
    with psycopg.connect(database_url) as connection:
        letters = connection.execute(
            "SELECT topic, kafka_offset, payload, error FROM dead_letters ORDER BY kafka_offset"
        ).fetchall()
        stored = connection.execute("SELECT event_id FROM events").fetchall()
    assert [(row[0], bytes(row[2])) for row in letters] == [
        (settings.topics.events, b"{not json"),
        (settings.topics.events, values[1]),
    ]
    assert letters[1][1] == letters[0][1] + 1
    assert "event_id" in letters[1][3]
    assert [str(row[0]) for row in stored] == [str(good.event_id)]
    assert httpx.get(f"{storage.url}/events/count").json()["dead_letters"] == 2


def test_sigkill_while_consuming_loses_and_duplicates_nothing(
    services: ServiceLauncher, settings: Settings, database_url: str
) -> None:
    events = [DomainEvent.new("purchase_sword", str(i % 50)) for i in range(5000)]
    storage = services.start("storage")

    def produce() -> None:
        for start in range(0, 5000, 250):
            produce_all(
                settings.bootstrap_servers,
                settings.topics.events,
                [e.to_json() for e in events[start : start + 250]],
            )
            time.sleep(0.3)  # paced, so the kill lands mid-stream

    producer = threading.Thread(target=produce)
    producer.start()
    wait_until(lambda: count(storage.url) > 500, 60, "storage consuming")
    storage.kill()
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None and row[0] < 5000, "killed in the middle of consuming"
    storage.start()
    producer.join()
    wait_until(lambda: count(storage.url) >= 5000, 120, "all 5000 stored")
    holds_for(lambda: count(storage.url) == 5000, 2, "each event stored once")
    with psycopg.connect(database_url) as connection:
        stored = [
            str(event_id) for (event_id,) in connection.execute("SELECT event_id FROM events")
        ]
    assert sorted(stored) == sorted(str(e.event_id) for e in events)


def test_announces_0002_once_ready(services: ServiceLauncher, settings: Settings) -> None:
    services.start("storage")
    messages = read_topic(settings.bootstrap_servers, settings.topics.event_log, 2, timeout_s=3)
    assert [json.loads(m.value() or b"")["code"] for m in messages] == ["0002"]
    assert "0002" in json.loads(messages[0].value() or b"")["message"]


def test_a_nul_postgresql_refuses_is_set_aside_and_the_next_event_stored(
    services: ServiceLauncher, settings: Settings, database_url: str
) -> None:
    storage = services.start("storage")
    poison = DomainEvent.new("join_guild", "\u0000")
    good = DomainEvent.new("join_guild", "7", {"guild_name": "red", "level": 3, "vip": True})
    produce_all(
        settings.bootstrap_servers,
        settings.topics.events,
        [poison.to_json(), good.to_json()],
        key=b"7",
    )
    wait_until(lambda: count(storage.url) == 1, 30, "the event after the poison stored")
    assert httpx.get(f"{storage.url}/events/count").json()["dead_letters"] == 1
    assert httpx.get(f"{storage.url}/health").status_code == 200


def test_health_says_503_while_nothing_can_be_stored_then_recovers(
    services: ServiceLauncher, settings: Settings, database_url: str
) -> None:
    storage = services.start("storage", MERCHSTORE_KAFKA__STALL_AFTER_S="3")
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("ALTER TABLE events RENAME TO events_elsewhere")
    produce_all(
        settings.bootstrap_servers,
        settings.topics.events,
        [DomainEvent.new("default", "1").to_json()],
    )

    def health() -> httpx.Response:
        return httpx.get(f"{storage.url}/health", timeout=5)

    wait_until(lambda: health().status_code == 503, 60, "storage to report the stall")
    assert "no progress" in health().json()["detail"]
    with psycopg.connect(database_url, autocommit=True) as connection:
        assert connection.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)
        connection.execute("ALTER TABLE events_elsewhere RENAME TO events")
    wait_until(lambda: health().status_code == 200, 60, "storage to recover")
    wait_until(lambda: count(storage.url) == 1, 30, "the retried event stored")


def test_a_time_outside_the_years_1_to_9999_in_utc_is_set_aside_and_a_fine_query_bound(
    services: ServiceLauncher, settings: Settings
) -> None:
    # PostgreSQL stores such a moment (in year 0 or 10000 once in UTC) but psycopg cannot read
    # it back: stored, it would break /events and the processor's feed for good.
    storage = services.start("storage")
    early, late = "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:00-00:01"
    poison = json.loads(DomainEvent.new("join_guild", "7").to_json())
    good = DomainEvent.new("join_guild", "7", {"guild_name": "red"})
    produce_all(
        settings.bootstrap_servers,
        settings.topics.events,
        [json.dumps({**poison, "timestamp": early}).encode(), good.to_json()],
        key=b"7",
    )
    wait_until(lambda: count(storage.url) == 1, 30, "the event after the poison stored")
    assert httpx.get(f"{storage.url}/events/count").json()["dead_letters"] == 1
    feed = httpx.get(f"{storage.url}/events/feed")
    assert feed.status_code == 200
    assert [e["event_id"] for e in feed.json()["events"]] == [str(good.event_id)]
    # As bounds of a query such times are fine: PostgreSQL compares them rightly.
    for start, end, expected in ((early, late, [str(good.event_id)]), (late, early, [])):
        answer = httpx.get(f"{storage.url}/events", params={"start": start, "end": end})
        assert answer.status_code == 200
        assert [e["event_id"] for e in answer.json()] == expected
    for start, end in ((early, early), ("2000-01-01T00:00:00Z", early)):
        answer = httpx.get(f"{storage.url}/events", params={"start": start, "end": end})
        assert answer.status_code == 200 and answer.json() == []


def test_events_deleted_by_retention_before_they_were_read_are_a_counted_gap(
    services: ServiceLauncher, settings: Settings, broker_kind: str
) -> None:
    if broker_kind == "embedded":
        pytest.skip("the embedded broker keeps everything until it stops: no retention")
    topic = settings.topics.events

    def events(count: int) -> list[bytes]:
        return [DomainEvent.new("join_guild", "7").to_json() for _ in range(count)]

    storage = services.start("storage")
    produce_all(settings.bootstrap_servers, topic, events(5), key=b"7")
    wait_until(lambda: count(storage.url) == 5, 60, "the first events stored")
    assert storage.terminate() == 0
    produce_all(settings.bootstrap_servers, topic, events(10), key=b"7")
    # What retention does to a consumer that stays away too long: the oldest records go.
    admin = AdminClient(raw_config(settings.bootstrap_servers))
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    probe = Consumer(raw_config(settings.bootstrap_servers, **{"group.id": "probe"}))
    ends = {
        p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
    }
    probe.close()
    for future in admin.delete_records(
        [TopicPartition(topic, p, end) for p, end in ends.items()]
    ).values():
        future.result(timeout=30)
    produce_all(settings.bootstrap_servers, topic, events(2), key=b"7")

    storage.start()
    wait_until(lambda: count(storage.url) == 7, 60, "the events after the gap stored")
    assert "10 message(s) were deleted (retention) before they were read" in storage.log_tail(80)
    metrics = httpx.get(f"{storage.url}/metrics").text
    skipped = re.findall(r"consumer_messages_skipped_total\{[^}]*\} ([0-9.]+)", metrics)
    assert sum(float(value) for value in skipped) == 10


def test_replicas_joining_and_one_killed_under_load_store_every_event_once(
    settings: Settings, service_env: dict[str, str], database_url: str, broker_kind: str
) -> None:
    # Three partitions, one consumer group: replicas share them cooperatively (each join or
    # loss moves only the partitions that must move).
    events = [DomainEvent.new("join_guild", str(i % 60)) for i in range(3000)]

    def replica(name: str) -> ServiceProcess:
        port = free_port()
        env = {
            **service_env,
            **members_that_leave_for_good(broker_kind),
            "MERCHSTORE_DATABASE_URL": database_url,
            "MERCHSTORE_STORAGE__PORT": str(port),
        }
        return ServiceProcess("storage", env, port, settings.data_dir / f"{name}.out")

    first, second, third = replica("first"), replica("second"), replica("third")

    def produce() -> None:
        for start in range(0, len(events), 100):
            chunk = [e.to_json() for e in events[start : start + 100]]
            produce_all(settings.bootstrap_servers, settings.topics.events, chunk)
            time.sleep(0.1)  # paced over a few seconds, so the group changes mid-stream

    producer = threading.Thread(target=produce)
    try:
        first.start()
        producer.start()
        wait_until(lambda: count(first.url) > 300, 60, "the first replica consuming")
        second.start()
        wait_until(lambda: count(first.url) > 1200, 60, "both replicas consuming")
        first.kill()  # its partitions go to the others once its session times out
        third.start()
        producer.join()
        wait_until(lambda: count(third.url) >= len(events), 120, "every event stored")
        holds_for(lambda: count(third.url) == len(events), 2, "each event stored once")
        with psycopg.connect(database_url) as connection:
            stored = {str(row[0]) for row in connection.execute("SELECT event_id FROM events")}
        assert stored == {str(e.event_id) for e in events}
        assert "assigned" in second.log_tail(200)
    finally:
        producer.join(timeout=60)
        for process in (first, second, third):
            process.stop()


def test_a_consumer_killed_and_started_again_takes_its_partitions_back_at_once(
    services: ServiceLauncher, settings: Settings
) -> None:
    """Static membership: not ready only until it rejoined, never for the group's session."""
    session_s = 45
    storage = services.start("storage", MERCHSTORE_KAFKA__SESSION_TIMEOUT_MS=str(session_s * 1000))
    produce_all(
        settings.bootstrap_servers,
        settings.topics.events,
        [DomainEvent.new("join_guild", "1").to_json()],
    )
    wait_until(lambda: count(storage.url) == 1, 60, "the first event stored")
    storage.kill()
    killed_at = time.monotonic()
    storage.start(timeout_s=session_s * 2)  # ready once its partitions are assigned
    back_after_s = time.monotonic() - killed_at
    # A new member would wait for the group to give up on the dead one: the whole session.
    assert back_after_s < session_s, f"partitions idle for {back_after_s:.1f} s"
    produce_all(
        settings.bootstrap_servers,
        settings.topics.events,
        [DomainEvent.new("join_guild", "2").to_json()],
    )
    wait_until(lambda: count(storage.url) == 2, 60, "the next event stored")
