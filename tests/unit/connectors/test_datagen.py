import asyncio
import datetime as dt
import time

import pyarrow as pa
import pytest

from catalog.errors import OptionError
from runtime.connectors.datagen.source import DatagenSource
from runtime.connectors.registry import create_source

from .helpers import ctx, fields, read_all, source_spec

FAST = {"rows-per-second": "1000000000"}
COLS = fields("id BIGINT", "k INT", "x DOUBLE", "s STRING", "ts TIMESTAMP(3)")


def gen(options: dict[str, str], cols=COLS, subtask: int = 0, parallelism: int = 1) -> DatagenSource:
    return DatagenSource(source_spec("datagen", {**FAST, **options}, cols), ctx(subtask, parallelism))


def test_registered_under_its_flink_name() -> None:
    spec = source_spec("datagen", {"number-of-rows": "1"}, COLS)
    assert isinstance(create_source(spec, ctx()), DatagenSource)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    opts = {"number-of-rows": "1000", "sqlstream.seed": "7"}
    a = read_all(gen(opts)).drop_columns(["ts"])
    b = read_all(gen(opts)).drop_columns(["ts"])
    c = read_all(gen({**opts, "sqlstream.seed": "8"})).drop_columns(["ts"])
    assert a.num_rows == 1000
    assert a.equals(b)
    assert not a.equals(c)


def test_random_bounds_lengths_and_types() -> None:
    cols = fields(
        "k INT", "x DOUBLE", "s STRING", "v VARCHAR(4)", "b BOOLEAN", "d DECIMAL(6, 2)", "t TINYINT"
    )
    opts = {
        "number-of-rows": "5000",
        "fields.k.min": "-3",
        "fields.k.max": "3",
        "fields.x.min": "10",
        "fields.x.max": "11",
        "fields.s.length": "5",
        "fields.d.min": "-1.5",
        "fields.d.max": "2.25",
    }
    t = read_all(gen(opts, cols))
    assert t.schema.field("k").type == pa.int32() and t.schema.field("d").type == pa.decimal128(6, 2)
    ks = t.column("k").to_pylist()
    assert min(ks) == -3 and max(ks) == 3
    xs = t.column("x").to_pylist()
    assert all(10 <= x <= 11 for x in xs)
    assert {len(s) for s in t.column("s").to_pylist()} == {5}
    assert all(set(s) <= set("0123456789abcdef") for s in t.column("s").to_pylist())
    assert {len(s) for s in t.column("v").to_pylist()} == {4}  # VARCHAR(4) caps the default
    assert set(t.column("b").to_pylist()) == {True, False}
    ds = t.column("d").to_pylist()
    assert all(-1.5 <= float(d) <= 2.25 for d in ds) and min(ds) < 0 < max(ds)
    assert all(-128 <= v <= 127 for v in t.column("t").to_pylist())


def test_var_len_strings() -> None:
    t = read_all(gen({"number-of-rows": "2000", "fields.s.length": "6", "fields.s.var-len": "true"}))
    assert {len(s) for s in t.column("s").to_pylist()} == set(range(1, 7))


def test_null_rate() -> None:
    t = read_all(gen({"number-of-rows": "10000", "fields.k.null-rate": "0.3", "fields.s.null-rate": "1"}))
    assert 2500 < t.column("k").null_count < 3500
    assert t.column("s").null_count == 10000
    assert t.column("id").null_count == 0


def test_timestamps_now_or_within_max_past() -> None:
    cols = fields("ts TIMESTAMP(3)", "z TIMESTAMP_LTZ(3)", "d DATE")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(milliseconds=5)
    t = read_all(gen({"number-of-rows": "2000", "fields.z.max-past": "1 h"}, cols))
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(milliseconds=5)
    assert all(before <= v <= after for v in t.column("ts").to_pylist())
    zs = [v.replace(tzinfo=None) for v in t.column("z").to_pylist()]
    assert all(before - dt.timedelta(hours=1) <= v <= after for v in zs)
    assert max(zs) - min(zs) > dt.timedelta(minutes=30)
    assert t.schema.field("z").type == pa.timestamp("us", tz="UTC")
    assert set(t.column("d").to_pylist()) == {dt.datetime.now(dt.UTC).date()}


def test_sequence_split_over_two_subtasks() -> None:
    opts = {"fields.id.kind": "sequence", "fields.id.start": "1", "fields.id.end": "11"}
    s0, s1 = gen(opts, subtask=0, parallelism=2), gen(opts, subtask=1, parallelism=2)
    a = read_all(s0, max_rows=4).column("id").to_pylist()
    b = read_all(s1, max_rows=4).column("id").to_pylist()
    assert a == [1, 3, 5, 7, 9, 11] and b == [2, 4, 6, 8, 10]
    assert s0.finished and s1.finished


def test_number_of_rows_split_evenly() -> None:
    opts = {"number-of-rows": "5"}
    assert read_all(gen(opts, subtask=0, parallelism=2)).num_rows == 3
    assert read_all(gen(opts, subtask=1, parallelism=2)).num_rows == 2


def test_string_and_double_sequences() -> None:
    cols = fields("s STRING", "x DOUBLE")
    opts = {
        "fields.s.kind": "sequence",
        "fields.s.start": "5",
        "fields.s.end": "7",
        "fields.x.kind": "sequence",
        "fields.x.start": "0",
        "fields.x.end": "100",
    }
    t = read_all(gen(opts, cols))
    assert t.column("s").to_pylist() == ["5", "6", "7"]  # the shorter sequence bounds the source
    assert t.column("x").to_pylist() == [0.0, 1.0, 2.0]


def test_position_and_restore_continue_exactly() -> None:
    opts = {"number-of-rows": "300", "sqlstream.seed": "3"}
    whole = read_all(gen(opts)).drop_columns(["ts"])

    async def first_part() -> dict:
        src = gen(opts)
        await src.open()
        got = 0
        while got < 100:
            b = await src.poll(100 - got)
            got += b.num_rows if b is not None else 0
        return src.position()

    pos = asyncio.run(first_part())
    assert pos["rows"] == 100
    resumed = gen(opts)
    resumed.restore(pos)
    rest = read_all(resumed).drop_columns(["ts"])
    assert rest.num_rows == 200
    assert rest.equals(whole.slice(100))


def test_rows_per_second_limits_the_rate() -> None:
    async def run() -> tuple[int, float]:
        src = DatagenSource(source_spec("datagen", {"rows-per-second": "2000"}, COLS), ctx())
        await src.open()
        start = time.monotonic()
        rows = 0
        while time.monotonic() - start < 0.5:
            b = await src.poll(100_000)
            rows += b.num_rows if b is not None else 0
            await asyncio.sleep(0.005)
        return rows, time.monotonic() - start

    rows, elapsed = asyncio.run(run())
    assert 0.5 * 2000 * elapsed < rows <= 2000 * (elapsed + 0.03)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fields.idd.kind": "random"}, "did you mean 'fields.id.kind'"),
        ({"fields.id.kind": "sequence"}, "'fields.id.start' is required"),
        ({"fields.id.kind": "sequence", "fields.id.start": "1", "fields.id.min": "1"}, "does not apply"),
        ({"fields.k.min": "5", "fields.k.max": "1"}, "larger than the max"),
        ({"fields.k.max": "99999999999"}, "out of range for INT"),
        ({"fields.k.null-rate": "2"}, "between 0 and 1"),
        ({"rows-per-second": "0"}, "must be positive"),
        ({"fields.k.length": "3"}, "does not apply to column 'k' of type INT"),
        ({"fields.s.max-past": "1 s"}, "does not apply to column 's' of type STRING"),
    ],
)
def test_option_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(OptionError) as e:
        DatagenSource(source_spec("datagen", options, COLS), ctx())
    assert message in str(e.value)


def test_nested_types() -> None:
    cols = fields(
        "a ARRAY<INT>",
        "m MAP<STRING, BIGINT>",
        "r ROW<x INT, y STRING>",
        "b BYTES",
        "t TIME",
        "ms MULTISET<INT>",
    )
    t = read_all(gen({"number-of-rows": "10", "fields.a.length": "2", "fields.b.length": "3"}, cols))
    row = t.to_pylist()[0]
    assert len(row["a"]) == 2 and len(row["m"]) == 3 and set(row["r"]) == {"x", "y"}
    assert len(row["b"]) == 3 and isinstance(row["t"], dt.time)
