"""The hash exchange and the restore of keyed state assign a key to the same subtask: a
row's key must meet its state after a restore at any parallelism, whatever Arrow type a
batch or a state table read back from DuckDB gives the key."""

from __future__ import annotations

import datetime as dt
import decimal

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.channels import Channel
from runtime.graph import _Hash
from runtime.partition import install, key_filter_sql, key_hash, partition

ints = st.lists(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), min_size=1, max_size=200)
texts = st.lists(st.one_of(st.none(), st.text(max_size=40)), min_size=1, max_size=200)


@settings(max_examples=50, deadline=None)
@given(ints)
def test_an_integer_key_goes_to_one_subtask_whatever_its_width(values: list[int | None]) -> None:
    wide = partition([pa.array(values, pa.int64())], 3).tolist()
    assert partition([pa.array(values, pa.int32())], 3).tolist() == wide
    assert partition([pa.array(values, pa.int64()).dictionary_encode()], 3).tolist() == wide


@settings(max_examples=50, deadline=None)
@given(texts)
def test_a_string_key_goes_to_one_subtask_whatever_its_encoding(values: list[str | None]) -> None:
    plain = key_hash([pa.array(values, pa.string())]).tolist()
    for same in (
        pa.array(values, pa.large_string()),
        pa.array(values, pa.string_view()),
        pa.array(values, pa.string()).dictionary_encode(),
        pa.array(values * 30, pa.string()),  # long enough to hash each distinct value once
        pa.array(["pad", *values], pa.string()).slice(1),  # a slice of a batch
    ):
        assert key_hash([same]).tolist()[: len(values)] == plain


def test_timestamps_decimals_and_floats_hash_by_value() -> None:
    ms = pa.array([0, 1_500, None], pa.timestamp("ms"))
    us = pa.array([0, 1_500_000, None], pa.timestamp("us", tz="UTC"))
    assert key_hash([ms]).tolist() == key_hash([us]).tolist()
    d1 = pa.array([decimal.Decimal("1.25"), None], pa.decimal128(5, 2))
    d2 = pa.array([decimal.Decimal("1.25"), None], pa.decimal128(38, 2))
    assert key_hash([d1]).tolist() == key_hash([d2]).tolist()
    assert key_hash([pa.array([-0.0], pa.float32())]).tolist() == key_hash([pa.array([0.0])]).tolist()
    days = pa.array([dt.date(2024, 2, 29)], pa.date32())
    assert key_hash([days]).tolist() == key_hash([days.cast(pa.date64())]).tolist()


@settings(max_examples=25, deadline=None)
@given(ints, texts, st.integers(2, 5))
def test_restore_keeps_exactly_the_rows_the_exchange_sends(
    a: list[int | None], s: list[str | None], parallelism: int
) -> None:
    n = min(len(a), len(s))
    batch = pa.record_batch(
        {
            "a": pa.array(a[:n], pa.int32()),
            "s": pa.array(s[:n], pa.string()),
            "ts": pa.array([None if x is None else x * 1000 for x in a[:n]], pa.timestamp("us")),
            "row": pa.array(range(n), pa.int64()),
        }
    )
    router = _Hash([Channel(1) for _ in range(parallelism)], ("a", "s", "ts"), run=None)  # type: ignore[arg-type]
    sent = [[] if p is None else p.column("row").to_pylist() for p in router.split(batch)]
    # the state table: the same rows stored in DuckDB (its own types), filtered in SQL
    con = duckdb.connect()
    install(con)
    con.register("b", batch)
    con.execute("CREATE TABLE state AS SELECT * FROM b")
    for j in range(parallelism):
        where = key_filter_sql(['"a"', '"s"', '"ts"'], parallelism, j)
        kept = [r[0] for r in con.execute(f"SELECT row FROM state WHERE {where} ORDER BY row").fetchall()]
        assert kept == sorted(sent[j])
    assert sorted(r for part in sent for r in part) == list(range(n))


def test_keys_spread_over_the_subtasks() -> None:
    targets = partition([pa.array(range(1000, 2000))], 2).tolist()
    assert 400 < targets.count(0) < 600
