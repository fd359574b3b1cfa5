import asyncio
import datetime as dt
import decimal
import io

import pyarrow as pa
import pytest

from planner.physical import ROW_KIND_COLUMN
from runtime.connectors.blackhole.sink import BlackholeSink
from runtime.connectors.print.sink import PrintSink, java_float, print_prefix, print_to
from runtime.connectors.registry import create_sink

from .helpers import ctx, fields, sink_spec, write_all

COLS = fields(
    "i INT", "s STRING", "ts TIMESTAMP(3)", "z TIMESTAMP_LTZ(3)", "d DECIMAL(10, 2)", "x DOUBLE",
    "b BOOLEAN", "dt DATE", "tm TIME", "a ARRAY<INT>", "m MAP<STRING, INT>", "r ROW<x INT, y STRING>",
    "by BYTES",
)  # fmt: skip


def sample(kinds: list[int] | None = None) -> pa.RecordBatch:
    arrays = [
        pa.array([1, None], pa.int32()),
        pa.array(["a b", None]),
        pa.array([dt.datetime(2020, 4, 15, 8, 5), dt.datetime(2020, 4, 15, 8, 5, 1, 123000)]),
        pa.array(
            [
                dt.datetime(2020, 4, 15, 8, 5, tzinfo=dt.UTC),
                dt.datetime(2020, 4, 15, 8, 5, 1, 123456, tzinfo=dt.UTC),
            ],
            pa.timestamp("us", "UTC"),
        ),
        pa.array([decimal.Decimal("1.50"), None], pa.decimal128(10, 2)),
        pa.array([1.0, 1e10]),
        pa.array([True, None]),
        pa.array([dt.date(2020, 4, 15), None]),
        pa.array([dt.time(8, 5), dt.time(8, 5, 1, 500000)]),
        pa.array([[1, 2], None]),
        pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int32())),
        pa.array([{"x": 1, "y": "a"}, None]),
        pa.array([b"\x01\xfe", None]),
    ]
    names = [c.name for c in COLS]
    if kinds is not None:
        arrays.append(pa.array(kinds, pa.int8()))
        names.append(ROW_KIND_COLUMN)
    return pa.record_batch(arrays, names=names)


def printed(options: dict[str, str], batch: pa.RecordBatch, subtask: int = 0, parallelism: int = 1) -> str:
    buf = io.StringIO()
    sink = PrintSink(sink_spec("print", options, COLS), ctx(subtask, parallelism), stream=buf)
    write_all(sink, [batch])
    return buf.getvalue()


def test_flink_row_format() -> None:
    assert printed({}, sample()) == (
        "+I[1, a b, 2020-04-15T08:05, 2020-04-15T08:05:00Z, 1.50, 1.0, true, 2020-04-15, 08:05, "
        "[1, 2], {k=1}, +I[1, a], [1, -2]]\n"
        "+I[null, null, 2020-04-15T08:05:01.123, 2020-04-15T08:05:01.123456Z, null, 1.0E10, null, "
        "null, 08:05:01.500, null, null, null, null]\n"
    )


def test_row_kinds_and_prefixes() -> None:
    out = printed({"print-identifier": "sink"}, sample([2, 3]), subtask=1, parallelism=2)
    lines = out.splitlines()
    assert lines[0].startswith("sink:2> +U[1, ")
    assert lines[1].startswith("sink:2> -D[null, ")
    assert printed({"print-identifier": "sink"}, sample([1, 0])).splitlines()[0].startswith("sink> -U[1,")
    assert printed({}, sample(), subtask=0, parallelism=3).startswith("1> +I[1,")
    assert print_prefix(None, 0, 1) == ""


def test_standard_error_and_context_streams(capsys: pytest.CaptureFixture[str]) -> None:
    spec = sink_spec("print", {"standard-error": "true"}, COLS)
    write_all(create_sink(spec, ctx()), [sample()])
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("+I[1, a b")
    out, err = io.StringIO(), io.StringIO()
    with print_to(out, err):
        write_all(create_sink(sink_spec("print", {}, COLS), ctx()), [sample()])
        write_all(create_sink(spec, ctx()), [sample()])
    assert out.getvalue().count("\n") == 2 and err.getvalue().count("\n") == 2
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"), (0.5, "0.5"), (100.0, "100.0"), (1e7, "1.0E7"), (9999999.0, "9999999.0"),
        (0.001, "0.001"), (0.0001, "1.0E-4"), (-2.5e-5, "-2.5E-5"), (1.2345e21, "1.2345E21"),
        (float("nan"), "NaN"), (float("-inf"), "-Infinity"), (-0.0, "-0.0"),
    ],
)  # fmt: skip
def test_java_double_to_string(value: float, text: str) -> None:
    assert java_float(value) == text


def test_float_columns_use_float_precision() -> None:
    assert java_float(0.1, single=True) == "0.1"


def test_blackhole_counts() -> None:
    sink = BlackholeSink(sink_spec("blackhole", {}, COLS), ctx())
    write_all(sink, [sample(), sample([3, 3])])
    assert sink.rows_written == 4 and sink.batches_written == 2
    assert isinstance(create_sink(sink.spec, ctx()), BlackholeSink)
    asyncio.run(sink.flush())


def test_vectorised_doubles_match_java_float() -> None:
    import numpy as np

    from catalog.types import parse_type
    from runtime.connectors.print.sink import column_text

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.random(3000) * 1000, rng.random(300) * 1e-2, rng.standard_normal(300) * 1e8])
    x[:5] = [1.0, 0.0, 1e7, float("nan"), -1234567.0]
    assert column_text(pa.array(x), parse_type("DOUBLE")).to_pylist() == [java_float(v) for v in x]
    f = x.astype(np.float32)
    assert column_text(pa.array(f), parse_type("FLOAT")).to_pylist() == [
        java_float(float(v), True) for v in f
    ]
