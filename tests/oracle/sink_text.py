"""What Flink's ``csv`` and ``json`` formats write: the cases, and Flink's recorded bytes.

Each case is a value of one type, written by Flink's filesystem sink as the row ``(id, v)``
of a table ``(id INT, v <type>)`` in a format with some options. A value is given as the
text that Flink casts to the type (``CAST('12.30' AS DECIMAL(5, 2))``), a string as it is,
bytes as a SQL literal. ``scripts/flink-oracle-sink-text``
runs every group of cases through Apache Flink (one job of one INSERT per group, at
parallelism 1, so the rows are written in order) and records the text of the file each
group became in ``sink_text.json`` beside this file; ``tests/unit/connectors/test_sink_text_oracle.py``
compares what sqlstream's encoders write with it, byte for byte. Standard library only: the
recorder imports this module in Flink's own environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().with_name("sink_text.json")

_DOUBLES = [
    "0.1", "1.0", "-1.5", "100.0", "12345.678", "0.001", "0.0009999", "1e-5", "1e7", "9999999.0",
    "123456789.0", "1e20", "1e21", "1e-300", "1.7976931348623157E308", "4.9E-324", "2e-3",
    "1e23", "2.82879384806159E17", "5.684341886080802E-14", "0.0", "-0.0", "NaN", "Infinity",
    "-Infinity",
]  # fmt: skip
_FLOATS = [
    "0.1", "1.1", "0.3", "-2.5", "1e20", "1e-5", "16777216", "123456.7", "1e7", "3.4028235E38",
    "1.4E-45", "0.0", "-0.0", "NaN", "-Infinity",
]  # fmt: skip
_DECIMALS: list[tuple[str, list[str]]] = [
    ("DECIMAL(5, 2)", ["12.30", "1.23", "0.00", "-0.00", "100.00", "-0.50", "999.99", "10.00", "0.10"]),
    ("DECIMAL(10, 0)", ["0", "100", "12345", "-100", "1000000000"]),
    ("DECIMAL(38, 18)", ["1.5", "0.000000000000000001", "123456789012.000000000000000000", "0.0001"]),
    ("DECIMAL(4, 3)", ["0.001", "0.100", "0.000", "-1.000"]),
    # below 1e-6 with more digits than Python's default Decimal context keeps (28)
    (
        "DECIMAL(38, 36)",
        ["0.000000123456789012345678901234567890", "-0.000000999999999999999999999999999999"],
    ),
]
_STRINGS = [
    "abc", "a b", "a,b", 'a"b', "#x", "a!b", "a+b", "a-b", "", " ", "a\tb", "a;b", "a\nb",
    "a\rb", "a\\b", "a'b", "é", "abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwxy",
    "x" * 40, "-5", "1.5",
]  # fmt: skip
_OTHERS: list[tuple[str, list[str]]] = [
    ("BOOLEAN", ["true", "false"]),
    ("INT", ["-5", "0", "2147483647"]),
    ("BIGINT", ["-9223372036854775808"]),
    ("DATE", ["2020-01-05", "0001-01-01"]),
    ("TIME(0)", ["12:34:56", "00:00:00"]),
    ("TIME(3)", ["12:34:56.789", "12:34:56.100", "12:34:56"]),
    ("TIMESTAMP(3)", ["2020-01-05 12:34:56.123", "2020-01-05 12:34:56.100", "2020-01-05 12:34:56"]),
    ("TIMESTAMP(6)", ["2020-01-05 12:34:56.123456", "2020-01-05 12:34:56.000001"]),
    ("TIMESTAMP_LTZ(3)", ["2020-01-05 12:34:56.123", "2020-01-05 12:34:56"]),
    ("BYTES", ["X'00FF10'", "X'FBFF'", "X''"]),
]

# The format options a group of cases is written with: (format, options, types it is for).
_ALL = None
VARIANTS: list[tuple[str, dict[str, str], list[str] | None]] = [
    ("csv", {}, _ALL),
    ("json", {}, _ALL),
    ("json", {"json.encode.decimal-as-plain-number": "true"}, [t for t, _ in _DECIMALS] + ["DOUBLE"]),
    ("json", {"json.timestamp-format.standard": "ISO-8601"}, ["TIMESTAMP(3)", "TIMESTAMP_LTZ(3)"]),
    ("debezium-json", {}, ["DECIMAL(5, 2)", "DOUBLE", "FLOAT"]),
    ("csv", {"csv.field-delimiter": ";"}, ["STRING", "DATE", "TIME(0)", "DECIMAL(5, 2)", "DOUBLE"]),
    ("csv", {"csv.field-delimiter": "|"}, ["STRING"]),
    ("csv", {"csv.field-delimiter": "\\t"}, ["STRING"]),
    ("csv", {"csv.quote-character": "'"}, ["STRING"]),
    ("csv", {"csv.escape-character": "\\"}, ["STRING"]),
    ("csv", {"csv.disable-quote-character": "true"}, ["STRING"]),
]

# Values nested in an ARRAY, ROW or MAP, written by the json format: each value ``v`` of the
# element type as ``[v, NULL]``, ``{"x": v}`` or ``{"k": v}``.
_NESTED_ELEMENTS = ["DOUBLE", "FLOAT", "DECIMAL(5, 2)", "DECIMAL(10, 0)", "TIMESTAMP(3)", "TIMESTAMP_LTZ(3)"]
_WRAPPERS = ["ARRAY<{}>", "ROW<x {}>", "MAP<STRING, {}>"]
NESTED_VARIANTS: list[tuple[str, dict[str, str], list[str]]] = [
    ("json", {}, _NESTED_ELEMENTS),
    ("json", {"json.encode.decimal-as-plain-number": "true"}, ["DOUBLE", "DECIMAL(5, 2)"]),
    ("json", {"json.timestamp-format.standard": "ISO-8601"}, ["TIMESTAMP(3)", "TIMESTAMP_LTZ(3)"]),
]


def nested_element(type_: str) -> tuple[str, str] | None:
    """``(wrapper, element type)`` of a nested case's type (``ARRAY<DOUBLE>``: ``ARRAY``,
    ``DOUBLE``), None for a type of its own."""
    for wrapper in _WRAPPERS:
        head, tail = wrapper.split("{}")
        if type_.startswith(head) and type_.endswith(tail):
            return head.split("<")[0], type_[len(head) : len(type_) - len(tail)]
    return None


def values() -> list[tuple[str, list[str]]]:
    """Every type and its values' literal texts (strings: the values themselves)."""
    return [
        ("DOUBLE", _DOUBLES),
        ("FLOAT", _FLOATS),
        *_DECIMALS,
        ("STRING", _STRINGS),
        *_OTHERS,
    ]


def groups() -> list[dict[str, Any]]:
    """One group per (variant, type): a table Flink writes, ``values[i]`` as the row with
    id ``i``."""
    out = []
    for fmt, options, types in VARIANTS:
        for type_, texts in values():
            if types is None or type_ in types:
                name = f"{fmt} {type_}" + "".join(f" {k}={v!r}" for k, v in options.items())
                out.append({"name": name, "format": fmt, "options": options, "type": type_, "values": texts})
    texts_of = dict(values())
    for fmt, options, elements in NESTED_VARIANTS:
        for element in elements:
            for wrapper in _WRAPPERS:
                type_ = wrapper.format(element)
                name = f"{fmt} {type_}" + "".join(f" {k}={v!r}" for k, v in options.items())
                group = {"name": name, "format": fmt, "options": options, "type": type_}
                out.append({**group, "values": texts_of[element]})
    return out


def select_sql(type_: str, source: str) -> str:
    """The query Flink writes a group with, from a table ``source`` (id INT, s STRING) of
    the values' texts. Cast at run time: a VALUES of casts is folded while planning, where
    Calcite refuses NaN; a BYTES literal is its own value."""
    if type_ == "STRING":
        return f"SELECT id, s FROM {source}"
    nested = nested_element(type_)
    if nested is not None:
        wrapper, element = nested
        v = f"CAST(s AS {element})"
        shape = {"ARRAY": f"ARRAY[{v}, CAST(NULL AS {element})]", "ROW": f"ROW({v})", "MAP": f"MAP['k', {v}]"}
        return f"SELECT id, {shape[wrapper]} FROM {source}"
    if type_ == "BYTES":
        return "VALUES " + ", ".join(
            f"({i}, CAST({t} AS BYTES))" for i, t in enumerate(dict(_OTHERS)["BYTES"])
        )
    return f"SELECT id, CAST(s AS {type_}) FROM {source}"


def create_table_sql(name: str, group: dict[str, Any], path: Path) -> str:
    """The DDL of the sink Flink writes a group to (a folder at ``path``)."""
    quoted = {k: v.replace("'", "''") for k, v in group["options"].items()}
    options = "".join(f", '{k}' = '{v}'" for k, v in quoted.items())
    return (
        f"CREATE TABLE {name} (id INT, v {group['type']}) WITH ('connector' = 'filesystem', "
        f"'path' = '{path}', 'format' = '{group['format']}'{options})"
    )


def load() -> dict[str, Any]:
    """The recorded answers: {"flink": version, "groups": [group + "text": the file]}."""
    return json.loads(FIXTURE.read_text())
