"""The secret files of the Docker Compose deployment, made random and private, once.

Compose mounts a file secret into the container as it is on the host: same owner, same mode.
The services run as a user of their own (uid 10001) that cannot own the host's files, so each
file is readable by anyone (0644) and kept private by its directory instead: mode 0700, so on
the host only its owner (and root) can reach the files, while in a container, where only the
file itself is mounted, the service's user can read it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

POSTGRES_PASSWORD_FILE = "postgres_password"
"""The database superuser's: for PostgreSQL's container only."""
JWT_SECRET_FILE = "merchstore_jwt_secret"
"""Named as store-api reads it from /run/secrets (``merchstore_<setting>``)."""
DATABASE_ROLES = {"db-service": "db_service", "storage": "storage"}
"""The services that store in PostgreSQL and the role of each, which owns its schema only
(deploy/postgres/merchstore-roles.sh makes them)."""
CA_MOUNTED = "/run/secrets/ca_certificate"
"""Where a container finds the deployment's CA, against which it checks PostgreSQL."""

DIRECTORY_MODE = 0o700
"""Only the owner reaches the files on the host."""
FILE_MODE = 0o644
"""Readable by the container's own user, which does not own the host's file."""


def write_new(path: Path, text: str) -> bool:
    """Write ``text`` to a new file of mode `FILE_MODE`; False if the file already exists.

    An existing file keeps its content and gets `FILE_MODE` (files made by earlier versions
    were 0600, which a container's user cannot read).
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        path.chmod(FILE_MODE)
        return False
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
        # After the content, and whatever the umask: the directory keeps it private meanwhile.
        os.fchmod(file.fileno(), FILE_MODE)
    return True


def role_password_file(role: str) -> str:
    """The secret file of a PostgreSQL role's password (PostgreSQL's container reads it)."""
    return f"postgres_password_{role}"


def database_url_file(role: str) -> str:
    """The secret file of the URL a service reaches PostgreSQL with, as its role."""
    return f"database_url_{role}"


def database_url(role: str, password: str, database: str) -> str:
    """A role's URL: TLS, the server's certificate checked against the CA and its name."""
    return (
        f"postgresql://{role}:{password}@postgres:5432/{database}"
        f"?sslmode=verify-full&sslrootcert={CA_MOUNTED}"
    )


def write_compose_secrets(directory: Path, postgres_db: str) -> list[tuple[Path, bool]]:
    """Make each missing secret file; return every file and whether it was made now.

    The superuser's password, a password and a URL per role of `DATABASE_ROLES`, and the JWT
    signing secret.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    # Before any file is written or opened up: the directory is what keeps them private.
    directory.chmod(DIRECTORY_MODE)
    made = []
    for name in (POSTGRES_PASSWORD_FILE, *map(role_password_file, DATABASE_ROLES.values())):
        made.append((directory / name, write_new(directory / name, secrets.token_urlsafe(24))))
    for role in DATABASE_ROLES.values():
        password = (directory / role_password_file(role)).read_text().strip()
        path = directory / database_url_file(role)
        made.append((path, write_new(path, database_url(role, password, postgres_db))))
    jwt_path = directory / JWT_SECRET_FILE
    made.append((jwt_path, write_new(jwt_path, secrets.token_urlsafe(48))))
    return made
