"""storage's event feed as its readers see it: a cursor names a place in commit order."""

from __future__ import annotations

FEED_START = "0:0"
"""The feed cursor before the first event (``<transaction>:<sequence>``)."""

CURSOR_PATTERN = r"^[0-9]{1,19}:[0-9]{1,19}$"
"""What a cursor looks like: two numbers, where the last page read ended."""
