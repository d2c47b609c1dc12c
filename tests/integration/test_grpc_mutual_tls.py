"""Mutual TLS on gRPC: only a certificate of the deployment's CA gets a call through.

db-service and logging-service require a client certificate; store-api and db-service show
theirs. A caller without one, or with one of another CA, is refused before any call is read
(UNAVAILABLE) and changes nothing; a certificate of the CA for a party not allowed to call the
service (the dashboard's) is refused by its name (PERMISSION_DENIED) and changes nothing; with
the right one, the store works end to end and its log lines reach ``log-channel``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest

from merchstore.common.config.grpc_tls import TlsMaterial
from merchstore.common.grpc_channels import open_channel
from merchstore.common.health_probe import check_health
from merchstore.protos import logging_pb2, logging_pb2_grpc, store_pb2, store_pb2_grpc
from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.grpc_tls import DeploymentCertificates
from tests.support.kafka import read_topic
from tests.support.processes import ServiceProcess, wait_until
from tests.support.store import Store

PARTIES = ("store-api", "db-service", "logging-service", "dashboard", "go-client", "intruder")


@pytest.fixture
def certificates(tmp_path: Path) -> DeploymentCertificates:
    """The deployment's CA and a certificate for each party."""
    return DeploymentCertificates.create(tmp_path / "ca", PARTIES)


@pytest.fixture
def foreign(tmp_path: Path) -> DeploymentCertificates:
    """Another CA, with a certificate under a name the deployment knows."""
    return DeploymentCertificates.create(tmp_path / "other-ca", ["store-api"], "another CA")


def start(
    services: ServiceLauncher, name: str, certificates: DeploymentCertificates
) -> ServiceProcess:
    return services.start(name, **certificates.environment(name))


def wrong_ways(
    certificates: DeploymentCertificates, foreign: DeploymentCertificates
) -> Iterator[tuple[str, grpc.ChannelCredentials | None]]:
    """Every way to call without a certificate of the deployment's CA."""
    ca = certificates.ca_certificate.read_bytes()
    yield "plain", None
    yield "TLS, no client certificate", grpc.ssl_channel_credentials(root_certificates=ca)
    other = foreign.material("store-api")
    yield (
        "a certificate of another CA",
        grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=other.private_key,
            certificate_chain=other.certificate_chain,
        ),
    )


def channel_for(port: int, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    target = f"127.0.0.1:{port}"
    if credentials is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, credentials)


def users_named(database_url: str, username: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM users WHERE username = %s", (username,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_db_service_refuses_callers_without_the_deployments_certificate(
    services: ServiceLauncher,
    certificates: DeploymentCertificates,
    foreign: DeploymentCertificates,
    database_url: str,
) -> None:
    db_service = start(services, "db-service", certificates)
    request = store_pb2.CreateUserRequest(
        sid="S1", username="mallory", email="mallory@example.com", password="p" * 12
    )
    for way, credentials in wrong_ways(certificates, foreign):
        with (
            channel_for(db_service.port, credentials) as channel,
            pytest.raises(grpc.RpcError) as refused,
        ):
            store_pb2_grpc.StoreDataStub(channel).CreateUser(request, timeout=10)
        assert refused.value.code() in {
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.UNAUTHENTICATED,
        }, way
    assert users_named(database_url, "mallory") == 0

    # A certificate of the deployment's CA for another party is turned away by its name; it
    # may still ask for health, as the dashboard does.
    for party in ("dashboard", "intruder"):
        tls = certificates.material(party)
        with (
            open_channel(f"127.0.0.1:{db_service.port}", tls) as channel,
            pytest.raises(grpc.RpcError) as denied,
        ):
            store_pb2_grpc.StoreDataStub(channel).CreateUser(request, timeout=30)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED, party
        assert f"CN={party}" in (denied.value.details() or "")
        assert check_health("grpc", "127.0.0.1", db_service.port, tls=tls).ready, party
    assert users_named(database_url, "mallory") == 0

    # store-api's certificate gets through.
    with open_channel(
        f"127.0.0.1:{db_service.port}", certificates.material("store-api")
    ) as channel:
        store_pb2_grpc.StoreDataStub(channel).CreateUser(request, timeout=30)
    assert users_named(database_url, "mallory") == 1


def test_logging_service_refuses_streams_without_the_deployments_certificate(
    services: ServiceLauncher,
    certificates: DeploymentCertificates,
    foreign: DeploymentCertificates,
    settings: Settings,
) -> None:
    logging_service = start(services, "logging-service", certificates)

    def lines(tag: str) -> Iterator[logging_pb2.LogMessage]:
        for index in range(5):
            yield logging_pb2.LogMessage(
                level=logging_pb2.INFO, service_name="intruder", message=f"{tag} {index}"
            )

    for way, credentials in wrong_ways(certificates, foreign):
        with (
            channel_for(logging_service.port, credentials) as channel,
            pytest.raises(grpc.RpcError) as refused,
        ):
            logging_pb2_grpc.LogCollectorStub(channel).StreamLogs(lines("forged"), timeout=10)
        assert refused.value.code() in {
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.UNAUTHENTICATED,
        }, way

    # The dashboard's certificate may not ship log lines: none of them reaches log-channel.
    dashboard = certificates.material("dashboard")
    with (
        open_channel(f"127.0.0.1:{logging_service.port}", dashboard) as channel,
        pytest.raises(grpc.RpcError) as denied,
    ):
        logging_pb2_grpc.LogCollectorStub(channel).StreamLogs(lines("forged"), timeout=30)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    shipper: TlsMaterial = certificates.material("db-service")
    with open_channel(f"127.0.0.1:{logging_service.port}", shipper) as channel:
        summary = logging_pb2_grpc.LogCollectorStub(channel).StreamLogs(lines("real"), timeout=30)
    assert summary.published == 5
    messages = read_topic(settings.bootstrap_servers, settings.topics.log_channel, 5, 30)
    texts = [json.loads(m.value() or b"")["message"] for m in messages]
    assert texts == [f"real {index}" for index in range(5)]


def test_the_store_works_over_mutual_tls(
    services: ServiceLauncher,
    certificates: DeploymentCertificates,
    settings: Settings,
    database_url: str,
) -> None:
    for name in ("logging-service", "db-service", "store-api"):
        start(services, name, certificates)
    store = Store(services.started["store-api"].url)
    shopper = store.register("tls")  # registers and logs in: two calls to db-service
    assert store.http.get("/products").status_code == 200
    assert users_named(database_url, shopper.username) == 1

    # store-api's and db-service's lines went to logging-service over TLS too.
    def shipped() -> set[str]:
        messages = read_topic(settings.bootstrap_servers, settings.topics.log_channel, 10**6, 3)
        return {json.loads(m.value() or b"")["service_name"] for m in messages}

    wait_until(lambda: {"store-api", "db-service"} <= shipped(), 60, "both services' lines")


def test_a_service_with_a_missing_certificate_stops_with_one_line(
    services: ServiceLauncher, certificates: DeploymentCertificates, tmp_path: Path
) -> None:
    missing = tmp_path / "gone.crt"
    env = {**certificates.environment("db-service")}
    env["MERCHSTORE_GRPC_TLS__CERTIFICATE_LOCATION"] = str(missing)
    process = services.process("db-service", **env)
    process.start(wait=False)
    assert process.process is not None
    assert process.process.wait(60) == 2
    last = process.log_file.read_text().strip().splitlines()[-1]
    assert last == (
        "db-service: grpc_tls.certificate_location "
        f"(MERCHSTORE_GRPC_TLS__CERTIFICATE_LOCATION): {missing} does not exist"
    )
