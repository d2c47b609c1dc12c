"""Mutual TLS between the gRPC services and their clients: where each process's files are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from merchstore.common.config.certificates import check_certificate_file, check_private_key_file
from merchstore.common.config.errors import ConfigError, env_name
from merchstore.common.config.sections import Section


@dataclass(frozen=True)
class TlsMaterial:
    """One process's certificate and key, and the CA its peers' certificates must come from."""

    ca_certificates: bytes
    certificate_chain: bytes
    private_key: bytes


class GrpcTlsSettings(Section):
    """TLS with client certificates on every gRPC connection (db-service, logging-service)."""

    enabled: bool = Field(
        False,
        description=(
            "Off: plain gRPC (the loopback interface of `merchstore up`). On: a gRPC server takes "
            "only clients with a certificate of ca_location's CA, and a client trusts only such "
            "servers; each process shows its own certificate_location."
        ),
    )
    ca_location: Path | None = Field(None, description="The deployment's CA certificate (PEM).")
    certificate_location: Path | None = Field(
        None, description="This process's certificate (PEM), signed by that CA."
    )
    key_location: Path | None = Field(
        None, description="This process's private key (PEM, unencrypted, kept private)."
    )

    def material(self) -> TlsMaterial | None:
        """The files' contents when TLS is on, each checked first; None when it is off.

        Raises `ConfigError` with one line naming the setting that is unset, or whose file is
        missing, unreadable, not what it should be, or out of its validity.
        """
        if not self.enabled:
            return None
        paths = {}
        for key in ("ca_location", "certificate_location", "key_location"):
            path = getattr(self, key)
            if path is None:
                raise ConfigError(
                    f"grpc_tls.{key} is not set: gRPC with TLS needs it "
                    f"({env_name(('grpc_tls', key))})"
                )
            paths[key] = path
        check_certificate_file(paths["ca_location"], ("grpc_tls", "ca_location"))
        check_certificate_file(paths["certificate_location"], ("grpc_tls", "certificate_location"))
        check_private_key_file(paths["key_location"], ("grpc_tls", "key_location"))
        return TlsMaterial(
            paths["ca_location"].read_bytes(),
            paths["certificate_location"].read_bytes(),
            paths["key_location"].read_bytes(),
        )
