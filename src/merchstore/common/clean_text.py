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
