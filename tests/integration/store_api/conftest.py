"""Fixtures for the store: db-service and store-api as real processes on real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ServiceLauncher
from tests.support.store import Store


@pytest.fixture
def store(services: ServiceLauncher) -> Iterator[Store]:
    services.start("db-service")
    api = services.start("store-api")
    store = Store(api.url)
    yield store
    store.http.close()
