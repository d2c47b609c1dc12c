"""Fixtures of storage's tests: its database, migrated, behind a connection pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from merchstore.common.postgres import apply_migrations, open_pool


@pytest.fixture
def pool(database_url: str) -> Iterator[ConnectionPool]:
    """A pool over this test's own database with storage's migrations applied."""
    pool = open_pool(database_url, name="test", min_size=1, max_size=4)
    with pool.connection() as connection:
        apply_migrations(connection, "merchstore.storage", "storage")
    yield pool
    pool.close()
