"""Every pattern in the OpenAPI documents means the same in Python and in JSON Schema."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from merchstore.common.http.openapi import openapi_document
from merchstore.db_service.domain import EMAIL, SID
from merchstore.services import SERVICES

DIALECT_DEPENDENT = re.compile(r"(?<!\\)(?:\\\\)*\\[dDsSwWbB]")
"""``\\d``, ``\\s``, ``\\w`` and their kin: Unicode-wide in Python's re and pydantic's engine,
ASCII (or another set) in the ECMAScript regular expressions of JSON Schema tools."""


def patterns(node: object) -> Iterator[str]:
    """Every ``pattern`` and ``patternProperties`` key in a JSON Schema document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key == "patternProperties" and isinstance(value, dict):
                yield from value
            yield from patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from patterns(item)


@pytest.mark.parametrize(
    "spec", [spec for spec in SERVICES if spec.protocol == "http"], ids=lambda spec: spec.name
)
def test_no_pattern_uses_a_class_whose_meaning_depends_on_the_regex_dialect(
    spec: object,
) -> None:
    found = list(patterns(openapi_document(spec.api_module)))  # type: ignore[attr-defined]
    assert [pattern for pattern in found if DIALECT_DEPENDENT.search(pattern)] == []


def test_the_dialect_check_finds_what_it_looks_for() -> None:
    assert DIALECT_DEPENDENT.search(r"^\d{4}$")
    assert DIALECT_DEPENDENT.search(r"[^@\s]+")
    assert not DIALECT_DEPENDENT.search(r"^[0-9]{4}\.x$")
    assert not DIALECT_DEPENDENT.search(r"a\\d")  # an escaped backslash, then a letter


PYTHON_SPACES = [chr(c) for c in range(0x110000) if re.fullmatch(r"\s", chr(c))]
ECMASCRIPT_SPACES = list("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") + [
    chr(c) for c in range(0x2000, 0x200B)
]


@pytest.mark.parametrize(
    "space", sorted(set(PYTHON_SPACES) | set(ECMASCRIPT_SPACES)), ids=lambda c: f"U+{ord(c):04X}"
)
def test_no_space_of_either_dialect_is_part_of_an_email_or_a_sid(space: str) -> None:
    assert not EMAIL.fullmatch(f"al{space}ice@example.com")
    assert not SID.fullmatch(f"1201{space}0001")
