"""Timestamps in the contract's format: RFC 3339, UTC, millisecond precision, ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def to_rfc3339(moment: datetime) -> str:
    """Format an aware datetime as e.g. ``2026-11-22T06:00:00.123Z``."""
    # isoformat of a UTC time always ends in "+00:00"; it is several times faster than strftime.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def utc_now_rfc3339() -> str:
    """The current time in the contract's timestamp format."""
    return to_rfc3339(datetime.now(UTC))


def in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; ValueError if that falls outside years 1 to 9999.

    A time zone can put a moment past either end ("0001-01-01T00:00:00+00:01" is in year 0 in
    UTC): Python cannot convert it, and PostgreSQL would store it but never hand it back.
    """
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall within the years 1 to 9999 in UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(in_utc)]
"""A timestamp with a time zone, read as the same moment in UTC (years 1 to 9999)."""
