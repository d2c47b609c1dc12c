"""The contract's timestamp format, for any moment in any time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from merchstore.common.timeutil import UtcDatetime, in_utc, to_rfc3339

TIME_ZONES = st.builds(
    timezone, st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda m: timedelta(minutes=m))
)


def test_a_utc_moment_is_written_to_the_millisecond_with_z() -> None:
    moment = datetime(2026, 11, 22, 6, 0, 0, 123999, tzinfo=UTC)
    assert to_rfc3339(moment) == "2026-11-22T06:00:00.123Z"


@given(st.datetimes(min_value=datetime(1000, 1, 2), timezones=TIME_ZONES))
def test_any_moment_is_written_in_utc_and_read_back_to_the_millisecond(moment: datetime) -> None:
    text = to_rfc3339(moment)
    assert len(text) == len("2026-11-22T06:00:00.123Z")
    assert text.endswith("Z")
    read_back = datetime.fromisoformat(text)
    assert read_back.tzinfo is not None
    truncated = moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)
    assert read_back == truncated


OUT_OF_RANGE = ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:00-00:01"]
"""Moments a time zone puts in year 0 or in year 10000 once in UTC."""


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_a_moment_outside_the_years_1_to_9999_in_utc_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="years 1 to 9999"):
        in_utc(datetime.fromisoformat(text))
    with pytest.raises(ValidationError, match="years 1 to 9999"):
        TypeAdapter(UtcDatetime).validate_python(text)


@given(st.datetimes(timezones=TIME_ZONES))
def test_any_aware_moment_is_read_in_utc_or_refused_with_a_value_error(moment: datetime) -> None:
    try:
        read = TypeAdapter(UtcDatetime).validate_python(moment)
    except ValidationError:
        return
    assert read == moment and read.utcoffset() == timedelta(0)
