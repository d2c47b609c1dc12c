"""Validation errors in plain words: which field, what is wrong, what is allowed.

pydantic's own messages speak of its internals ("Value should have at least 8 items after
validation", locations such as ``body.17`` or ``metadata.price.constrained-str``, one error per
branch of a union). A client reads these instead. Pure functions over pydantic's error items.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_PLACES = {"body": "", "query": "query parameter ", "path": "path parameter ", "header": "header "}
_BRANCH = re.compile(r"^(str|int|float|bool|constrained-str|[a-z-]+\[.*\])$")
"""The tag pydantic adds to a location for one branch of a union (``constrained-str``)."""
_KEY = "[key]"
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

_KIND_OF = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "list_type": "a list",
}


def _where(location: Sequence[Any]) -> str:
    """``body.metadata.price`` as ``metadata.price``; a key of a mapping as ``a key of ...``."""
    parts = [str(part) for part in location if not _BRANCH.match(str(part))]
    place = ""
    if parts and parts[0] in _PLACES:
        place = _PLACES[parts.pop(0)]
    # A name a client made up ("", "7", "a b") is quoted, so it reads as a name.
    parts = [p if p == _KEY or _PLAIN_NAME.fullmatch(p) else json.dumps(p) for p in parts]
    if parts and parts[-1] == _KEY:
        parts = parts[:-2] if len(parts) >= 2 else []
        return f"a key of {'.'.join(parts) or 'the body'}"
    if not parts:
        return "the body" if not place else place.strip()
    return place + ".".join(parts)


def _count(number: object, item: Mapping[str, Any], text: bool) -> str:
    """``8 characters``, ``1 character``, ``16 keys``: what a length bound counts."""
    unit = (
        "character"
        if text or isinstance(item.get("input"), str)
        else "key"
        if isinstance(item.get("input"), dict)
        else "item"
    )
    return f"{number} {unit}{'' if number == 1 else 's'}"


def _what(item: Mapping[str, Any]) -> str:
    """What is wrong with one value and what is allowed, without pydantic's words."""
    kind = str(item.get("type", ""))
    ctx: Mapping[str, Any] = item.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in ("string_too_short", "too_short"):
        least = ctx.get("min_length", 1)
        return f"must have at least {_count(least, item, kind == 'string_too_short')}"
    if kind in ("string_too_long", "too_long"):
        most = ctx.get("max_length")
        return f"must have at most {_count(most, item, kind == 'string_too_long')}"
    if kind in _KIND_OF:
        return f"must be {_KIND_OF[kind]}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()), "")
        words = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        return f"must be {words} {bound}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', 'the values documented')}"
    if kind == "extra_forbidden":
        return "is not accepted here (not a documented field)"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "string_pattern_mismatch":
        return f"has characters that are not allowed (it must match {ctx.get('pattern')})"
    if kind == "value_error":
        return str(item.get("msg", "is invalid")).removeprefix("Value error, ")
    return str(item.get("msg", "is invalid")).lower()


def _branch_kind(item: Mapping[str, Any]) -> str:
    """What one branch of a union accepts, as a noun: "text of at most 256 characters"."""
    kind = str(item.get("type", ""))
    if kind == "string_too_long":
        return f"text of at most {(item.get('ctx') or {}).get('max_length')} characters"
    if kind == "finite_number":
        return "a finite number"
    return _KIND_OF.get(kind, _what(item))


def plain_messages(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """One sentence per field that is wrong; the branches of a union as one sentence."""
    items = list(items)
    for item in items:
        if item.get("type") == "json_invalid":
            # A body that does not parse is the only problem, and pydantic's location for it
            # is ("body", <character offset>): the offset is no field.
            location = tuple(item.get("loc", ()))
            offset = location[-1] if len(location) > 1 else None
            error = (item.get("ctx") or {}).get("error", "cannot be parsed")
            at = f", at character {offset}" if isinstance(offset, int) else ""
            return [f"the body is not valid JSON ({error}{at})"]
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        grouped.setdefault(_where(tuple(item.get("loc", ()))), []).append(item)
    sentences = []
    for where, group in grouped.items():
        branches = [i for i in group if any(_BRANCH.match(str(p)) for p in i.get("loc", ()))]
        if len(branches) > 1:
            kinds = [_branch_kind(i) for i in branches]
            allowed = ", ".join(dict.fromkeys(kinds))
            sentences.append(f"{where}: must be one of: {allowed}")
            group = [i for i in group if i not in branches]
        sentences.extend(f"{where}: {_what(item)}" for item in group)
    return sentences
