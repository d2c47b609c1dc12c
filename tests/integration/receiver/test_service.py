"""The receiver as a real process: every route, validation, and a broker outage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.broker import PrivateBroker
from tests.support.kafka import read_topic
from tests.support.processes import ServiceProcess, free_port, wait_until

ROUTES = [
    ("POST", "/purchase_a_sword", 201, "Sword Purchased!", "purchase_sword"),
    ("GET", "/purchase_a_sword", 201, "Sword Purchased!", "purchase_sword"),
    ("POST", "/purchase_a_knife", 201, "Knife Purchased!", "purchase_knife"),
    ("GET", "/purchase_a_knife", 201, "Knife Purchased!", "purchase_knife"),
    ("POST", "/join_guild", 201, "Guild Joined!", "join_guild"),
    ("GET", "/join_guild", 201, "Guild Joined!", "join_guild"),
    ("GET", "/", 200, "This is the default response!", "default"),
]


def test_every_route_publishes_its_event(services: ServiceLauncher, settings: Settings) -> None:
    receiver = services.start("receiver")
    answers = []
    for method, path, status, message, _ in ROUTES:
        answer = httpx.request(method, f"{receiver.url}{path}")
        assert answer.status_code == status, answer.text
        assert answer.json()["message"] == message
        answers.append(answer.json()["event_id"])
    messages = read_topic(
        settings.bootstrap_servers, settings.topics.events, len(ROUTES), partitions=3
    )
    published = {
        json.loads(m.value() or b"")["event_id"]: json.loads(m.value() or b"") for m in messages
    }
    assert set(published) == set(answers)
    for (_, _, _, _, event_type), event_id in zip(ROUTES, answers, strict=True):
        assert published[event_id]["event_type"] == event_type
        assert published[event_id]["user_id"] == "anonymous"


def test_the_get_form_takes_the_user_from_the_query(
    services: ServiceLauncher, settings: Settings
) -> None:
    receiver = services.start("receiver")
    answer = httpx.get(f"{receiver.url}/join_guild", params={"user_id": "7"})
    assert answer.status_code == 201, answer.text
    [message] = read_topic(settings.bootstrap_servers, settings.topics.events, 1, partitions=3)
    body = json.loads(message.value() or b"")
    assert (body["user_id"], message.key()) == ("7", b"7")
    assert body["event_id"] == answer.json()["event_id"]
    too_long = httpx.get(f"{receiver.url}/join_guild", params={"user_id": "x" * 65})
    assert too_long.status_code == 422
    assert too_long.json()["detail"] == "query parameter user_id: must have at most 64 characters"


def test_body_gives_user_and_metadata(services: ServiceLauncher, settings: Settings) -> None:
    receiver = services.start("receiver")
    answer = httpx.post(
        f"{receiver.url}/purchase_a_sword",
        json={"user_id": "42", "metadata": {"sword_type": "katana", "price": "9.99", "n": 2}},
    )
    assert answer.status_code == 201
    [message] = read_topic(settings.bootstrap_servers, settings.topics.events, 1, partitions=3)
    body = json.loads(message.value() or b"")
    assert message.key() == b"42"
    assert body["metadata"] == {"sword_type": "katana", "price": "9.99", "n": 2}
    assert body["event_id"] == answer.json()["event_id"]
    assert body["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/purchase_a_sword", {"metadata": {"price": "x" * 257}}, "price"),
        ("/purchase_a_knife", {"metadata": {"nested": {"a": 1}}}, "nested"),
        ("/join_guild", {"metadata": {f"k{i}": i for i in range(17)}}, "metadata"),
        ("/join_guild", {"user_id": ""}, "user_id"),
        ("/purchase_a_sword", {"unknown": "x"}, "unknown"),
        ("/join_guild", {"user_id": "\u0000"}, "U+0000"),
    ],
)
def test_invalid_input_is_a_clear_422(
    services: ServiceLauncher, path: str, body: dict[str, object], field: str
) -> None:
    receiver = services.start("receiver")
    answer = httpx.post(f"{receiver.url}{path}", json=body)
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], str)
    assert field in answer.json()["detail"]


def test_announces_0001_once(services: ServiceLauncher, settings: Settings) -> None:
    services.start("receiver")
    [message] = read_topic(settings.bootstrap_servers, settings.topics.event_log, 1)
    body = json.loads(message.value() or b"")
    assert body["code"] == "0001" and "0001" in body["message"] and body["service"] == "receiver"
    # Asking for two waits the whole timeout for a second announcement.
    assert len(read_topic(settings.bootstrap_servers, settings.topics.event_log, 2, 3)) == 1


def test_a_retry_with_the_idempotency_key_is_the_same_event_stored_once(
    services: ServiceLauncher, settings: Settings
) -> None:
    receiver, storage = services.start("receiver"), services.start("storage")

    def send(method: str, path: str, key: str, user: str | None = "7") -> str:
        answer = httpx.request(
            method,
            f"{receiver.url}{path}",
            headers={"Idempotency-Key": key},
            json={"user_id": user} if user else None,
        )
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["event_id"])

    first = send("POST", "/join_guild", "retry-1")
    assert send("POST", "/join_guild", "retry-1") == first, "a retry is the same event"
    assert send("GET", "/join_guild", "retry-1", user=None) != first, "another user"
    assert send("POST", "/purchase_a_sword", "retry-1") != first, "another path"
    assert send("POST", "/join_guild", "retry-2") != first, "another key"
    too_long = httpx.post(f"{receiver.url}/join_guild", headers={"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 422 and too_long.json()["detail"]

    assert len(read_topic(settings.bootstrap_servers, settings.topics.events, 5)) == 5
    wait_until(
        lambda: httpx.get(f"{storage.url}/events/count").json()["count"] == 4,
        30,
        "storage to keep the retried event once",
    )


def test_broker_outage_gives_503_then_recovers(
    tmp_path: Path, private_broker: PrivateBroker
) -> None:
    broker = private_broker
    receiver_port = free_port()
    receiver = ServiceProcess(
        "receiver",
        {
            **broker.service_environment(),
            "MERCHSTORE_RECEIVER__PORT": str(receiver_port),
            "MERCHSTORE_RECEIVER__PUBLISH_TIMEOUT_MS": "2000",
            "MERCHSTORE_DATA_DIR": str(tmp_path),
        },
        receiver_port,
        tmp_path / "receiver.out",
    ).start()
    try:
        assert httpx.post(f"{receiver.url}/join_guild").status_code == 201
        broker.stop()
        started = time.monotonic()
        answer = httpx.post(f"{receiver.url}/join_guild", timeout=30)
        assert answer.status_code == 503
        assert "could not be published" in answer.json()["detail"]
        assert "Idempotency-Key" in answer.json()["detail"], "says how to retry safely"
        assert time.monotonic() - started < 5, "answers within its timeout"

        broker.start()
        wait_until(
            lambda: httpx.post(f"{receiver.url}/join_guild", timeout=30).status_code == 201,
            60,
            "the receiver to publish again",
            interval_s=0.5,
        )
        assert httpx.get(f"{receiver.url}/health").status_code == 200
    finally:
        receiver.stop()
