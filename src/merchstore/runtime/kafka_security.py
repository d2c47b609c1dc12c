"""A secured Apache Kafka node: SASL_SSL for clients, TLS for its quorum, ACLs for everyone.

Clients log in with SCRAM-SHA-512 over TLS; the controller listener takes only TLS with a
certificate of the deployment's CA (KRaft cannot check SCRAM there: the credentials live in the
metadata the quorum serves). The standard authorizer refuses whatever no ACL allows, so only the
node itself (by its certificate) and the cluster's super user may do anything unasked.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from merchstore.common.config.kafka import KafkaSettings
from merchstore.runtime.certificate_authority import CertificateAuthority

SUPER_USER = "kafka"
"""The cluster's own SCRAM user: the brokers among themselves, and whoever sets users and ACLs."""
NODE_COMMON_NAME = "kafka-node"
"""The common name of the node's certificate: its principal on the controller listener."""


@dataclass(frozen=True)
class NodeSecurity:
    """The files and the super user's password a secured node runs with."""

    ca_certificate: Path
    node_certificate: Path
    node_key: Path
    super_password: str

    @classmethod
    def create(
        cls, directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    ) -> NodeSecurity:
        """A new CA in ``directory``, a certificate for the node's ``hosts``, a random password."""
        authority = CertificateAuthority(directory).create("merchstore Kafka CA")
        node = authority.issue(NODE_COMMON_NAME, hosts)
        return cls(
            authority.certificate_path, node.certificate, node.key, secrets.token_urlsafe(24)
        )

    def server_properties(self, host: str, port: int, controller_port: int) -> dict[str, Any]:
        """The node's listeners, TLS files, SASL mechanism and authorizer."""
        login = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{SUPER_USER}" password="{self.super_password}";'
        )
        return {
            "listeners": f"SASL_SSL://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"SASL_SSL://{host}:{port}",
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "CONTROLLER:SSL,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": login,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": self._node_pem(),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": self.ca_certificate,
            "listener.name.controller.ssl.client.auth": "required",
            # A certificate's principal is its common name, not the whole distinguished name.
            "ssl.principal.mapping.rules": "RULE:^.*CN=([^,]+).*$/$1/,DEFAULT",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{SUPER_USER};User:{NODE_COMMON_NAME}",
        }

    def _node_pem(self) -> Path:
        """The node's key and certificate in one file, as a PEM keystore takes them."""
        keystore = self.node_key.with_suffix(".keystore.pem")
        if not keystore.exists():
            keystore.write_bytes(self.node_key.read_bytes() + self.node_certificate.read_bytes())
            keystore.chmod(0o600)
        return keystore

    def format_arguments(self) -> list[str]:
        """What formatting the log directory adds: the super user's credentials (KIP-900)."""
        return ["--add-scram", f"SCRAM-SHA-512=[name={SUPER_USER},password={self.super_password}]"]

    def super_user_config(self) -> dict[str, str]:
        """The client settings (librdkafka) of the super user."""
        login = KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_username=SUPER_USER,
            sasl_password=SecretStr(self.super_password),
            ssl_ca_location=self.ca_certificate,
        )
        return login.client_security()
