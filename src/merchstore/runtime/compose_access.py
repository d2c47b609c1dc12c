"""The Compose deployment's certificates and Kafka credentials, made beside its other secrets.

One CA signs a certificate for each gRPC party (store-api, db-service, logging-service and the
dashboard, which probes the other two), for PostgreSQL, for the Kafka broker, and for
``kafka-init``, the one-shot job that sets users, ACLs and topics up. Each Kafka user
(`SERVICE_ACCESS`) gets a random password in a file of its own, which Compose mounts into that
service's container only.
The administrator's credentials are a settings file for the host's ``merchstore`` commands.

As the other secret files, each is readable by the containers' own user in a private folder;
the CA's key alone is the owner's only, for no container needs it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import yaml

from merchstore.runtime.certificate_authority import CA_KEY_FILE, CertificateAuthority
from merchstore.runtime.deploy_secrets import FILE_MODE, write_new
from merchstore.runtime.kafka_access import ADMINISTRATOR, SERVICE_ACCESS

GRPC_PARTIES = ("store-api", "db-service", "logging-service", "dashboard")
"""Who speaks gRPC in the deployment: each shows a certificate of the deployment's CA."""
KAFKA_NODE = "kafka"
"""The broker's certificate: its TLS listeners, and its own principal among the super users."""
KAFKA_SETUP = "kafka-init"
"""The job that makes users, ACLs and topics: a super user by its certificate."""
POSTGRES = "postgres"
"""PostgreSQL's server certificate, which the services check (``sslmode=verify-full``)."""
PUBLISHED_KAFKA = "localhost:9094"
"""Where the host reaches Kafka's published listener."""
ADMINISTRATOR_SETTINGS = "kafka-administrator.yaml"
"""For ``MERCHSTORE_CONFIG_FILE``: the host's tails log in to the published port with it."""


def password_file(user: str) -> str:
    """The secret file of a Kafka user's password."""
    return f"kafka_password_{user.replace('-', '_')}"


def _hosts(party: str) -> tuple[str, ...]:
    # Its name on the Compose network, and the loopback its own health probe dials.
    return (party, "localhost", "127.0.0.1")


def write_compose_access(directory: Path) -> list[tuple[Path, bool]]:
    """Make the CA, certificates and Kafka passwords that are missing; each and if made now.

    A new CA (none was there) signs every certificate anew, so none is left from another CA.
    """
    authority = CertificateAuthority(directory)
    made_ca = not authority.exists()
    if made_ca:
        authority.create("merchstore deployment CA")
    done: list[tuple[Path, bool]] = [
        (authority.certificate_path, made_ca),
        (directory / CA_KEY_FILE, made_ca),
    ]
    issued = {}
    for party in (*GRPC_PARTIES, KAFKA_NODE, KAFKA_SETUP, POSTGRES):
        certificate = directory / f"{party}.crt"
        issued[party] = made_ca or not certificate.exists()
        if issued[party]:
            authority.issue(party, _hosts(party), key_mode=FILE_MODE)
        done += [(certificate, issued[party]), (directory / f"{party}.key", issued[party])]
    keystore = directory / f"{KAFKA_NODE}.keystore.pem"
    made_keystore = issued[KAFKA_NODE] or not keystore.exists()
    if made_keystore:
        # Kafka's PEM key store: the key and its certificate in one file.
        key, certificate = directory / f"{KAFKA_NODE}.key", directory / f"{KAFKA_NODE}.crt"
        keystore.write_bytes(key.read_bytes() + certificate.read_bytes())
    keystore.chmod(FILE_MODE)
    done.append((keystore, made_keystore))
    for user in SERVICE_ACCESS:
        path = directory / password_file(user)
        done.append((path, write_new(path, secrets.token_urlsafe(24))))
    settings_path = directory / ADMINISTRATOR_SETTINGS
    settings = {
        "kafka_bootstrap_servers": PUBLISHED_KAFKA,
        "kafka": {
            "security_protocol": "SASL_SSL",
            "sasl_username": ADMINISTRATOR,
            "sasl_password": (directory / password_file(ADMINISTRATOR)).read_text().strip(),
            "ssl_ca_location": str(authority.certificate_path.resolve()),
        },
    }
    text = "# The administrator's login to the published Kafka port, for this host only.\n"
    text += yaml.safe_dump(settings, sort_keys=False)
    made_settings = not settings_path.exists() or settings_path.read_text() != text
    settings_path.write_text(text)
    settings_path.chmod(0o600)  # the host's own: never mounted into a container
    done.append((settings_path, made_settings))
    return done
