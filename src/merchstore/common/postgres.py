"""PostgreSQL plumbing: one connection pool per service and versioned SQL migrations."""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from typing import Any

import psycopg
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from merchstore.common.poison import PoisonPolicy
from merchstore.common.tracing import nested_span_provider

log = logging.getLogger(__name__)

REFUSED_BY_POSTGRES = PoisonPolicy(permanent=(psycopg.DataError, psycopg.IntegrityError))
"""PostgreSQL refusing the data (a NUL, an invalid JSON number, a check) is never transient;
a connection or pool failure is, and is retried."""


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached; the message says where (without the password)."""


class UnsuitableDatabase(DatabaseUnavailable):
    """PostgreSQL answers, but its database cannot hold merchstore's data as it is set up."""


def check_encoding(connection: psycopg.Connection) -> None:
    """Refuse a database whose encoding is not UTF-8, naming it and the fix.

    In a SQL_ASCII database (what ``initdb`` makes without a UTF-8 locale) text comes back as
    bytes: every stored password hash would read as its ``b'...'`` form and no login would
    ever succeed, with no error anywhere.
    """
    row = connection.execute("SHOW server_encoding").fetchone()
    encoding = row[0] if row else None
    if isinstance(encoding, bytes):
        encoding = encoding.decode("ascii", "replace")
    if encoding != "UTF8":
        name = connection.info.dbname
        raise UnsuitableDatabase(
            f"PostgreSQL database {name!r} uses the encoding {encoding}; merchstore needs UTF8 "
            f"(create it with: CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0)"
        )


def describe_database(url: str) -> str:
    """``user@host:port/dbname`` of a connection URL (no password), safe to print."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(unparsable database URL)"
    user = f"{info['user']}@" if info.get("user") else ""
    where = f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
    return user + where


def why_refused(url: str, timeout_s: float = 5.0) -> str | None:
    """Why one connection to ``url`` fails, in libpq's words on one line; None if it succeeds.

    The pool only times out; this says what it met: a refused password, a certificate of
    another CA, a missing CA file, no ``pg_hba.conf`` line for a plain connection. libpq's
    messages name the host and user, never the password.
    """
    try:
        psycopg.connect(url, connect_timeout=max(1, round(timeout_s))).close()
    except psycopg.Error as error:
        return " ".join(str(error).split())
    return None


_NOBODY_THERE = ("Connection refused", "timeout expired", "could not translate host name")
"""libpq's words for a server that is not there, rather than one that turned the login away."""


def _unreachable(url: str) -> DatabaseUnavailable:
    reason = why_refused(url)
    where = describe_database(url)
    if reason is not None and not any(words in reason for words in _NOBODY_THERE):
        return DatabaseUnavailable(f"PostgreSQL at {where} cannot be used: {reason}")
    return DatabaseUnavailable(
        f"PostgreSQL at {where} is not reachable; start it or set MERCHSTORE_DATABASE_URL"
    )


def _traced(connection: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Have ``connection``'s statements make spans inside a traced request (none outside one).

    OpenTelemetry's psycopg instrumentation, on the provider of nested spans: a query is a
    child of the request or message that ran it, and a background loop's query starts no trace.
    """
    provider = nested_span_provider()
    if provider is not None:
        PsycopgInstrumentor().instrument_connection(connection, tracer_provider=provider)  # type: ignore[type-var]


async def _traced_async(connection: psycopg.AsyncConnection[Any]) -> None:
    _traced(connection)


def _checked(connection: psycopg.Connection[Any]) -> None:
    # The pool's liveness check on hand-out is not the request's work: no span for it.
    with suppress_instrumentation():
        ConnectionPool.check_connection(connection)


async def _checked_async(connection: psycopg.AsyncConnection[Any]) -> None:
    with suppress_instrumentation():
        await AsyncConnectionPool.check_connection(connection)


def open_pool(
    url: str, *, name: str, min_size: int, max_size: int, timeout_s: float = 10.0
) -> ConnectionPool:
    """Open a pool and wait for its first connection, or raise DatabaseUnavailable.

    Connections are checked when handed out, so one broken while idle (a PostgreSQL
    restart) is discarded and replaced rather than given to a caller.
    """
    pool = ConnectionPool(
        url,
        name=name,
        min_size=min_size,
        max_size=max_size,
        open=False,
        configure=_traced,
        check=_checked,
        timeout=timeout_s,
    )
    try:
        pool.open(wait=True, timeout=timeout_s)
    except PoolTimeout:
        pool.close()
        raise _unreachable(url) from None
    return pool


async def open_async_pool(
    url: str, *, name: str, min_size: int, max_size: int, timeout_s: float = 10.0
) -> AsyncConnectionPool:
    """The asyncio twin of `open_pool`, with the same checks and errors."""
    pool = AsyncConnectionPool(
        url,
        name=name,
        min_size=min_size,
        max_size=max_size,
        open=False,
        configure=_traced_async,
        check=_checked_async,
        timeout=timeout_s,
    )
    try:
        await pool.open(wait=True, timeout=timeout_s)
    except PoolTimeout:
        await pool.close()
        raise await asyncio.to_thread(_unreachable, url) from None
    return pool


def apply_migrations(connection: psycopg.Connection, package: str, service: str) -> list[str]:
    """Apply the ``migrations/*.sql`` files of ``package`` not applied yet, in name order.

    Each file runs in its own transaction with its version recorded; an advisory lock makes
    concurrent starts of several replicas apply each file once. A database that is not UTF-8
    is refused first (`check_encoding`).
    """
    check_encoding(connection)
    folder = resources.files(package) / "migrations"
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    applied: list[str] = []
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " service text NOT NULL, version text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, version))"
    )
    connection.commit()
    for entry in files:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (service,))
            done = connection.execute(
                "SELECT 1 FROM schema_migrations WHERE service = %s AND version = %s",
                (service, entry.name),
            ).fetchone()
            if done:
                continue
            connection.execute(entry.read_text())
            connection.execute(
                "INSERT INTO schema_migrations (service, version) VALUES (%s, %s)",
                (service, entry.name),
            )
            applied.append(entry.name)
            log.info("applied migration %s/%s", service, entry.name)
    return applied
