"""Another language: the Go client (clients/go) calls db-service and logging-service.

Its gRPC code is generated from the same protos/ with protoc-gen-go and protoc-gen-go-grpc, as
the Python side's is with grpcio-tools; what it did is checked here from the Python side, in
PostgreSQL and on log-channel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.grpc_tls import DeploymentCertificates
from tests.support.kafka import read_topic
from tests.support.paths import REPOSITORY
from tests.support.processes import wait_until

CLIENT = REPOSITORY / "clients" / "go"
PROTOS = REPOSITORY / "protos"
LINES = 120
TRACE_ID = "9c5b2f3577b34da6a3ce929d0e0e4736"
"""The run's W3C trace id: its own lines carry it, and db-service's spans continue it."""
PRODUCTS = ["SUSTech Hoodie", "SUSTech Water Bottle", "SUSTech Notebook"]


def build_client(work: Path) -> Path:
    """The client built in a copy of clients/go (generated code and binary stay out of the tree)."""
    assert shutil.which("go"), (
        "the Go client's test needs Go 1.26 or newer: install it from https://go.dev/dl/"
    )
    shutil.copytree(CLIENT, work, ignore=shutil.ignore_patterns("bin", "gen"))
    built = subprocess.run(
        [str(work / "build"), sys.executable, str(PROTOS)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    # Go's own lint, as ruff and mypy are the Python side's.
    unformatted = subprocess.run(
        ["gofmt", "-l", "main.go"], cwd=work, capture_output=True, text=True, check=True
    )
    assert unformatted.stdout == "", f"not gofmt-formatted: {unformatted.stdout}"
    vetted = subprocess.run(["go", "vet", "."], cwd=work, capture_output=True, text=True)
    assert vetted.returncode == 0, vetted.stderr
    return work / "bin" / "merchstore-go-client"


def log_channel(settings: Settings) -> list[dict[str, Any]]:
    messages = read_topic(settings.bootstrap_servers, settings.topics.log_channel, 10**6, 3)
    return [json.loads(m.value() or b"") for m in messages]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client, built once for the module's tests."""
    return build_client(tmp_path_factory.mktemp("go") / "go-client")


def test_go_client_places_an_order_and_streams_its_lines(
    client: Path, services: ServiceLauncher, settings: Settings, database_url: str
) -> None:
    logging_service = services.start("logging-service")
    db_service = services.start("db-service")
    ran = subprocess.run(
        [
            str(client),
            f"-store=127.0.0.1:{db_service.port}",
            f"-logging=127.0.0.1:{logging_service.port}",
            "-username=gopher",
            f"-trace-id={TRACE_ID}",
            f"-lines={LINES}",
            "-batch=50",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)

    assert report["products"] == PRODUCTS
    assert report["order"]["status"] == "placed" and report["order"]["total_price"] == "49.99"
    assert report["bad_quantity"] == {
        "code": "InvalidArgument",
        "detail": "quantity must be between 1 and 3",
    }
    assert report["stream"] == {
        "sent": LINES,
        "received": LINES,
        "accepted": LINES,
        "published": LINES,
        "spilled": 0,
        "rejected": 0,
        "dropped": 0,
    }

    # The order is in PostgreSQL, for the user the client registered, and only that one.
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT o.id, o.user_id, o.quantity, o.total_price::text, o.status FROM orders o"
            " JOIN users u ON u.id = o.user_id WHERE u.username = 'gopher'"
        ).fetchall()
        stock = connection.execute("SELECT stock FROM products WHERE id = 1").fetchone()
    assert rows == [(report["order"]["id"], report["user_id"], 1, "49.99", "placed")]
    assert stock == (499,)

    # The Go client's lines are on log-channel in order, under its name and trace id; and
    # db-service logged each of its RPCs under the same trace id.
    def traced() -> list[dict[str, Any]]:
        return [b for b in log_channel(settings) if b["trace_id"] == TRACE_ID]

    wait_until(
        lambda: {b["service_name"] for b in traced()} == {"go-client", "db-service"},
        60,
        "the Go client's and db-service's lines under the client's trace id",
    )
    lines = traced()
    own = [b for b in lines if b["service_name"] == "go-client"]
    assert [b["message"] for b in own] == [f"go line {i}" for i in range(LINES)]
    assert {b["level"] for b in own} == {"INFO"}
    wait_until(
        lambda: len([b for b in traced() if b["service_name"] == "db-service"]) >= 4,
        60,
        "db-service's line for each of the Go client's four RPCs",
    )
    rpcs = [b["message"].split()[:2] for b in traced() if b["service_name"] == "db-service"]
    assert {b["request_id"] for b in traced()} == {f"go-{TRACE_ID[:8]}"}
    assert rpcs == [
        ["/merchstore.store.v1.StoreData/ListProducts", "OK"],
        ["/merchstore.store.v1.StoreData/CreateUser", "OK"],
        ["/merchstore.store.v1.StoreData/PlaceOrder", "OK"],
        ["/merchstore.store.v1.StoreData/PlaceOrder", "INVALID_ARGUMENT"],
    ]


def test_go_client_speaks_mutual_tls_with_the_deployments_certificate(
    client: Path, services: ServiceLauncher, settings: Settings, tmp_path: Path
) -> None:
    certificates = DeploymentCertificates.create(
        tmp_path / "ca", ["db-service", "logging-service", "go-client"]
    )
    # The Go client is a party of its own, allowed in beside the deployment's.
    logging_service = services.start(
        "logging-service",
        **certificates.environment("logging-service"),
        MERCHSTORE_LOGGING_SERVICE__ALLOWED_CLIENTS='["store-api", "db-service", "go-client"]',
    )
    db_service = services.start(
        "db-service",
        **certificates.environment("db-service"),
        MERCHSTORE_DB_SERVICE__ALLOWED_CLIENTS='["store-api", "go-client"]',
    )
    addresses = [
        f"-store=127.0.0.1:{db_service.port}",
        f"-logging=127.0.0.1:{logging_service.port}",
        "-lines=10",
        "-batch=5",
        "-timeout=20s",
    ]
    plain = subprocess.run(
        [str(client), *addresses, "-username=plain_gopher"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plain.returncode == 1
    assert "Unavailable" in plain.stderr or "unavailable" in plain.stderr, plain.stderr

    own = certificates.issued["go-client"]
    secured = subprocess.run(
        [
            str(client),
            *addresses,
            "-username=tls_gopher",
            f"-ca={certificates.ca_certificate}",
            f"-cert={own.certificate}",
            f"-key={own.key}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert secured.returncode == 0, secured.stderr
    report = json.loads(secured.stdout)
    assert report["order"]["status"] == "placed"
    assert report["stream"]["published"] == 10
