"""The log tail's hourly files: any line, however odd its timestamp, goes into one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from merchstore.tools.log_tail import hour_of


def test_a_line_goes_into_the_file_of_its_hour_in_utc() -> None:
    assert hour_of({"timestamp": "2026-11-22T06:59:59.999+01:00"}) == "20261122_05"


@pytest.mark.parametrize(
    "timestamp", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:00-00:01", "yesterday", None]
)
def test_a_timestamp_that_names_no_hour_in_utc_files_the_line_under_now(
    timestamp: str | None,
) -> None:
    before = datetime.now(UTC).strftime("%Y%m%d_%H")
    hour = hour_of({"timestamp": timestamp})
    assert hour in {before, datetime.now(UTC).strftime("%Y%m%d_%H")}
