"""The JWT signing secret's rules: published examples refused, a random one per data directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

EXAMPLE_SECRETS = frozenset(
    {
        # Published in this repository at one time or another: never a signing key.
        "local-development-secret-change-me",
        "change-me-to-a-long-random-string",
        "change-me",
        "secret",
        "changeme",
    }
)
"""Secrets anyone can read in this repository; refused as MERCHSTORE_JWT_SECRET everywhere."""

MIN_SECRET_BYTES = 32
JWT_SECRET_FILE = "secrets/jwt-secret"
"""Under the data directory: the random secret of a local system started without one."""

SECRETS_DIR = Path("/run/secrets")
"""Where container runtimes mount secret files (``merchstore_jwt_secret``, ...), if present."""
SECRETS_DIR_ENV = "MERCHSTORE_SECRETS_DIR"
"""Names another folder of secret files than `SECRETS_DIR`."""


def secrets_dir() -> Path:
    """The folder secret files are read from: `SECRETS_DIR` unless `SECRETS_DIR_ENV` names one."""
    return Path(os.environ.get(SECRETS_DIR_ENV) or SECRETS_DIR)


def refuse_weak_secret(secret: str, environment: str) -> None:
    """Raise ValueError for a published example, or outside ``local`` for a short secret."""
    if secret in EXAMPLE_SECRETS:
        raise ValueError(
            "jwt_secret is an example value published in the repository; set "
            "MERCHSTORE_JWT_SECRET to a random string "
            '(python3 -c "import secrets; print(secrets.token_urlsafe(48))")'
        )
    if environment != "local" and len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"jwt_secret is shorter than {MIN_SECRET_BYTES} bytes; set MERCHSTORE_JWT_SECRET "
            "to a long random string"
        )


def data_dir_secret(path: Path) -> str:
    """The secret kept in ``path``, made (random, mode 0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(48)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret)
    try:
        # A hard link appears whole or not at all: services starting at once agree on one.
        os.link(draft, path)
    except FileExistsError:
        secret = path.read_text().strip()
    finally:
        draft.unlink()
    return secret
