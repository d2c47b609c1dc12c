"""Certificate and key files named by settings, checked before a client or server uses them.

A broken file otherwise surfaces late and far from its cause (librdkafka retries a handshake it
cannot make, gRPC reports a bare UNAVAILABLE); here it stops the process with one line that
names the setting, the file and what is wrong with it.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from merchstore.common.config.errors import ConfigError, env_name


def _describe(location: tuple[str, ...]) -> str:
    return f"{'.'.join(location)} ({env_name(location)})"


def _read(path: Path, location: tuple[str, ...]) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{_describe(location)}: {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{_describe(location)}: {path} is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(
            f"{_describe(location)}: {path} cannot be read by this process (uid {os.getuid()})"
        ) from None


def check_certificate_file(
    path: Path, location: tuple[str, ...], now: datetime.datetime | None = None
) -> list[x509.Certificate]:
    """The PEM certificates in ``path``; `ConfigError` unless each is valid ``now``.

    ``location`` is the setting that names the file (``("kafka", "ssl_ca_location")``).
    """
    data = _read(path, location)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(
            f"{_describe(location)}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ) from None
    moment = now or datetime.datetime.now(datetime.UTC)
    for certificate in certificates:
        subject = certificate.subject.rfc4514_string() or "(no subject)"
        if certificate.not_valid_after_utc < moment:
            raise ConfigError(
                f"{_describe(location)}: the certificate {subject} in {path} expired on "
                f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
            )
        if certificate.not_valid_before_utc > moment:
            raise ConfigError(
                f"{_describe(location)}: the certificate {subject} in {path} is not valid "
                f"before {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
            )
    return certificates


def check_private_key_file(path: Path, location: tuple[str, ...]) -> None:
    """`ConfigError` unless ``path`` holds an unencrypted PEM private key."""
    data = _read(path, location)
    try:
        load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{_describe(location)}: {path} holds no unencrypted PEM private key"
        ) from None
