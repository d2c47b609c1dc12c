"""Certificates of a deployment's own CA for tests of mutual TLS between services."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from merchstore.common.config.grpc_tls import GrpcTlsSettings, TlsMaterial
from merchstore.runtime.certificate_authority import CertificateAuthority, IssuedFiles

TEST_HOSTS = ("127.0.0.1", "localhost")
"""Where the tests' services listen: the names their certificates must carry."""


@dataclass(frozen=True)
class DeploymentCertificates:
    """A CA, and a certificate and key it signed for each party."""

    ca_certificate: Path
    issued: dict[str, IssuedFiles]

    @classmethod
    def create(
        cls, directory: Path, parties: Iterable[str], ca_name: str = "test CA"
    ) -> DeploymentCertificates:
        """A new CA in ``directory`` and a certificate for each of ``parties``."""
        authority = CertificateAuthority(directory).create(ca_name)
        issued = {party: authority.issue(party, TEST_HOSTS) for party in parties}
        return cls(authority.certificate_path, issued)

    def environment(self, party: str) -> dict[str, str]:
        """What a merchstore process needs to speak mutual TLS as ``party``."""
        files = self.issued[party]
        return {
            "MERCHSTORE_GRPC_TLS__ENABLED": "true",
            "MERCHSTORE_GRPC_TLS__CA_LOCATION": str(self.ca_certificate),
            "MERCHSTORE_GRPC_TLS__CERTIFICATE_LOCATION": str(files.certificate),
            "MERCHSTORE_GRPC_TLS__KEY_LOCATION": str(files.key),
        }

    def material(self, party: str) -> TlsMaterial:
        """The files' contents, as a client of ``party`` uses them."""
        material = tls_of_environment(self.environment(party))
        assert material is not None
        return material


def tls_of_environment(env: dict[str, str]) -> TlsMaterial | None:
    """The mutual TLS a process with environment ``env`` speaks (None: plain gRPC)."""
    if env.get("MERCHSTORE_GRPC_TLS__ENABLED", "").lower() not in ("true", "1", "yes"):
        return None
    settings = GrpcTlsSettings(
        enabled=True,
        ca_location=Path(env["MERCHSTORE_GRPC_TLS__CA_LOCATION"]),
        certificate_location=Path(env["MERCHSTORE_GRPC_TLS__CERTIFICATE_LOCATION"]),
        key_location=Path(env["MERCHSTORE_GRPC_TLS__KEY_LOCATION"]),
    )
    return settings.material()
