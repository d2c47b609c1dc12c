"""``merchstore up`` with mutual TLS on gRPC, given the settings a user of their own CA sets.

One certificate serves every process of the machine, so its common name is the one party
``allowed_clients`` lets in. ``up`` asks its gRPC services for their health with it, the store
works through store-api, and db-service turns a plain caller away.
"""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from merchstore.protos import store_pb2, store_pb2_grpc
from tests.support.grpc_tls import DeploymentCertificates
from tests.support.store import Store
from tests.support.up import UpProcess, free_up_ports, stop_up, up_environment

pytestmark = pytest.mark.timeout(600)

PARTY = "merchstore-local"


def test_up_runs_the_system_over_mutual_tls(tmp_path: Path) -> None:
    ports = free_up_ports()
    certificates = DeploymentCertificates.create(tmp_path / "ca", [PARTY])
    allowed = json.dumps([PARTY])
    env = {
        **up_environment(ports),
        **certificates.environment(PARTY),
        "MERCHSTORE_DB_SERVICE__ALLOWED_CLIENTS": allowed,
        "MERCHSTORE_LOGGING_SERVICE__ALLOWED_CLIENTS": allowed,
    }
    up = UpProcess(tmp_path / "data", env)
    try:
        # Ready means every gRPC service answered up's health check, asked over mutual TLS.
        up.wait_for("merchstore is up", 400)
        store = Store(f"http://127.0.0.1:{ports['store_api']}")
        shopper = store.register("mutual")
        placed = store.http.post(
            "/orders", json={"product_id": 1, "quantity": 1}, headers=shopper.auth
        )
        assert placed.status_code == 201, placed.text

        with (
            grpc.insecure_channel(f"127.0.0.1:{ports['db_service']}") as channel,
            pytest.raises(grpc.RpcError) as refused,
        ):
            store_pb2_grpc.StoreDataStub(channel).ListProducts(
                store_pb2.ListProductsRequest(), timeout=10
            )
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        stop_up(up.process, tmp_path / "data")
