"""A broker of one test's own, which the test may stop and start again on the same port."""

from __future__ import annotations

from pathlib import Path

from merchstore.common.config import Settings, load_settings
from merchstore.common.topics import ensure_topics
from merchstore.runtime.embedded import EmbeddedBroker
from tests.support.processes import free_port


class PrivateBroker:
    """The embedded broker on a fixed free port; each start comes back empty (memory only)."""

    def __init__(self, directory: Path, **settings: object) -> None:
        port = free_port()
        self.settings: Settings = load_settings(
            embedded={"kafka_port": port},
            kafka_bootstrap_servers=f"127.0.0.1:{port}",
            **settings,
        )
        self._directory = directory
        self._broker: EmbeddedBroker | None = None
        self._starts = 0

    @property
    def bootstrap_servers(self) -> str:
        return self.settings.bootstrap_servers

    def start(self) -> PrivateBroker:
        """Start it and create the topics (again: a restarted broker has none)."""
        self._starts += 1
        self._broker = EmbeddedBroker(self.settings, self._directory / f"broker-{self._starts}.log")
        self._broker.start(self.settings)
        ensure_topics(self.settings)
        return self

    def stop(self) -> None:
        if self._broker is not None:
            self._broker.stop()
            self._broker = None
