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
JWT_SECRET_FILE = "merchstore_jwt_secret"
DATABASE_URL_FILE = "merchstore_database_url"
"""Named as the services read them from /run/secrets (``merchstore_<setting>``)."""

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


def write_compose_secrets(
    directory: Path, postgres_user: str, postgres_db: str
) -> list[tuple[Path, bool]]:
    """Make each missing secret file; return every file and whether it was made now."""
    directory.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    # Before any file is written or opened up: the directory is what keeps them private.
    directory.chmod(DIRECTORY_MODE)
    password_path = directory / POSTGRES_PASSWORD_FILE
    made_password = write_new(password_path, secrets.token_urlsafe(24))
    password = password_path.read_text().strip()
    url = f"postgresql://{postgres_user}:{password}@postgres:5432/{postgres_db}"
    jwt_path, url_path = directory / JWT_SECRET_FILE, directory / DATABASE_URL_FILE
    return [
        (password_path, made_password),
        (jwt_path, write_new(jwt_path, secrets.token_urlsafe(48))),
        (url_path, write_new(url_path, url)),
    ]
