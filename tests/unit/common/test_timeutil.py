"""The contract's timestamp format, for any moment in any time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from merchstore.common.timeutil import to_rfc3339

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
