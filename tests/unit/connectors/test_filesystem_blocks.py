"""The file source's fast path reads a whole chunk of JSON lines at once, from a view of
its read buffer; a chunk it cannot read so goes line by line. Either way a user must get
what each line gives when decoded on its own: the same rows and values, the same bad
records (skipped and counted here), whatever mix of good and odd lines the file holds."""

import json
import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from catalog.options import OptionBag
from runtime.connectors.filesystem import source as source_module
from runtime.formats.json import JsonDecoder

from .helpers import fields, read_all
from .test_filesystem import source

COLS = fields("id BIGINT", "name STRING", "ts TIMESTAMP(3)", "x DOUBLE", "ok BOOLEAN")
IGNORE = {"json.ignore-parse-errors": "true"}

# values a producer writes for each column: good ones, and odd ones
GOOD = {
    "id": st.integers(-(2**63), 2**63 - 1).map(str),
    "name": st.text(max_size=8).map(json.dumps),
    "ts": st.sampled_from(["2024-01-01 00:00:10.123", "2024-01-01T00:00:10.5", "1999-12-31 23:59:59"]).map(
        json.dumps
    ),
    "x": st.floats(allow_nan=False, allow_infinity=False).map(repr),
    "ok": st.sampled_from(["true", "false", "null"]),
}
ODD = {
    "id": st.sampled_from(
        ["1.7", "1.0", "1e2", "true", '"12"', '" 7 "', "18446744073709551615", "-0", "null"]
    ),
    "name": st.sampled_from(["12", "1.50", "true", "null", "[1]", '{"a":1}', '"a\\u00e9\\n"']),
    "ts": st.sampled_from(
        [
            "2024-01-01T00:00:10Z",
            "2024-01-01T00:00:10.123+02:00",
            "2024-01-01",
            "2024-02-30 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 00:00:10.123456",
            "not a time",
        ]
    ).map(json.dumps)
    | st.sampled_from(["12345", "null"]),
    "x": st.sampled_from(
        ["1", "-0.0", '"1.5"', "NaN", "1e400", "true", "0.1000000000000000055511151231257827"]
    ),
    "ok": st.sampled_from(['"true"', "1"]),
}
ODD_LINES = ["dup", "comma", "array", "two", "blank", "nan", "spaces", "split", "padded"]


@st.composite
def lines(draw: st.DrawFn) -> str:
    """One line: mostly an object of good values of some of the columns, in any order;
    else one with an odd value, a line that is not one object, or a blank one."""
    kind = draw(st.sampled_from(["good"] * 12 + ["odd value"] * 3 + ODD_LINES))
    if kind == "array":
        return "[1, 2]"
    if kind == "blank":
        return ""
    if kind == "spaces":  # not a record; beside a line of two objects, as many rows as lines
        return "  \t"
    keys = draw(st.lists(st.sampled_from(list(GOOD)), unique=True, max_size=5))
    odd = draw(st.sampled_from(keys)) if kind == "odd value" and keys else None
    items = [f'"{k}":{draw(ODD[k] if k == odd else GOOD[k])}' for k in keys]
    if kind == "dup" and keys:
        items.append(f'"{keys[0]}":{draw(GOOD[keys[0]])}')
    if kind == "nan":
        items.append('"x":nan')
    text = "{" + ",".join(items) + ("," if kind == "comma" and items else "") + "}"
    if kind == "split":  # an object over two lines: each line alone is a bad record
        return text.replace(",", ",\n", 1) if "," in text else "{\n}"
    if kind == "padded":  # spaces around one object: a good record
        return " " + text + "\t"
    return text + " " + text if kind == "two" else text


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


def one_by_one(records: list[str]) -> tuple[list[dict[str, Any]], int]:
    """What each line gives when decoded alone (blank lines are not records)."""
    decoder = JsonDecoder(COLS, OptionBag(dict(IGNORE), "t"))
    rows: list[dict[str, Any]] = []
    bad = 0
    for line in "\n".join(records).split("\n"):
        if not line.strip():
            continue
        decoded = decoder.decode([line.encode()])
        rows += decoded.batch.to_pylist()
        bad += decoded.skipped
    return rows, bad


@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(lines(), max_size=60),
    max_rows=st.integers(1, 70),
    read_block=st.sampled_from([16, 1 << 20]),
)
@example(records=['{"id":1} {"id":2}', "  ", '{"id":3}'], max_rows=64, read_block=1 << 20)
@example(records=['{"id":1,\n"name":"a"}', '{"id":2}{"id":3}'], max_rows=64, read_block=1 << 20)
@example(records=[' {"id":1} {"id":2}\t', "\t  \t", '      {"id":3}  '], max_rows=64, read_block=1 << 20)
def test_a_chunk_read_at_once_gives_what_each_line_gives_alone(
    tmp_path_factory: pytest.TempPathFactory, records: list[str], max_rows: int, read_block: int
) -> None:
    f = tmp_path_factory.mktemp("b") / "a.json"
    f.write_text("".join(r + "\n" for r in records))
    saved = source_module._READ_BLOCK
    source_module._READ_BLOCK = read_block
    try:
        src = source(f, "json", cols=COLS, **IGNORE)
        table = read_all(src, max_rows=max_rows)
    finally:
        source_module._READ_BLOCK = saved
    expected, bad = one_by_one(records)
    assert comparable(table.to_pylist() if table.num_rows else []) == comparable(expected)
    assert src.metrics.bad_records_skipped == bad


@settings(max_examples=150, deadline=None)
@given(values=st.lists(lines(), max_size=40))
@example(values=['{"id":1} {"id":2}', "", '{"id":3}'])
@example(values=['{"id":1}{"id":2}', " "])
def test_values_decoded_at_once_give_what_each_value_gives_alone(values: list[str]) -> None:
    """A Kafka fetch's values are tried as one block of lines, as a file's chunk is."""
    decoder = JsonDecoder(COLS, OptionBag(dict(IGNORE), "t"))
    decoded = decoder.decode_values([v.encode() for v in values])
    expected: list[dict[str, Any]] = []
    bad = 0
    for v in values:
        alone = JsonDecoder(COLS, OptionBag(dict(IGNORE), "t")).decode([v.encode()])
        expected += alone.batch.to_pylist()
        bad += alone.skipped
    assert comparable(decoded.batch.to_pylist()) == comparable(expected)
    assert decoded.skipped == bad
