"""PostgreSQL plumbing against a real server: a database merchstore cannot use is refused."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from merchstore.common.postgres import UnsuitableDatabase, apply_migrations


def test_a_database_that_is_not_utf8_is_refused_with_the_fix(postgres_url: str) -> None:
    # What initdb makes without a UTF-8 locale: text then reads back as bytes, and every
    # stored password hash failed to verify (no login ever succeeded, and nothing said why).
    name = f"ascii_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL(
                "CREATE DATABASE {} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'"
                " TEMPLATE template0"
            ).format(sql.Identifier(name))
        )
    url = postgres_url.replace("/merchstore?", f"/{name}?")
    with psycopg.connect(url) as connection:
        with pytest.raises(UnsuitableDatabase) as refused:
            apply_migrations(connection, "merchstore.db_service", "db-service")
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert str(refused.value) == (
        f"PostgreSQL database {name!r} uses the encoding SQL_ASCII; merchstore needs UTF8 "
        f"(create it with: CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0)"
    )
    assert tables == (0,)


def test_a_utf8_database_is_migrated(database_url: str) -> None:
    with psycopg.connect(database_url) as connection:
        assert apply_migrations(connection, "merchstore.db_service", "db-service")
        assert connection.execute("SHOW server_encoding").fetchone() == ("UTF8",)
