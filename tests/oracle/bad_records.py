"""Bad records in files of the ``json`` and ``csv`` formats: the cases, and Flink's answers.

Each case is one line of a file read by Flink's filesystem source as a table ``(id INT, v
<type>)`` (CSV by position, JSON by name), with and without ``<format>.ignore-parse-errors``.
``scripts/flink-oracle-bad-records`` runs every case through Apache Flink and writes what it
answered (the rows, or the job's error) to ``bad_records.json`` beside this file;
``tests/unit/connectors/test_bad_records_oracle.py`` compares sqlstream's decoders with those
answers. Standard library only: the recorder imports this module in Flink's own environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().with_name("bad_records.json")

# (type, values): CSV field texts, as they stand between the delimiters of ``id,<text>``.
_CSV: list[tuple[str, list[str]]] = [
    ("BOOLEAN", ["true", "TRUE", "tRuE", " true ", "false", "yes", "1", "0", "abc", '"true"', ""]),
    ("TINYINT", ["7", " 7 ", "128", "-129", "abc", "1.5", "0x10", ""]),
    ("SMALLINT", [" 12 ", "40000", "abc", ""]),
    ("INT", ["42", " 42 ", "+5", "abc", "2147483648", "1.0", "1e3", '"42"', "", '" "']),
    ("BIGINT", [" 9 ", "9223372036854775808", "x", ""]),
    ("FLOAT", ["1.5", " 2.5 ", "abc", "NaN", "inf", "1e50", ""]),
    ("DOUBLE", ["1.5", " 1.5 ", "abc", "Infinity", "1d", "0x1p3", ""]),
    ("DECIMAL(5, 2)", ["1.234", "1.5", " 1.5", "abc", "12345.6", "1e2", "NaN", ""]),
    ("DATE", ["2020-01-05", "2020-1-5", " 2020-01-05", "2020-13-01", "2020-02-30", "abc", "20200105", ""]),
    ("TIME", ["12:34:56", "12:34", "12:34:56.789", "25:00:00", " 12:34:56", "abc", ""]),
    ("TIME(3)", ["12:34:56.789", "12:34:56.7891", "12:34:56.1"]),
    (
        "TIMESTAMP(3)",
        [
            "2020-01-05 12:34:56",
            "2020-01-05 12:34:56.1234",
            "2020-01-05T12:34:56",
            "2020-01-05 12:34:56Z",
            "2020-01-05",
            " 2020-01-05 12:34:56",
            "2020-1-5 1:2:3",
            "abc",
            "2020-01-05 12:34:56.9999",
            "",
        ],
    ),
    (
        "TIMESTAMP_LTZ(3)",
        ["2020-01-05 12:34:56", "2020-01-05 12:34:56Z", "abc", "2020-01-05 12:34:56.1239Z", ""],
    ),
    ("STRING", ["abc", " a b ", ""]),
    ("BYTES", ["aGk=", "!!", "aGk", ""]),
]

# Lines whose shape is wrong (not one field's value): (type of v, line).
_CSV_LINES: list[tuple[str, str]] = [
    ("INT", "1"),
    ("INT", "1,2,3"),
    ("INT", "1,abc,3"),
    ("INT", "abc"),
    ("INT", '1,"2'),
    ("INT", '1,"2"x'),
    ("STRING", '1,"ab"c'),
    ("BOOLEAN", "x,yes"),
    ("INT", ","),
]

# (type, values): JSON value texts, as they stand in ``{"id": 1, "v": <text>}``.
_JSON: list[tuple[str, list[str]]] = [
    ("BOOLEAN", ["true", "false", '"true"', '"TRUE"', '" true"', '"yes"', '"abc"', "1", "0", '""', "{}"]),
    ("TINYINT", ["7", "128", '"7"', '"abc"']),
    ("SMALLINT", ["40000", '" 12 "']),
    ("INT", ["42", '"42"', '" 42 "', '"abc"', "1.5", "2147483648", "true", "{}", "[1]", '""']),
    ("BIGINT", ['"9"', "9223372036854775808", '"x"', "1e3"]),
    ("FLOAT", ["1.5", '"abc"', '"NaN"', "1e50"]),
    ("DOUBLE", ["1", '"1.5"', '"abc"', '"Infinity"', "true"]),
    ("DECIMAL(5, 2)", ["1.234", '"1.5"', '"abc"', "12345.6", "true"]),
    ("DATE", ['"2020-01-05"', '"2020-1-5"', '"2020-02-30"', '"abc"', "20200105"]),
    ("TIME", ['"12:34:56"', '"12:34"', '"25:00:00"', '"abc"', '"12:34:56.789"']),
    (
        "TIMESTAMP(3)",
        [
            '"2020-01-05 12:34:56"',
            '"2020-01-05T12:34:56"',
            '"2020-01-05T12:34:56Z"',
            '"2020-01-05 12:34:56Z"',
            '"2020-01-05"',
            '"abc"',
            "1578227696000",
            '"2020-01-05 12:34:56.1234"',
        ],
    ),
    (
        "TIMESTAMP_LTZ(3)",
        ['"2020-01-05 12:34:56Z"', '"2020-01-05T12:34:56Z"', '"2020-01-05 12:34:56"', '"abc"'],
    ),
    ("STRING", ["42", '{"a": 1}', "true", "[1, 2]"]),
    ("BYTES", ['"aGk="', '"!!"', "1"]),
    ("ARRAY<INT>", ["[1, 2]", '[1, "x"]', '"x"', "1"]),
    ("ROW<a INT>", ['{"a": 1}', '{"a": "x"}', "1", "[1]"]),
]

_JSON_LINES: list[tuple[str, str]] = [
    ("INT", '{"id": 1}'),
    ("INT", "{}"),
    ("INT", '{"id": 1, "v": 2, "w": 3}'),
    ("INT", '{"id": "x", "v": 1}'),
    ("INT", '{"id": 1, "v": 2'),
    ("INT", "[1, 2]"),
    ("INT", '"abc"'),
    ("INT", "42"),
    ("INT", "null"),
    ("INT", '{"id": 1, "v": 2} {"id": 2, "v": 3}'),
    ("INT", '{"id": 1, "v": 2}x'),
    ("INT", "abc"),
]


def cases() -> list[dict[str, Any]]:
    """Every case: a name, the format, the type of ``v`` and the file's one line."""
    out: list[dict[str, Any]] = []
    for type_, values in _CSV:
        out += [{"format": "csv", "type": type_, "line": f"1,{v}"} for v in values]
    out += [{"format": "csv", "type": t, "line": line} for t, line in _CSV_LINES]
    for type_, values in _JSON:
        out += [{"format": "json", "type": type_, "line": f'{{"id": 1, "v": {v}}}'} for v in values]
    out += [{"format": "json", "type": t, "line": line} for t, line in _JSON_LINES]
    for c in out:
        c["name"] = f"{c['format']} {c['type']} {c['line']!r}"
    return out


def create_table_sql(name: str, case: dict[str, Any], path: Path, ignore: bool) -> str:
    """The DDL Flink runs for a case (the file at ``path``)."""
    option = f", '{case['format']}.ignore-parse-errors' = 'true'" if ignore else ""
    return (
        f"CREATE TABLE {name} (id INT, v {case['type']}) WITH ('connector' = 'filesystem', "
        f"'path' = '{path}', 'format' = '{case['format']}'{option})"
    )


def load() -> dict[str, Any]:
    """The recorded answers: {"flink": version, "cases": [case + "strict"/"ignore" answers]}.
    An answer is {"rows": [[id, v], ...]} or {"error": {"class": ..., "message": ...}}."""
    return json.loads(FIXTURE.read_text())
