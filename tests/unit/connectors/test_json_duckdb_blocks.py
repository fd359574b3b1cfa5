"""The JSON decoder reads a block of lines with DuckDB's JSON functions first
(``runtime.formats.json_block``), which are more lenient than Flink: 1.7 into a BIGINT is
2, a number into a VARCHAR is its text, trailing commas and ``nan`` pass. Whatever the
lines hold, the rows it gives must be the rows each line gives alone on the record path,
or it gives none and the block goes the way it went before."""

import json
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from catalog.options import OptionBag
from runtime.formats.base import RecordError
from runtime.formats.json import JsonDecoder

from .helpers import fields

COLS = fields(
    "id BIGINT",
    "n INT",
    "t TINYINT",
    "s STRING",
    "c CHAR(4)",
    "ok BOOLEAN",
    "ts TIMESTAMP(3)",
    "lt TIMESTAMP_LTZ(6)",
)
NAMES = [f.name for f in COLS]

NUMBER_TEXTS = ["0", "-0", "7", "-12", "1.7", "1.0", "1.50", "1e2", "1E+2", "-0.0", "1e400", "2147483648",
                "9223372036854775807", "9223372036854775808", "18446744073709551616", "0.1", "1e-7"]  # fmt: skip
LITERALS = ["true", "false", "null", "NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "-nan", "infinity"]
STRINGS = ["", "x", "12", "-3", "1.5", "1e2", "true", "false", "nan", "NaN", "inf", "Infinity", "null", "[1]",
           "{}", " 7", "7 ", "+7", "0x1f", "٣", "TRUE", " true", "abcd", "é", "a\u0000b", "tab\there", 'q"', "\\",
           "2024-01-01 00:00:10.123", "2024-01-01T00:00:10.5", "2024-01-01T00:00:10Z", "2024-01-01 00:00:10.123456",
           "2024-01-01", "2024-1-1 0:0:0", " 2024-01-01 00:00:00", "2024-01-01 00:00:00+01", "2024-01-01 24:00:00",
           "2024-02-30 00:00:00", "0000-01-01 00:00:00", "2024-01-01 00:00:00.1234567", "2024-01-01 00:60:00",
           "1999-12-31 23:59:59", "2024-01-01 00:00:00,5"]  # fmt: skip


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


json_text = st.recursive(
    st.sampled_from(NUMBER_TEXTS + LITERALS)
    | st.integers().map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.sampled_from(STRINGS).map(_string)
    | st.text(max_size=6).map(_string)
    | st.text(max_size=3).map(lambda s: json.dumps(s)),  # escaped non-ASCII
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]")
        | st.lists(st.tuples(st.sampled_from(["a", "id"]), inner), max_size=2).map(
            lambda kv: "{" + ",".join(f'"{k}":{v}' for k, v in kv) + "}"
        )
    ),
    max_leaves=4,
)

# values the columns usually hold, so that many blocks are taken
GOOD = {
    "id": st.integers(-(2**63), 2**63 - 1).map(str),
    "n": st.integers(-(2**31), 2**31 - 1).map(str),
    "t": st.integers(-128, 127).map(str),
    "s": st.text(st.characters(codec="utf-8", exclude_characters='"\\\x00'), max_size=8).map(_string),
    "c": st.sampled_from(["abcd", "Baidu", "é", "x y"]).map(_string),
    "ok": st.sampled_from(["true", "false", "null"]),
    "ts": st.sampled_from(
        ["2024-01-01 00:00:10.123", "2024-01-01 00:00:10.456", "1999-12-31 23:59:59.999"]
    ).map(_string),
    "lt": st.sampled_from(["2024-01-01 00:00:10.123456", "2024-01-01T00:00:10.123456"]).map(_string),
}

SHAPES = ["good"] * 8 + ["odd value"] * 4 + [
    "missing", "extra key", "dup", "comma", "nan elsewhere", "spaces", "escaped key", "bad utf-8", "surrogate",
    "cr", "padded", "null", "upper key", "two", "made up",
]  # fmt: skip


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(SHAPES))
    keys = list(NAMES)
    if draw(st.booleans()):
        keys = draw(st.permutations(keys))
    if shape == "missing":
        keys.remove(draw(st.sampled_from(keys)))
    odd = draw(st.sampled_from(keys)) if shape == "odd value" else None
    items = [(k, draw(json_text) if k == odd else draw(GOOD[k])) for k in keys]
    if shape == "made up":  # a field shorter than a string's JSON, one longer and a trailing comma
        items = [(k, draw(st.sampled_from(["true", "12", "[]", "{}", "nan", "1.5", "NaN"])) if k == "s" else v)
                 for k, v in items]  # fmt: skip
        items = [(k, '"\\/"' if k == "c" else v) for k, v in items]
    if shape == "null":
        i = draw(st.integers(0, len(items) - 1))
        items[i] = (items[i][0], "null")
    if shape == "dup":
        items.append((keys[0], draw(GOOD[keys[0]])))
    if shape == "extra key":
        items.insert(draw(st.integers(0, len(items))), ("x", draw(json_text)))
    if shape == "nan elsewhere":
        items.append(("x", draw(st.sampled_from(["[nan]", "nan", "-inf", "[1,]", '{"a":1,}']))))
    colon, comma = ":", ","
    if shape == "spaces":
        colon, comma = draw(st.sampled_from([(": ", ","), (":", ", "), ("\t:", ",")]))
    key_text = {k: json.dumps(k) for k in NAMES} | {"x": '"x"'}
    if shape == "escaped key":
        key_text["id"] = '"\\u0069d"'
    if shape == "upper key":
        key_text["id"] = '"ID"'
    text = (
        "{"
        + comma.join(key_text[k] + colon + v for k, v in items)
        + ("," if shape in ("comma", "made up") else "")
        + "}"
    )
    line = text.encode()
    if shape == "bad utf-8" and b'"s":"' in line:
        line = line.replace(b'"s":"', b'"s":"\xff', 1)
    if shape == "surrogate" and b'"s":"' in line:
        line = line.replace(b'"s":"', b'"s":"\\ud800', 1)
    if shape == "cr":
        line += b"\r"
    if shape == "padded":
        line = b" " + line
    if shape == "two":
        line += b" " + line
    return line


def decoder() -> JsonDecoder:
    return JsonDecoder(COLS, OptionBag({}, "t"))


def record_path(d: JsonDecoder, records: list[bytes]) -> list[dict[str, Any]] | None:
    """Each line decoded alone by ``_one`` (Flink's semantics), None if one is bad."""
    try:
        rows = [d._one(r) for r in records]
    except (RecordError, ValueError, TypeError, ArithmeticError, UnicodeError):
        return None
    try:
        batch = d._rows_to_batch(rows)
    except (pa.ArrowException, UnicodeError):  # a lone surrogate in a string
        return None
    return d._fit_precision(batch).to_pylist()


def duckdb_rows(d: JsonDecoder, records: list[bytes], trailing_newline: bool) -> list[dict[str, Any]] | None:
    block = b"\n".join(records) + (b"\n" if trailing_newline else b"")
    newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    assert d._duck is not None
    batch = d._duck.read(block, len(records), newlines)
    return None if batch is None else d._fit_precision(batch).to_pylist()


@settings(max_examples=400, deadline=None)
@given(records=st.lists(lines(), min_size=1, max_size=12), trailing_newline=st.booleans())
@example(
    records=[b'{"id":1.7,"n":1,"t":1,"s":"x","c":"abcd","ok":true,"ts":null,"lt":null}'],
    trailing_newline=True,
)
@example(
    records=[b'{"id":1,"n":1,"t":1,"s":1.50,"c":"abcd","ok":true,"ts":null,"lt":null}'], trailing_newline=True
)
@example(
    records=[b'{"id":1,"n":1,"t":1,"s":true,"c":"\\/","ok":true,"ts":null,"lt":null,}'],
    trailing_newline=False,
)
def test_duckdb_rows_are_the_record_paths_rows_or_none(records: list[bytes], trailing_newline: bool) -> None:
    d = decoder()
    got = duckdb_rows(d, records, trailing_newline)
    if got is not None:
        assert got == record_path(d, records)


def test_plain_lines_of_every_kind_are_read_by_duckdb() -> None:
    """Not a vacuous check: lines as a producer writes them are taken."""
    records = [
        b'{"id":1,"n":-2,"t":3,"s":"Baidu","c":"abcd","ok":true,"ts":"2024-01-01 00:00:10.123","lt":"2024-01-01T00:00:10.5Z"}',
        b'{"lt":null,"ts":"2024-01-01 00:00:10.9876","ok":false,"c":"e\xc3\xa9","s":"a b","t":-128,"n":0,"id":-9}',
        b'{"id":9223372036854775807,"n":null,"t":null,"s":"","c":null,"ok":null,"ts":null,"lt":"1999-12-31 23:59:59"}',
    ]
    d = decoder()
    got = duckdb_rows(d, records, trailing_newline=True)
    assert got is not None and got == record_path(d, records)
    assert got[1]["ts"].microsecond == 987000  # TIMESTAMP(3) cuts the fraction as Flink does


def test_a_declined_block_is_read_as_before_and_duckdb_waits() -> None:
    d = decoder()
    odd = b'{"id":1.7,"n":1,"t":1,"s":"x","c":"abcd","ok":true,"ts":null,"lt":null}'
    good = b'{"id":2,"n":1,"t":1,"s":"x","c":"abcd","ok":true,"ts":null,"lt":null}'
    assert d.decode_block(odd + b"\n" + good + b"\n", 2) is None  # pyarrow refuses 1.7 too
    assert d._duck_wait == 1
    batch = d.decode_block(good + b"\n", 1)  # pyarrow's read while DuckDB waits
    assert batch is not None and batch.column("id").to_pylist() == [2]
    assert d._duck_wait == 0
    assert d.decode_values([odd, good]).batch.column("id").to_pylist() == [1, 2]  # the record path
