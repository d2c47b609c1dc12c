"""Shipping log lines while logging-service does not take them: bounded, counted, said once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from merchstore.common.logs.shipping import LINES_PER_BATCH, LogShippingHandler
from merchstore.common.logs.spool import LogSpool

UNREACHABLE = "127.0.0.1:1"  # nothing listens there: every stream fails at once


def shipped_by(handler: LogShippingHandler, count: int, text: str = "GET /products 200") -> None:
    record = logging.LogRecord("merchstore.test", logging.INFO, __file__, 1, text, None, None)
    for _ in range(count):
        handler.emit(record)


def drop_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "are dropped until" in r.getMessage()]


def test_a_full_queue_drops_new_lines_counts_them_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "merchstore.log_shipping")
    handler = LogShippingHandler(UNREACHABLE, "store-api", queue_size=50, level=logging.INFO)
    try:
        shipped_by(handler, 2000)
        kept = 2000 - handler.dropped
        # The lines waiting keep their place; the bound holds up to a batch being moved.
        assert 50 <= kept <= 50 + LINES_PER_BATCH
        assert handler.pending <= 50 + LINES_PER_BATCH
        assert len(drop_warnings(caplog)) == 1
    finally:
        handler.close(timeout_s=0.1)


def test_a_full_spool_drops_new_lines_rather_than_keep_them_off_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "merchstore.log_shipping")
    spool = LogSpool(tmp_path / "spool.jsonl", capacity_bytes=4000)
    handler = LogShippingHandler(
        UNREACHABLE, "store-api", queue_size=100_000, level=logging.INFO, spool=spool
    )
    try:
        shipped_by(handler, 1000)
        assert handler.dropped == spool.overflowed > 900
        assert handler.pending + handler.dropped == 1000  # every line kept is on disk
        assert len(drop_warnings(caplog)) == 1
    finally:
        handler.close(timeout_s=0.1)
