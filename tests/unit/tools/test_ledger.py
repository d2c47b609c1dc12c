"""The simulation's ledger: whole records survive any cut; a torn last line is not a record."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from merchstore.tools.ledger import Ledger, LedgerWriter, read_records


def write(path: Path, count: int) -> None:
    with LedgerWriter(path) as ledger:
        ledger.add("run", run_id="r", store_url="http://s")
        for number in range(count):
            ledger.add("event", event_id=f"e{number}", event_type="join_guild", user_id="p")


@given(count=st.integers(0, 20), cut=st.integers(0, 10_000))
def test_a_ledger_cut_anywhere_reads_as_the_records_written_whole_before_the_cut(
    count: int, cut: int
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "ledger.jsonl"
        write(path, count)
        whole = path.read_bytes()
        kept = whole[: min(cut, len(whole))]
        path.write_bytes(kept)
        records = list(read_records(path))
        assert len(records) == kept.count(b"\n")
        assert [r["kind"] for r in records] == (["run"] + ["event"] * count)[: len(records)]


def test_a_writer_after_a_torn_line_starts_on_a_line_of_its_own() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "ledger.jsonl"
        write(path, 2)
        path.write_bytes(path.read_bytes()[:-5])  # the last event cut short
        with LedgerWriter(path) as ledger:
            ledger.add("cancel", order_id=7)
        ledger_read = Ledger.read(path)
        assert list(ledger_read.events) == ["e0"]
        assert ledger_read.cancelled == {7}


def test_the_ledger_read_back_groups_records_by_kind() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "ledger.jsonl"
        with LedgerWriter(path) as ledger:
            ledger.add("shopper", user_id=3, username="u", password="p")
            ledger.add("order", order_id=10, user_id=3, product_id=1, quantity=2)
            ledger.add("order", order_id=11, user_id=3, product_id=2, quantity=1)
            ledger.add("cancel", order_id=11)
            ledger.add("attempt", user_id=3, product_id=1, quantity=1)
            ledger.add("request", request_id="sim-1", status=201)
            ledger.add("something-newer", whatever=1)
        path.write_text(
            path.read_text() + 'not json\n[1, 2]\n{"kind": "order", "order_id": "x"}\n'
            '{"kind": "event"}\n'
        )
        read = Ledger.read(path)
        assert set(read.shoppers) == {3}
        assert (read.status_of(10), read.status_of(11)) == ("placed", "cancelled")
        assert read.unanswered_orders == {3: 1}
        assert read.request_ids == {"sim-1"}
        assert read.unreadable == 2 and set(read.orders) == {10, 11}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
kinds = st.sampled_from(["run", "event", "shopper", "order", "cancel", "attempt", "request"])


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["kind", "event_id", "user_id", "order_id", "request_id"]),
            json_values | kinds,
        )
    )
)
def test_any_json_in_a_ledger_reads_without_an_error_and_broken_records_are_counted(
    records: list[dict[str, object]],
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "ledger.jsonl"
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
        read = Ledger.read(path)
        assert read.unreadable <= len(records)
