"""A deployment's own certificate authority: one CA, and a key and certificate per party.

The Compose deployment's secrets and the suite's secured Apache Kafka are made with it. Every
key is an unencrypted PKCS#8 PEM file, which Kafka (``ssl.keystore.type=PEM``), librdkafka and
gRPC all read; a certificate names its party as its common name (the principal Kafka and the
gRPC servers see) and the host names and addresses it may serve as.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERTIFICATE_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
VALIDITY = datetime.timedelta(days=825)
"""How long a certificate made here is valid (the longest browsers ever accepted)."""


@dataclass(frozen=True)
class IssuedFiles:
    """Where one party's certificate and key are."""

    certificate: Path
    key: Path


def _write_private(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "merchstore"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _subject_alternative_names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


class CertificateAuthority:
    """A CA kept as two PEM files in a folder, which signs the certificates of its parties."""

    def __init__(self, directory: Path, key_mode: int = 0o600) -> None:
        self.directory = directory
        self.certificate_path = directory / CA_CERTIFICATE_FILE
        self._key_path = directory / CA_KEY_FILE
        self._key_mode = key_mode

    def exists(self) -> bool:
        """Whether the CA's certificate and key are both there."""
        return self.certificate_path.is_file() and self._key_path.is_file()

    def create(self, name: str = "merchstore CA") -> CertificateAuthority:
        """Make the CA's key and self-signed certificate, replacing any there were."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        _write_private(self._key_path, _key_pem(key), self._key_mode)
        _write_private(
            self.certificate_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644
        )
        return self

    def issue(
        self,
        common_name: str,
        hosts: tuple[str, ...] = (),
        *,
        directory: Path | None = None,
        key_mode: int = 0o600,
        valid_for: datetime.timedelta = VALIDITY,
        now: datetime.datetime | None = None,
    ) -> IssuedFiles:
        """A new key and a certificate for ``common_name``, good as a server and as a client.

        ``hosts`` (names and IP addresses) are the certificate's subject alternative names, the
        ones a client checks a server against. The files are ``<common_name>.crt`` and
        ``.key`` in ``directory`` (the CA's by default).
        """
        ca_key = serialization.load_pem_private_key(self._key_path.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        ca_certificate = x509.load_pem_x509_certificate(self.certificate_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        start = now or datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca_certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - datetime.timedelta(minutes=5))
            .not_valid_after(start + valid_for)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_subject_alternative_names(hosts)), critical=False
            )
        certificate = builder.sign(ca_key, hashes.SHA256())
        folder = directory or self.directory
        files = IssuedFiles(folder / f"{common_name}.crt", folder / f"{common_name}.key")
        _write_private(files.key, _key_pem(key), key_mode)
        _write_private(
            files.certificate, certificate.public_bytes(serialization.Encoding.PEM), 0o644
        )
        return files
