"""The processor as a real process against real storage and broker."""

from __future__ import annotations

import json

import httpx

from merchstore.common.messages import DomainEvent
from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.kafka import produce_all, read_topic
from tests.support.processes import wait_until

# Runs are triggered by the test (POST /runs), so each "period" holds exactly what it sent.
MANUAL = {"MERCHSTORE_PROCESSOR__PERIOD_SECONDS": "3600"}


def stored(storage_url: str) -> int:
    return int(httpx.get(f"{storage_url}/events/count").json()["count"])


def send_events(
    settings: Settings, storage_url: str, count: int, event_type: str = "join_guild"
) -> None:
    before = stored(storage_url)
    events = [DomainEvent.new(event_type, "7").to_json() for _ in range(count)]  # type: ignore[arg-type]
    produce_all(settings.bootstrap_servers, settings.topics.events, events)
    wait_until(lambda: stored(storage_url) == before + count, 60, f"{count} events stored")


def codes_on_event_log(settings: Settings, expected: int) -> list[str]:
    messages = read_topic(settings.bootstrap_servers, settings.topics.event_log, expected, 5)
    return [json.loads(m.value() or b"")["code"] for m in messages]


def test_threshold_alert_once_per_busy_run(services: ServiceLauncher, settings: Settings) -> None:
    storage = services.start("storage")
    processor = services.start("processor", **MANUAL)
    send_events(settings, storage.url, 30)
    assert httpx.post(f"{processor.url}/runs").json()["new_events"] == 30
    send_events(settings, storage.url, 10)
    assert httpx.post(f"{processor.url}/runs").json() | {"at": None} == {
        "at": None,
        "new_events": 10,
        "alerted": False,
        "trace_id": None,  # no trace exported: none to link to
    }
    codes = codes_on_event_log(settings, 5)
    assert sorted(codes) == ["0002", "0003", "0004"]
    messages = read_topic(settings.bootstrap_servers, settings.topics.event_log, 3)
    texts = [json.loads(m.value() or b"")["message"] for m in messages]
    assert any("30 new events" in text for text in texts)


def test_totals_survive_a_kill_between_runs(services: ServiceLauncher, settings: Settings) -> None:
    storage = services.start("storage")
    processor = services.start("processor", **MANUAL)
    send_events(settings, storage.url, 12, "purchase_sword")
    httpx.post(f"{processor.url}/runs").raise_for_status()
    processor.kill()
    send_events(settings, storage.url, 5, "purchase_knife")
    processor.start()
    assert httpx.get(f"{processor.url}/stats").json()["total_events"] == 12
    httpx.post(f"{processor.url}/runs").raise_for_status()
    stats = httpx.get(f"{processor.url}/stats").json()
    assert stats["total_events"] == 17
    assert stats["counts"]["purchase_sword"] == 12
    assert stats["counts"]["purchase_knife"] == 5


def test_a_run_with_storage_down_is_retried_without_double_counting(
    services: ServiceLauncher, settings: Settings
) -> None:
    storage = services.start("storage")
    processor = services.start("processor", MERCHSTORE_PROCESSOR__PERIOD_SECONDS="1")
    send_events(settings, storage.url, 8)
    wait_until(
        lambda: httpx.get(f"{processor.url}/stats").json()["total_events"] == 8, 30, "first run"
    )
    storage.kill()
    answer = httpx.post(f"{processor.url}/runs", timeout=30)
    assert answer.status_code == 503
    storage.start()
    send_events(settings, storage.url, 4)
    wait_until(
        lambda: httpx.get(f"{processor.url}/stats").json()["total_events"] == 12, 30, "caught up"
    )
    assert httpx.get(f"{processor.url}/stats").json()["counts"]["join_guild"] == 12
