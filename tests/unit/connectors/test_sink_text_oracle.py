"""What the ``csv`` and ``json`` formats write, byte for byte as Apache Flink 2.3 writes it:
Flink's files are recorded in tests/oracle/sink_text.json (``scripts/flink-oracle-sink-text``
re-records them). A file sink writes ``encode_chunk``'s bytes, a Kafka sink one
``encode_records`` value per row: both must give Flink's text.

What the recording shows: a DECIMAL is BigDecimal's text after stripTrailingZeros (``12.3``,
``0``, ``1E+2``; with ``json.encode.decimal-as-plain-number`` the plain text with the
column's scale), a DOUBLE or FLOAT Java's Double.toString / Float.toString (``1.0E20``,
``9.999E-4``, ``-0.0``), and the CSV writer (Jackson) quotes a text value when it is longer
than 24 characters, holds a character below the highest of the delimiter, the quote and the
line feed (so a timestamp, for its space), or holds the escape character; numbers and
booleans never, and an empty string is an empty field. Inside an ARRAY, ROW or MAP the json
format writes a number or timestamp as it writes it at the top level (``[1.0E20,null]``)."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from catalog.options import OptionBag
from catalog.types import parse_type
from planner.physical import Field
from runtime.arrow_types import to_arrow
from runtime.formats import create_encoder
from tests.oracle import sink_text as st

RECORDED = st.load()
GROUPS: list[dict[str, Any]] = RECORDED["groups"]

# Where sqlstream knowingly writes otherwise than Flink 2.3 on Java 17: group name -> the
# values' indexes, and why.
_SHORTEST = (
    "Java 17's Double.toString writes a digit more than needed for some doubles (JDK-4511638, "
    "fixed in Java 19); we write the shortest digits, as Java 19 and later do"
)
_DOUBLE_ANOMALIES = {"1e23", "2.82879384806159E17", "5.684341886080802E-14"}
KNOWN: dict[str, tuple[set[str], str]] = {
    g["name"]: (_DOUBLE_ANOMALIES, _SHORTEST)
    for g in GROUPS
    if g["type"] == "DOUBLE" or (st.nested_element(g["type"]) or ("", ""))[1] == "DOUBLE"
}


def value(type_: str, text: str) -> Any:
    """The value Flink casts ``text`` to (see ``st.select_sql``), as Python has it; in an
    ARRAY, ROW or MAP as ``st.select_sql`` puts it there."""
    nested = st.nested_element(type_)
    if nested is not None:
        wrapper, element = nested
        v = value(element, text)
        return {"ARRAY": [v, None], "ROW": {"x": v}, "MAP": [("k", v)]}[wrapper]
    t = parse_type(type_)
    if t.name == "STRING":
        return text
    if t.name == "BYTES":
        return bytes.fromhex(text[2:-1])
    if t.name in ("DOUBLE", "FLOAT"):
        return float(np.float32(text)) if t.name == "FLOAT" else float(text)
    if t.name == "DECIMAL":
        with decimal.localcontext(prec=40):
            return decimal.Decimal(text).quantize(decimal.Decimal(1).scaleb(-(t.scale or 0)))
    if t.name in ("INT", "BIGINT"):
        return int(text)
    if t.name == "BOOLEAN":
        return text == "true"
    if t.name == "DATE":
        return dt.date.fromisoformat(text)
    if t.name == "TIME":
        return dt.time.fromisoformat(text)
    stamp = dt.datetime.fromisoformat(text)
    return stamp.replace(tzinfo=dt.UTC) if t.name == "TIMESTAMP_LTZ" else stamp


def batch(group: dict[str, Any], keep: list[int]) -> pa.RecordBatch:
    t = parse_type(group["type"])
    values = [value(group["type"], group["values"][i]) for i in keep]
    return pa.RecordBatch.from_arrays(
        [pa.array(keep, pa.int32()), pa.array(values, to_arrow(t))], names=["id", "v"]
    )


def flink_lines(group: dict[str, Any]) -> list[str]:
    """Flink's file as one text per row: a quoted CSV value may hold a line break, so a row
    ends where the next id starts a line (JSON has none in its strings)."""
    if group["format"] != "csv":
        return group["text"].removesuffix("\n").split("\n")
    delimiter = group["options"].get("csv.field-delimiter", ",").replace("\\t", "\t")
    text, out = group["text"], []
    for i in range(1, len(group["values"])):
        end = text.find(f"\n{i}{delimiter}")
        out.append(text[:end])
        text = text[end + 1 :]
    return [*out, text.removesuffix("\n")]


@pytest.mark.parametrize("group", GROUPS, ids=[g["name"] for g in GROUPS])
def test_writes_what_flink_writes(group: dict[str, Any]) -> None:
    assert RECORDED["flink"].startswith("2.3")
    known, _ = KNOWN.get(group["name"], (set(), ""))
    keep = [i for i, text in enumerate(group["values"]) if text not in known]
    lines = flink_lines(group)
    expected = [lines[i] for i in keep]
    fields = (Field("id", "INT"), Field("v", group["type"]))
    enc = create_encoder(group["format"], fields, OptionBag(dict(group["options"]), "t"))
    b = batch(group, keep)
    assert [r.decode() for r in enc.encode_records(b)] == expected  # Kafka's values
    assert enc.encode_chunk(b) == "".join(line + "\n" for line in expected).encode()  # a file's


@pytest.mark.parametrize("group", [g for g in GROUPS if g["name"] in KNOWN], ids=lambda g: g["name"])
def test_known_differences_are_still_differences(group: dict[str, Any]) -> None:
    """Each known difference is one: were Flink's text ours, it would not be listed."""
    known, _ = KNOWN[group["name"]]
    keep = [i for i, text in enumerate(group["values"]) if text in known]
    lines = flink_lines(group)
    fields = (Field("id", "INT"), Field("v", group["type"]))
    enc = create_encoder(group["format"], fields, OptionBag(dict(group["options"]), "t"))
    ours = [r.decode() for r in enc.encode_records(batch(group, keep))]
    assert all(o != lines[i] for o, i in zip(ours, keep))


# Flink 2.3's files for INSERT INTO <sink> SELECT id, CAST(x * 0.001 AS DECIMAL(3, 3)),
# CAST(x * 0.001 AS DECIMAL(1, 1)) FROM (VALUES (1, 500), (2, -50), (3, 0)) AS t(id, x), run
# with scripts/flink-python (the recorder above reads its values as text, and Flink's CAST of
# '0.500' to DECIMAL(3, 3) fails: 'Overflow').
_ALL_FRACTION = {
    ("json", False): ['{"id":1,"v":0.5,"w":0.5}', '{"id":2,"v":-0.05,"w":-0.1}', '{"id":3,"v":0,"w":0}'],
    ("csv", False): ["1,0.5,0.5", "2,-0.05,-0.1", "3,0,0"],
    ("json", True): [
        '{"id":1,"v":0.500,"w":0.5}',
        '{"id":2,"v":-0.050,"w":-0.1}',
        '{"id":3,"v":0.000,"w":0.0}',
    ],
}


@pytest.mark.parametrize(("format_", "plain"), list(_ALL_FRACTION))
def test_a_decimal_of_only_fraction_digits_has_its_zero(format_: str, plain: bool) -> None:
    """DuckDB writes a DECIMAL(p, p) as '.500': the json and csv sinks wrote that."""
    fields = (Field("id", "INT"), Field("v", "DECIMAL(3, 3)"), Field("w", "DECIMAL(1, 1)"))
    options = {"json.encode.decimal-as-plain-number": "true"} if plain else {}
    enc = create_encoder(format_, fields, OptionBag(options, "t"))
    b = pa.record_batch(
        [
            pa.array([1, 2, 3], pa.int32()),
            pa.array([decimal.Decimal(v) for v in ("0.500", "-0.050", "0.000")], pa.decimal128(3, 3)),
            pa.array([decimal.Decimal(v) for v in ("0.5", "-0.1", "0.0")], pa.decimal128(1, 1)),
        ],
        ["id", "v", "w"],
    )
    assert [r.decode() for r in enc.encode_records(b)] == _ALL_FRACTION[(format_, plain)]
