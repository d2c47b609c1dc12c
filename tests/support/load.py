"""Steady HTTP load from client threads, for tests that break something while it runs."""

from __future__ import annotations

import threading
from collections import Counter
from types import TracebackType

import httpx


class SteadyLoad:
    """``clients`` threads sending ``GET path`` back to back until the block ends.

    Every answer's status is kept, and every request that got no answer as the error's
    ``repr``, so a failure shows what the client saw.
    """

    def __init__(self, url: str, path: str, clients: int = 1) -> None:
        self.statuses: list[int | str] = []
        self._url = url
        self._path = path
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._load) for _ in range(clients)]

    def _load(self) -> None:
        with httpx.Client(base_url=self._url, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    self.statuses.append(client.get(self._path).status_code)
                except httpx.HTTPError as error:
                    self.statuses.append(repr(error))

    @property
    def answered(self) -> int:
        """Requests finished so far, answered or not."""
        return len(self.statuses)

    def outcomes(self) -> Counter[int | str]:
        """How many requests ended each way."""
        return Counter(self.statuses)

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
