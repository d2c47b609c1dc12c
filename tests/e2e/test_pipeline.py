"""The whole game-events pipeline, every service a real process: receiver to statistics."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx

from tests.conftest import ServiceLauncher
from tests.support.processes import wait_until

ACTIONS = {
    "/purchase_a_sword": "purchase_sword",
    "/purchase_a_knife": "purchase_knife",
    "/join_guild": "join_guild",
    "/": "default",
}


async def send_concurrently(base_url: str, paths: list[str], concurrency: int) -> list[int]:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def one(index: int, path: str) -> int:
            async with limit:
                if path == "/":
                    answer = await client.get(path)
                else:
                    body = {"user_id": str(index % 17)}
                    answer = await client.post(path, json=body)
                return answer.status_code

        return await asyncio.gather(*(one(i, p) for i, p in enumerate(paths)))


def test_every_accepted_request_is_stored_once_and_counted(services: ServiceLauncher) -> None:
    event_logger = services.start("event-logger")
    storage = services.start("storage")
    receiver = services.start("receiver")
    processor = services.start("processor", MERCHSTORE_PROCESSOR__PERIOD_SECONDS="1")

    chooser = random.Random(5)
    paths = [chooser.choice(list(ACTIONS)) for _ in range(400)]
    statuses = asyncio.run(send_concurrently(receiver.url, paths, concurrency=32))
    assert set(statuses) <= {200, 201}
    sent = Counter(ACTIONS[path] for path in paths)

    wait_until(
        lambda: httpx.get(f"{storage.url}/events/count").json()["count"] >= len(paths),
        60,
        "every event stored",
    )
    wait_until(
        lambda: httpx.get(f"{processor.url}/stats").json()["total_events"] >= len(paths),
        60,
        "every event counted",
    )
    assert httpx.get(f"{storage.url}/events/count").json() == {
        "count": len(paths),
        "dead_letters": 0,
    }
    stats = httpx.get(f"{processor.url}/stats").json()
    assert stats["total_events"] == len(paths), (
        f"processor:\n{processor.log_tail(60)}\nstorage:\n{storage.log_tail(60)}"
    )
    assert {k: v for k, v in stats["counts"].items() if v} == dict(sent)

    # Each service announced its start exactly once.
    wait_until(
        lambda: httpx.get(f"{event_logger.url}/events_stats").json()["0003"] == 1, 30, "0003"
    )
    counts = httpx.get(f"{event_logger.url}/events_stats").json()
    assert (counts["0001"], counts["0002"], counts["0003"]) == (1, 1, 1)
