"""Every test checks something: it asserts, or calls a helper of the suite that does.

Read from the source (no test is run): a test function whose body holds no ``assert``, no
``pytest.raises``/``pytest.fail`` and no call of a function of ``tests/`` that (itself or
through the helpers it calls) asserts, passes whatever the product does. Helpers are matched
by name, so a call ``store.register(...)`` counts when any ``register`` of the suite asserts:
lenient on purpose (no false alarm), strict enough to catch a body that checks nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.paths import REPOSITORY

TESTS = REPOSITORY / "tests"

ALLOWED: dict[str, str] = {
    # "path::test name": why it needs no assertion of its own.
}
"""Tests that check by other means, each with the reason."""

CHECKING_CALLS = {"raises", "fail", "fail_with", "expect_failure"}
"""Calls that are a check in themselves (``pytest.raises``, ``pytest.fail``, ...)."""


def _called_names(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            function = child.func
            if isinstance(function, ast.Name):
                yield function.id
            elif isinstance(function, ast.Attribute):
                yield function.attr


def _checks_directly(node: ast.AST) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            return True
        if isinstance(child, ast.Raise) and "AssertionError" in ast.unparse(child):
            return True
    return any(name in CHECKING_CALLS for name in _called_names(node))


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def asserting_helpers(trees: dict[Path, ast.Module]) -> set[str]:
    """Names of the suite's functions that assert, directly or through one another."""
    calls: dict[str, set[str]] = {}
    asserting: set[str] = set()
    for tree in trees.values():
        for function in _functions(tree):
            calls.setdefault(function.name, set()).update(_called_names(function))
            if _checks_directly(function):
                asserting.add(function.name)
    changed = True
    while changed:
        changed = False
        for name, called in calls.items():
            if name not in asserting and called & asserting:
                asserting.add(name)
                changed = True
    return asserting


def unchecked(trees: dict[Path, ast.Module], root: Path) -> list[str]:
    """``path::name`` (from ``root``) of each test that asserts nothing, nor calls what does."""
    helpers = asserting_helpers(trees)
    found = []
    for path, tree in trees.items():
        if not path.name.startswith("test_"):
            continue
        for function in _functions(tree):
            if not function.name.startswith("test_"):
                continue
            key = f"{path.relative_to(root)}::{function.name}"
            checks = _checks_directly(function) or set(_called_names(function)) & helpers
            if not checks and key not in ALLOWED:
                found.append(key)
    return found


def parsed(paths: list[Path]) -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), str(path)) for path in paths}


def test_every_test_function_asserts_or_calls_a_helper_that_does() -> None:
    trees = parsed(sorted(TESTS.rglob("*.py")))
    assert unchecked(trees, REPOSITORY) == []


def test_the_allow_list_names_only_tests_that_exist_and_says_why() -> None:
    trees = parsed(sorted(TESTS.rglob("test_*.py")))
    names = {
        f"{path.relative_to(REPOSITORY)}::{function.name}"
        for path, tree in trees.items()
        for function in _functions(tree)
    }
    assert set(ALLOWED) <= names
    assert all(len(why) > 20 for why in ALLOWED.values())


def test_the_check_finds_a_test_that_checks_nothing(tmp_path: Path) -> None:
    helper = tmp_path / "helpers.py"
    helper.write_text(
        "def deep(x):\n    assert x\n\ndef middle(x):\n    deep(x)\n\ndef idle(x):\n    return x\n"
    )
    module = tmp_path / "test_sample.py"
    module.write_text(
        "import pytest\n\n"
        "def test_direct():\n    assert 1\n\n"
        "def test_through_helpers():\n    middle(1)\n\n"
        "def test_raises():\n    with pytest.raises(ValueError):\n        int('x')\n\n"
        "def test_nothing():\n    idle(1)\n\n"
        "def test_loop_never_entered():\n    for x in []:\n        print(x)\n"
    )
    trees = {path: ast.parse(path.read_text()) for path in (helper, module)}
    assert unchecked(trees, tmp_path) == [
        "test_sample.py::test_nothing",
        "test_sample.py::test_loop_never_entered",
    ]
