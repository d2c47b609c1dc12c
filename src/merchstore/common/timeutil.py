"""Timestamps in the contract's format: RFC 3339, UTC, millisecond precision, ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime


def to_rfc3339(moment: datetime) -> str:
    """Format an aware datetime as e.g. ``2026-11-22T06:00:00.123Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def utc_now_rfc3339() -> str:
    """The current time in the contract's timestamp format."""
    return to_rfc3339(datetime.now(UTC))
