"""The Kafka security settings: what a client is given, and one line for each bad file."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from merchstore.common.config.certificates import check_certificate_file, check_private_key_file
from merchstore.common.config.errors import ConfigError
from merchstore.runtime.certificate_authority import CertificateAuthority
from merchstore.settings import load_settings

LOCATION = ("kafka", "ssl_ca_location")


def secured(**kafka: object) -> dict[str, str]:
    section = {
        "security_protocol": "SASL_SSL",
        "sasl_username": "storage",
        "sasl_password": "its-password",
        **kafka,
    }
    return load_settings(kafka=section).kafka.client_security()


def one_line(error: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_plaintext_is_the_default() -> None:
    assert load_settings().kafka.client_security() == {"security.protocol": "PLAINTEXT"}


def test_sasl_ssl_logs_in_with_scram_and_the_ca(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path).create()
    config = secured(ssl_ca_location=str(authority.certificate_path))
    assert config == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "storage",
        "sasl.password": "its-password",
        "ssl.ca.location": str(authority.certificate_path),
    }


def test_without_a_ca_the_systems_trusted_cas_are_used() -> None:
    assert "ssl.ca.location" not in secured()


@pytest.mark.parametrize("missing", ["sasl_username", "sasl_password"])
def test_sasl_ssl_without_a_login_is_one_line_naming_it(missing: str) -> None:
    with pytest.raises(ConfigError) as error:
        secured(**{missing: None})
    line = one_line(error)
    assert f"kafka.{missing} is not set" in line
    assert f"MERCHSTORE_KAFKA__{missing.upper()}" in line


def test_a_missing_ca_file_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        secured(ssl_ca_location=str(tmp_path / "nowhere.pem"))
    line = one_line(error)
    assert "kafka.ssl_ca_location (MERCHSTORE_KAFKA__SSL_CA_LOCATION)" in line
    assert "nowhere.pem does not exist" in line


def test_a_folder_instead_of_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        check_certificate_file(tmp_path, LOCATION)
    assert "is a directory" in one_line(error)


def test_a_file_without_a_certificate_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "ca.pem"
    text.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as error:
        check_certificate_file(text, LOCATION)
    assert "holds no PEM certificate" in one_line(error)


def test_an_expired_certificate_is_refused_with_its_date(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path).create()
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    issued = authority.issue("old", now=long_ago, valid_for=datetime.timedelta(days=30))
    with pytest.raises(ConfigError) as error:
        check_certificate_file(issued.certificate, LOCATION)
    line = one_line(error)
    assert "CN=old" in line and "expired on 2020-01-31" in line


def test_a_certificate_not_yet_valid_is_refused(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path).create()
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
    issued = authority.issue("early", now=later)
    with pytest.raises(ConfigError) as error:
        check_certificate_file(issued.certificate, LOCATION)
    assert "is not valid before" in one_line(error)


def test_a_certificate_and_its_key_pass(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path).create()
    issued = authority.issue("storage", ("storage", "127.0.0.1"))
    [certificate] = check_certificate_file(issued.certificate, LOCATION)
    assert certificate.subject.rfc4514_string() == "CN=storage,O=merchstore"
    check_private_key_file(issued.key, ("grpc", "key"))
    assert issued.key.stat().st_mode & 0o777 == 0o600


def test_a_certificate_is_no_key(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path).create()
    issued = authority.issue("storage")
    with pytest.raises(ConfigError) as error:
        check_private_key_file(issued.certificate, ("grpc", "key"))
    assert "holds no unencrypted PEM private key" in one_line(error)


def test_ssl_logs_in_by_a_client_certificate(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path).create()
    issued = authority.issue("kafka-init")
    section = {
        "security_protocol": "SSL",
        "ssl_ca_location": str(authority.certificate_path),
        "ssl_certificate_location": str(issued.certificate),
        "ssl_key_location": str(issued.key),
    }
    assert load_settings(kafka=section).kafka.client_security() == {
        "security.protocol": "SSL",
        "ssl.certificate.location": str(issued.certificate),
        "ssl.key.location": str(issued.key),
        "ssl.ca.location": str(authority.certificate_path),
    }


def test_ssl_without_its_key_is_one_line_naming_it(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path).create()
    issued = authority.issue("kafka-init")
    section = {"security_protocol": "SSL", "ssl_certificate_location": str(issued.certificate)}
    with pytest.raises(ConfigError) as error:
        load_settings(kafka=section).kafka.client_security()
    assert "kafka.ssl_key_location is not set" in one_line(error)
