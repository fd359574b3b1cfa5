"""sqlstream gives Apache Flink's own answers: values and result types recorded from
Flink 2.3.0 by scripts/flink-oracle (its fixtures, tests/oracle/fixtures/*.json), for
every case of the oracle corpus that sqlstream used to answer differently (integer
overflow, DECIMAL widening, casts, DAYOFWEEK, REGEXP_EXTRACT, GREATEST, UPPER('ß'), ...).

``flink_answers.json`` holds those cases and their input tables verbatim, with the header
naming the Flink that produced them. A case whose Flink answer is an error is met when
sqlstream refuses it at plan time (Flink's plan error) or fails it at run time.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from catalog.types import DataType, parse_type

ANSWERS = json.loads((Path(__file__).parent / "flink_answers.json").read_text(encoding="utf-8"))
CASES = ANSWERS["cases"]


def test_answers_were_recorded_by_flink() -> None:
    assert ANSWERS["flink"]["engine"] == "Apache Flink"
    assert ANSWERS["flink"]["apache-flink"].startswith("2.")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    s = sqlstream.connect()
    for name, table in ANSWERS["inputs"].items():
        path = tmp_path_factory.mktemp("in") / f"{name}.json"
        names = [c for c, _ in table["columns"]]
        path.write_text(
            "".join(json.dumps(dict(zip(names, row)), ensure_ascii=False) + "\n" for row in table["rows"]),
            encoding="utf-8",
        )
        columns = ", ".join(f"`{c}` {t}" for c, t in table["columns"])
        s.execute(
            f"CREATE TABLE {name} ({columns}) WITH "
            f"('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"
        )
    yield s
    s.close()


def _time(value: dt.time | dt.datetime) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    return text + (f".{value.microsecond:06d}".rstrip("0") if value.microsecond else "")


def canonical(value: Any, t: DataType) -> Any:
    """A value in the spelling the recorder gives Flink's Java values."""
    if value is None:
        return None
    if t.name in ("ARRAY", "MULTISET"):
        return [canonical(v, t.children[0]) for v in value]
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        suffix = "Z" if value.tzinfo is not None or t.name == "TIMESTAMP_LTZ" else ""
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return f"{value.date().isoformat()} {_time(value)}{suffix}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return _time(value)
    return str(value)


def _type(text: str) -> str:
    """Types compared as DESCRIBE shows them, less nullability and string lengths."""
    t = parse_type(text).with_nullable(True)
    if t.name in ("VARCHAR", "CHAR") and t.precision and t.precision > 100:
        return "STRING"
    return t.sql()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_flink_answer(session: sqlstream.Session, case: dict[str, Any]) -> None:
    session.execute(f"SET 'table.local-time-zone' = '{case.get('tz', 'UTC')}'")
    if "error" in case:  # Flink fails or refuses: so must we, never with a wrong answer
        with pytest.raises(Exception) as failure:
            session.sql(case["sql"]).fetchall()
        if case["error"]["stage"] == "plan":
            assert isinstance(failure.value, SqlStreamError)
        return
    handle = session.sql(case["sql"])
    schema = handle.plan.sinks[0].schema
    types = [parse_type(f.type) for f in schema]
    rows = [[canonical(v, t) for v, t in zip(row, types)] for row in handle.fetchall()]
    if "type" in case:  # an expression case: SELECT id, <expr> AS v
        assert _type(schema[1].type) == _type(case["type"])
        rows.sort(key=lambda r: (r[0] is None, r[0]))
    else:
        assert [_type(f.type) for f in schema] == [_type(t) for _, t in case["columns"]]
        expected = sorted(case["rows"], key=lambda r: json.dumps(r, sort_keys=True))
        rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
        assert rows == expected
        return
    assert rows == case["rows"]
