"""The committed OpenAPI documents equal what the running services serve."""

from __future__ import annotations

import httpx
import yaml

from tests.conftest import ServiceLauncher
from tests.support.paths import REPOSITORY

DOCS = REPOSITORY / "docs" / "openapi"


def test_committed_documents_equal_the_served_ones(services: ServiceLauncher) -> None:
    services.start("db-service")
    for name in ("event-logger", "storage", "receiver", "processor", "store-api"):
        service = services.start(name)
        served = httpx.get(f"{service.url}/openapi.json").json()
        committed = yaml.safe_load((DOCS / f"{name}.yaml").read_text())
        assert served == committed, (
            f"docs/openapi/{name}.yaml is stale: run `merchstore openapi {name} > "
            f"docs/openapi/{name}.yaml`"
        )
        assert httpx.get(f"{service.url}/docs").status_code == 200
