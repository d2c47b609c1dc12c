"""The secret files of the Docker Compose deployment, made random and private, once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

POSTGRES_PASSWORD_FILE = "postgres_password"
JWT_SECRET_FILE = "merchstore_jwt_secret"
DATABASE_URL_FILE = "merchstore_database_url"
"""Named as the services read them from /run/secrets (``merchstore_<setting>``)."""


def _write_private(path: Path, text: str) -> bool:
    """Write ``text`` to a new file of mode 0600; False if the file already exists."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    return True


def write_compose_secrets(
    directory: Path, postgres_user: str, postgres_db: str
) -> list[tuple[Path, bool]]:
    """Make each missing secret file; return every file and whether it was made now."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    password_path = directory / POSTGRES_PASSWORD_FILE
    made_password = _write_private(password_path, secrets.token_urlsafe(24))
    password = password_path.read_text().strip()
    url = f"postgresql://{postgres_user}:{password}@postgres:5432/{postgres_db}"
    jwt_path, url_path = directory / JWT_SECRET_FILE, directory / DATABASE_URL_FILE
    return [
        (password_path, made_password),
        (jwt_path, _write_private(jwt_path, secrets.token_urlsafe(48))),
        (url_path, _write_private(url_path, url)),
    ]
