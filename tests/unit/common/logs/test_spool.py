"""The log spool: what was not acknowledged comes back after a crash, cut anywhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from merchstore.common.logs.spool import LogSpool, SpoolInUse


def fill(spool: LogSpool, count: int) -> list[int]:
    queued: list[int] = []
    for number in range(count):
        spool.append([20, f"line {number}", 1.5, "t", "merchstore.x"], queued.append)
    return queued


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 5000))
def test_after_a_crash_the_lines_past_the_acknowledged_ones_come_back_in_order(
    count: int, acknowledged: int, cut: int
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "spool.jsonl"
        spool = LogSpool(path)
        queued = fill(spool, count)
        assert queued == list(range(1, count + 1))
        through = min(acknowledged, count)
        spool.acknowledge(through)
        spool.close()  # a crash leaves the file as it is; cut it anywhere too
        whole = path.read_bytes()
        path.write_bytes(whole[: min(cut, len(whole))])
        whole_lines = path.read_bytes().count(b"\n")
        again = LogSpool(path)
        seqs = [line[0] for line in again.recovered]
        assert seqs == list(range(through + 1, whole_lines + 1))
        assert all(line[2] == f"line {line[0] - 1}" for line in again.recovered)
        # New lines continue after every number used before: none is taken twice.
        assert fill(again, 1) == [max(through, whole_lines) + 1]
        again.close()


def written(path: Path) -> int:
    return len(path.read_bytes().split(b"\0", 1)[0])


def test_a_spool_half_full_keeps_only_what_is_not_acknowledged() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "spool.jsonl"
        spool = LogSpool(path, capacity_bytes=8000)
        fill(spool, 100)
        before = written(path)
        assert before > 4000
        spool.acknowledge(90)
        assert written(path) < before / 5
        fill(spool, 1)
        spool.close()
        assert [line[0] for line in LogSpool(path).recovered] == [*range(91, 101), 101]


def test_a_full_spool_refuses_new_lines_with_no_rewrite_per_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rewritten: list[int] = []
    rewrite = LogSpool._fresh

    def counted(spool: LogSpool, contents: bytes) -> object:
        rewritten.append(len(contents))
        return rewrite(spool, contents)

    monkeypatch.setattr(LogSpool, "_fresh", counted)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "spool.jsonl"
        spool = LogSpool(path, capacity_bytes=1000)
        queued = fill(spool, 40)  # nothing acknowledged: the spool fills up
        kept = len(queued)
        assert 0 < kept < 40 and queued == list(range(1, kept + 1))
        assert spool.overflowed == 40 - kept
        opened = len(rewritten)
        # A long outage: every further line is refused at the cost of a comparison.
        assert fill(spool, 2000) == []
        assert len(rewritten) == opened and spool.rewrites == 0
        assert spool.overflowed == 2040 - kept
        spool.acknowledge(kept)  # logging-service is back: room again
        assert fill(spool, 1) == [kept + 1] and spool.rewrites == 1
        spool.close()
        assert [line[0] for line in LogSpool(path).recovered] == [kept + 1]


def test_a_rewrite_copies_the_unacknowledged_lines_as_they_are() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "spool.jsonl"
        spool = LogSpool(path, capacity_bytes=4000)
        for through in range(10, 400, 10):
            fill(spool, 10)
            spool.acknowledge(through - 5)  # five of every ten wait for the next summary
        assert spool.rewrites > 0
        spool.close()
        again = LogSpool(path)
        assert [line[0] for line in again.recovered] == list(range(386, 391))
        assert [line[2] for line in again.recovered] == [f"line {n}" for n in range(5, 10)]
        again.close()


def test_one_process_per_spool() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "spool.jsonl"
        first = LogSpool(path)
        with pytest.raises(SpoolInUse):
            LogSpool(path)
        first.close()
        LogSpool(path).close()


@given(st.text(st.characters(exclude_categories=()), max_size=40))
@example("lone \ud800 surrogate")
def test_any_message_comes_back_as_it_was_logged(message: str) -> None:
    # Lone surrogates included: the fast encoder refuses them, the standard one escapes them.
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "spool.jsonl"
        spool = LogSpool(path)
        spool.append([30, message, 1.25, "", "merchstore.x", "é"], lambda seq: None)
        spool.close()
        again = LogSpool(path)
        assert again.recovered == [[1, 30, message, 1.25, "", "merchstore.x", "é"]]
        again.close()
