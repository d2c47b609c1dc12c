"""The store's field rules, one each: store-api checks them at the edge, db-service enforces them.

The same patterns go into store-api's OpenAPI document, so they are written in the subset of
regular expressions that Python and JSON Schema (ECMAScript) read alike.
"""

from __future__ import annotations

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
_BLANK_OR_CONTROL = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
"""Every space and control character, spelt out: ``\\s`` means one set in Python and another
in the JSON Schema (ECMAScript) patterns of the OpenAPI document (U+0085 is whitespace to one
only), and a pattern must accept the same text in both."""
_ADDRESS_PART = rf"[^@{_BLANK_OR_CONTROL}]+"
EMAIL_PATTERN = rf"^{_ADDRESS_PART}@{_ADDRESS_PART}\.{_ADDRESS_PART}$"
SID_PATTERN = rf"^[^{_BLANK_OR_CONTROL}]{{1,15}}$"
