"""SQLite schemas made one way: numbered migrations, each applied once, whole or not at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from merchstore.common import sqlite


def package_with(root: Path, name: str, migrations: dict[str, str]) -> str:
    folder = root / name / "migrations"
    folder.mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    for file_name, text in migrations.items():
        (folder / file_name).write_text(text)
    return name


FIRST = "-- a table; with a comment;\nCREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);\n"
SECOND = "CREATE TABLE b (y TEXT);\nINSERT INTO a VALUES (2);\n"


def test_each_migration_is_applied_once_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    package = package_with(tmp_path, "schema_a", {"0001_a.sql": FIRST, "0002_b.sql": SECOND})
    connection = sqlite.connect(tmp_path / "db.sqlite3")
    assert sqlite.apply_migrations(connection, package) == ["0001_a.sql", "0002_b.sql"]
    assert sqlite.apply_migrations(connection, package) == []
    assert connection.execute("PRAGMA user_version").fetchone() == (2,)
    assert connection.execute("SELECT x FROM a ORDER BY x").fetchall() == [(1,), (2,)]


def test_a_failing_migration_leaves_the_database_at_the_version_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = "CREATE TABLE b (y TEXT);\nINSERT INTO nowhere VALUES (1);\n"
    package = package_with(tmp_path, "schema_b", {"0001_a.sql": FIRST, "0002_b.sql": broken})
    connection = sqlite.connect(tmp_path / "db.sqlite3")
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        sqlite.apply_migrations(connection, package)
    assert connection.execute("PRAGMA user_version").fetchone() == (1,)
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "b" not in tables  # the half-applied migration was rolled back


def test_an_unfinished_statement_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    package = package_with(tmp_path, "schema_c", {"0001_a.sql": "CREATE TABLE a (x INTEGER)"})
    with pytest.raises(ValueError, match="not complete"):
        sqlite.apply_migrations(sqlite.connect(tmp_path / "db.sqlite3"), package)
