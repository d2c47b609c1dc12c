"""What text every field accepts: no control character, no unpaired surrogate (no I/O)."""

from __future__ import annotations

import re

from pydantic import JsonValue

FORBIDDEN_TEXT = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
"""Characters no text field may hold: C0 controls, DEL and unpaired surrogates."""

CLEAN_TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f]*$"
"""The same rule as a JSON Schema pattern, so OpenAPI documents say what is accepted (JSON
Schema patterns cannot name unpaired surrogates, which no valid JSON text carries anyway)."""

CLEAN_TEXT_SCHEMA: dict[str, JsonValue] = {"pattern": CLEAN_TEXT_PATTERN}
"""Give as ``json_schema_extra`` to text fields whose schema states no pattern of its own."""


_CONTROL = re.compile("[\x00-\x1f\x7f]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(found: re.Match[str]) -> str:
    character = found.group()
    return _ESCAPES.get(character) or f"\\x{ord(character):02x}"


def escape_controls(text: str) -> str:
    r"""``text`` with every control character (U+0000 to U+001F, U+007F) written as an escape.

    ``\n``, ``\r`` and ``\t`` as such, the others as ``\xNN`` (ESC is ``\x1b``): a log line
    holding what a client sent then shows it on a terminal or in a line-based log as it was
    sent, and can neither move the cursor, change the title nor start a line of its own.
    """
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escape, text)
