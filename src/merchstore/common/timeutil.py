"""Timestamps in the contract's format: RFC 3339, UTC, millisecond precision, ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime


def to_rfc3339(moment: datetime) -> str:
    """Format an aware datetime as e.g. ``2026-11-22T06:00:00.123Z``."""
    # isoformat of a UTC time always ends in "+00:00"; it is several times faster than strftime.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def utc_now_rfc3339() -> str:
    """The current time in the contract's timestamp format."""
    return to_rfc3339(datetime.now(UTC))
