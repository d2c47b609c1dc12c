"""SQLite, the one way every service opens it and makes its schema.

Opened in WAL mode with explicit transactions, shared by threads; its schema made by the
numbered ``migrations/*.sql`` files of the service that owns it, as PostgreSQL's are
(`merchstore.common.postgres.apply_migrations`), with the version in ``PRAGMA user_version``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from merchstore.common.poison import PoisonPolicy

log = logging.getLogger(__name__)

REFUSED_BY_SQLITE = PoisonPolicy(
    permanent=(sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, ValueError)
)
"""SQLite refusing a value (a check, text it cannot encode, a value too big) is never
transient; a locked or failing database (OperationalError) is, and is retried."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating its folder) a database in WAL mode with explicit transactions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL survives any process crash; only an OS crash could lose the last commit.
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` if anything raised."""
    cursor = connection.cursor()
    cursor.execute("BEGIN IMMEDIATE")
    try:
        yield cursor
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    cursor.execute("COMMIT")


_VERSIONED = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
"""A migration's file name: its four-digit version, then what it does (``0002_topic_ids.sql``)."""


def apply_migrations(connection: sqlite3.Connection, package: str) -> list[str]:
    """Apply the ``migrations/*.sql`` files of ``package`` newer than the database, in order.

    Each file runs in one transaction together with the new ``user_version``, so a crash
    leaves the database at one version or the next, never between; a second process opening
    the same file waits, then finds the work done.
    """
    folder = resources.files(package) / "migrations"
    migrations = sorted(
        (int(found.group(1)), entry)
        for entry in folder.iterdir()
        if (found := _VERSIONED.fullmatch(entry.name))
    )
    applied: list[str] = []
    for version, entry in migrations:
        with transaction(connection) as cursor:
            if cursor.execute("PRAGMA user_version").fetchone()[0] >= version:
                continue
            for statement in _statements(entry.read_text()):
                cursor.execute(statement)
            cursor.execute(f"PRAGMA user_version = {version}")
        applied.append(entry.name)
        log.info("applied migration %s/%s", package, entry.name)
    return applied


def _statements(script: str) -> Iterator[str]:
    """The statements of a script, one at a time (executescript would commit on its own)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement.strip()
            statement = ""
    if statement.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in statement.splitlines()
    ):
        raise ValueError(f"a statement is not complete: {statement.strip()[:80]!r}")
