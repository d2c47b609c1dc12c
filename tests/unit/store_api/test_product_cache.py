"""The product cache's rules, in process: kept for its time, cleared by a write, one load."""

from __future__ import annotations

import asyncio

import pytest

from merchstore.store_api.adapters.product_cache import ProductCache


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Database:
    """Stands in for db-service: a value, how often it was read, and a gate to hold reads."""

    def __init__(self) -> None:
        self.value = b"old"
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.read_started = asyncio.Event()

    async def load(self) -> bytes:
        self.reads += 1
        self.read_started.set()
        seen = self.value
        await self.gate.wait()
        return seen


def test_an_answer_is_kept_for_its_time_then_read_again() -> None:
    async def scenario() -> None:
        clock, database = Clock(), Database()
        cache = ProductCache(1.0, clock)
        assert await cache.get("all", database.load) == b"old"
        database.value = b"new"
        clock.now += 0.9
        assert await cache.get("all", database.load) == b"old"
        clock.now += 0.2
        assert await cache.get("all", database.load) == b"new"
        assert database.reads == 2

    asyncio.run(scenario())


def test_a_write_is_seen_by_the_next_read() -> None:
    async def scenario() -> None:
        database = Database()
        cache = ProductCache(60.0)
        await cache.get(1, database.load)
        database.value = b"new"
        cache.invalidate()
        assert await cache.get(1, database.load) == b"new"

    asyncio.run(scenario())


def test_a_read_under_way_across_a_write_is_not_kept() -> None:
    async def scenario() -> None:
        database = Database()
        cache = ProductCache(60.0)
        database.gate.clear()
        early = asyncio.ensure_future(cache.get(1, database.load))
        await database.read_started.wait()
        database.read_started.clear()
        # The write commits and is acknowledged while the early read still waits.
        database.value = b"new"
        cache.invalidate()
        late = asyncio.ensure_future(cache.get(1, database.load))
        await database.read_started.wait()
        database.gate.set()
        assert await early == b"old"
        assert await late == b"new"
        assert await cache.get(1, database.load) == b"new"

    asyncio.run(scenario())


def test_concurrent_misses_share_one_load() -> None:
    async def scenario() -> None:
        database = Database()
        cache = ProductCache(60.0)
        database.gate.clear()
        readers = [asyncio.ensure_future(cache.get("all", database.load)) for _ in range(50)]
        await asyncio.sleep(0)
        database.gate.set()
        assert set(await asyncio.gather(*readers)) == {b"old"}
        assert database.reads == 1

    asyncio.run(scenario())


def test_a_failed_load_reaches_its_readers_and_is_not_kept() -> None:
    async def scenario() -> None:
        cache = ProductCache(60.0)

        async def failing() -> bytes:
            raise RuntimeError("db-service down")

        with pytest.raises(RuntimeError):
            await cache.get("all", failing)
        database = Database()
        assert await cache.get("all", database.load) == b"old"

    asyncio.run(scenario())


def test_zero_seconds_turns_it_off() -> None:
    async def scenario() -> None:
        database = Database()
        cache = ProductCache(0)
        for _ in range(3):
            await cache.get("all", database.load)
        assert database.reads == 3

    asyncio.run(scenario())
