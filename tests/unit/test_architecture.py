"""The architecture, read from the source: which module may import which, and how large they grow.

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
from collections.abc import Iterator
from pathlib import Path

import pytest

from merchstore.services import SERVICES
from tests.support.paths import REPOSITORY

PACKAGE = REPOSITORY / "src" / "merchstore"
COMMON = PACKAGE / "common"
SERVICE_FOLDERS = sorted(spec.name.replace("-", "_") for spec in SERVICES)

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
