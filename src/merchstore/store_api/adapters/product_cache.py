"""Products answered from memory for a moment, with this replica's own writes seen at once.

Products change only when stock moves, and every product read otherwise costs a gRPC call and
a database query. The cache keeps each answer (already encoded) for ``ttl_s`` seconds. An order
placed or cancelled through this replica clears it before the order is acknowledged, and a read
that was under way across that write does not store what it read, so after an acknowledged
order this replica never shows the old stock (read-your-writes). Orders placed through other
replicas show after at most ``ttl_s``. ``ttl_s = 0`` turns the cache off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable


class ProductCache:
    """Encoded product answers by key, each kept for ``ttl_s`` seconds; one load per miss."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._generation = 0
        self._answers: dict[Hashable, tuple[float, bytes]] = {}
        # Loads under way in the current generation, shared by every reader that misses.
        self._loading: dict[Hashable, asyncio.Future[bytes]] = {}

    @property
    def enabled(self) -> bool:
        """Whether answers are kept at all."""
        return self._ttl_s > 0

    def invalidate(self) -> None:
        """Forget every answer, and every load started before now (a write happened)."""
        self._generation += 1
        self._answers.clear()
        self._loading.clear()

    async def get(self, key: Hashable, load: Callable[[], Awaitable[bytes]]) -> bytes:
        """The answer for ``key``: kept, being loaded, or loaded now by ``load``."""
        if not self.enabled:
            return await load()
        kept = self._answers.get(key)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load, self._generation))
            self._loading[key] = pending
        # shield: one reader cancelled (client gone) must not cancel the others' load.
        return await asyncio.shield(pending)

    async def _load(
        self, key: Hashable, load: Callable[[], Awaitable[bytes]], generation: int
    ) -> bytes:
        started = self._clock()
        try:
            answer = await load()
        finally:
            if self._generation == generation:
                self._loading.pop(key, None)
        # What was read across a write may predate it: give it to the readers who were
        # already waiting (they were concurrent with the write) but keep none of it.
        if self._generation == generation:
            self._answers[key] = (started + self._ttl_s, answer)
        return answer
