"""The architecture, read from the source: the shape of a service, imports, module sizes.

- Every service folder has the same files for the same roles (`SERVICE_SHAPE`), as
  ``docs/how-it-works.md`` shows in its table.

- ``common/`` is shared plumbing: it imports no service, nor ``services.py`` or ``settings.py``
  (which know every service), so any service can use any part of it.
- A service imports nothing of another service: what two services share (a message contract,
  a field rule, the feed cursor) lives once in ``common/``.
- ``common/`` is made of small modules with one job each.

That domain and contract modules are pure is checked in a fresh interpreter of their own
(``tests/integration/test_pure_modules.py``).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import get_type_hints

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from merchstore.services import SERVICES
from tests.support.paths import REPOSITORY

PACKAGE = REPOSITORY / "src" / "merchstore"
COMMON = PACKAGE / "common"
SERVICE_FOLDERS = sorted(spec.name.replace("-", "_") for spec in SERVICES)

SERVICE_SHAPE: dict[str, str] = {
    "main.py": "entry point: builds the parts and hands them to the shared lifecycle",
    "settings.py": "the service's own section of the settings",
    "api.py": "transport edge: HTTP routes or gRPC servicer, turning requests into use cases",
    "domain.py": "rules and records, no I/O",
    "use_cases.py": "what the service does, over protocols its adapters implement",
    "adapters": "I/O at the edge (PostgreSQL, SQLite, Kafka, files, other services)",
}
"""Each role's file (``adapters`` is ``adapters.py``, or ``adapters/`` with one module each)."""

SERVICE_DATA_FOLDERS = {"migrations": "numbered SQL files of its database", "static": "web page"}
"""Folders a service may have besides its modules."""

COMMON_MODULE_MAX_LINES = 300
"""No module of ``common/`` is longer: past that, it does more than one job."""


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports (at any depth of the file, lazily imported ones too)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _modules_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "_pb2" not in path.name)


@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_every_service_has_the_same_shape(folder: str) -> None:
    entries = {
        path.name
        for path in (PACKAGE / folder).iterdir()
        if path.name not in ("__init__.py", "__pycache__")
    }
    roles = {name.removesuffix(".py") if name.startswith("adapters") else name for name in entries}
    missing = set(SERVICE_SHAPE) - roles
    unknown = roles - set(SERVICE_SHAPE) - set(SERVICE_DATA_FOLDERS)
    assert not missing, f"{folder} has no {sorted(missing)}"
    assert not unknown, f"{folder} has files of no role: {sorted(unknown)} (see SERVICE_SHAPE)"
    assert not {"adapters.py", "adapters"} <= entries, "adapters.py or adapters/, not both"


def test_the_docs_show_the_shape_of_a_service() -> None:
    text = (REPOSITORY / "docs" / "how-it-works.md").read_text()
    for role in SERVICE_SHAPE:
        assert f"| `{role}" in text, f"docs/how-it-works.md's shape table has no row for {role}"


HTTP_SERVICE_FOLDERS = sorted(
    spec.name.replace("-", "_") for spec in SERVICES if spec.protocol == "http"
)
LIFECYCLE_STEPS = {
    "check_broker",
    "Readiness",
    "announce_start",
    "run_uvicorn",
    "set_grpc_serving",
    "uvicorn",
}
"""What the shared lifecycle does (serve_http, serve_grpc), so that no entry point repeats it."""


def _names_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    return {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Name | ast.Attribute)
    }


@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_an_entry_point_only_builds_its_parts(folder: str) -> None:
    used = _names_used(PACKAGE / folder / "main.py")
    assert used & {"serve_http", "serve_grpc"}, f"{folder}/main.py is not served by the lifecycle"
    repeated = used & LIFECYCLE_STEPS
    assert not repeated, f"{folder}/main.py repeats the lifecycle's steps: {sorted(repeated)}"


@pytest.mark.parametrize("folder", HTTP_SERVICE_FOLDERS)
def test_routes_reach_their_parts_through_one_typed_dependency(folder: str) -> None:
    api = importlib.import_module(f"merchstore.{folder}.api")
    assert dataclasses.is_dataclass(api.Parts), f"{folder}/api.py declares no Parts dataclass"
    for path in _modules_under(PACKAGE / folder):
        assert "app.state" not in path.read_text(), f"{path.name} wires by string (app.state)"
    dependencies = {
        dependency.call
        for route in api.create_app().routes
        if isinstance(route, APIRoute)
        for dependency in _every_dependency(route.dependant)
    }
    parts = [call for call in dependencies if getattr(call, "__name__", "") == "parts_of_the_app"]
    assert len(parts) == 1, f"{folder}'s routes reach their parts by {len(parts)} dependencies"
    [reach_parts] = parts
    assert reach_parts is not None and get_type_hints(reach_parts)["return"] is api.Parts


def _every_dependency(dependant: Dependant) -> Iterator[Dependant]:
    for inner in dependant.dependencies:
        yield inner
        yield from _every_dependency(inner)


def test_common_imports_no_service() -> None:
    allowed = ("merchstore.common", "merchstore.protos")
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line} imports {module}"
        for path in _modules_under(COMMON)
        for line, module in _imported_modules(path)
        if module.startswith("merchstore") and not module.startswith(allowed)
    ]
    assert not wrong, "common/ must not import a service or the service registry:\n" + "\n".join(
        wrong
    )


@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_a_service_imports_nothing_of_another_service(folder: str) -> None:
    others = [f"merchstore.{other}" for other in SERVICE_FOLDERS if other != folder]
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line} imports {module}"
        for path in _modules_under(PACKAGE / folder)
        for line, module in _imported_modules(path)
        if any(module == other or module.startswith(other + ".") for other in others)
    ]
    assert not wrong, "what services share belongs in common/:\n" + "\n".join(wrong)


def test_common_modules_are_small() -> None:
    too_long = {
        str(path.relative_to(PACKAGE)): length
        for path in _modules_under(COMMON)
        if (length := len(path.read_text().splitlines())) > COMMON_MODULE_MAX_LINES
    }
    assert not too_long, f"split these by job (over {COMMON_MODULE_MAX_LINES} lines): {too_long}"
