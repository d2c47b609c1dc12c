"""Domain and contract modules are pure: importing one loads no I/O library (Kafka, HTTP, SQL).

Each is imported in a fresh interpreter, so that nothing imported before can hide what it loads.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from merchstore.services import SERVICES
from tests.support.paths import REPOSITORY

SERVICE_FOLDERS = sorted(spec.name.replace("-", "_") for spec in SERVICES)

PURE_MODULES = [
    *(f"merchstore.{folder}.domain" for folder in SERVICE_FOLDERS),
    "merchstore.common.messages",
    "merchstore.common.store_fields",
    "merchstore.common.feed",
    "merchstore.common.consumed",
]
"""Rules and contracts: plain data and functions, no I/O library."""

IO_LIBRARIES = ("confluent_kafka", "fastapi", "grpc", "psycopg", "sqlite3", "httpx", "uvicorn")
"""What a pure module must not load, even indirectly."""


LOADED_BY_IMPORT = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_load_no_io_library(module: str) -> None:
    answer = subprocess.run(
        [sys.executable, "-c", LOADED_BY_IMPORT, module],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPOSITORY,
    )
    loaded = set(json.loads(answer.stdout))
    assert not loaded & set(IO_LIBRARIES), (
        f"importing {module} loaded {sorted(loaded & set(IO_LIBRARIES))}"
    )
