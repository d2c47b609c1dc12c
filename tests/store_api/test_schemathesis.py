"""Property-based checks of store-api against its own served OpenAPI document."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.store_api.conftest import Store


def test_no_server_error_and_every_answer_matches_the_schema(store: Store, tmp_path: Path) -> None:
    shopper = store.register("fuzzer")
    store.http.post("/orders", headers=shopper.auth, json={"product_id": 1, "quantity": 1})
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command, "schemathesis is installed with the dev dependencies"
    result = subprocess.run(
        [
            command,
            "run",
            f"{store.url}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--header",
            f"Authorization: Bearer {shopper.token}",
            "--max-examples",
            "25",
            "--seed",
            "20261122",
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
