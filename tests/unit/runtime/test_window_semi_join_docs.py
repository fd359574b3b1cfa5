"""Flink's documented window semi and anti joins (the SEMI and ANTI examples of its
"Window Join" page), run through the Session over the documented tables: the same rows
come out, with their window columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sqlstream

LEFT = [("12:02", 1, "L1"), ("12:03", 3, "L3"), ("12:06", 2, "L2")]  # in time order
RIGHT = [("12:01", 2, "R2"), ("12:04", 3, "R3"), ("12:05", 4, "R4")]
TVF = "SELECT * FROM TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(row_time), INTERVAL '5' MINUTES))"
SAME_WINDOW = "L.window_start = R.window_start AND L.window_end = R.window_end"
QUERIES = {
    "IN": f"L.num IN (SELECT num FROM ({TVF.format(t='RightTable')}) R WHERE {SAME_WINDOW})",
    "EXISTS": (
        f"EXISTS (SELECT * FROM ({TVF.format(t='RightTable')}) R WHERE L.num = R.num AND {SAME_WINDOW})"
    ),
    "NOT IN": f"L.num NOT IN (SELECT num FROM ({TVF.format(t='RightTable')}) R WHERE {SAME_WINDOW})",
    "NOT EXISTS": (
        f"NOT EXISTS (SELECT * FROM ({TVF.format(t='RightTable')}) R WHERE L.num = R.num AND {SAME_WINDOW})"
    ),
}
L3 = ("12:03", 3, "L3", "12:00", "12:05", "12:04:59.999")
L1 = ("12:02", 1, "L1", "12:00", "12:05", "12:04:59.999")
L2 = ("12:06", 2, "L2", "12:05", "12:10", "12:09:59.999")
EXPECTED = {"IN": [L3], "EXISTS": [L3], "NOT IN": [L1, L2], "NOT EXISTS": [L1, L2]}


def _short(value: object) -> str:
    """A timestamp as the documentation prints it: 2020-04-15 12:04:59.999 -> 12:04:59.999."""
    text = str(value)[11:]
    return text[:5] if text.endswith(":00") or len(text) == 5 else text.rstrip("0")


@pytest.mark.parametrize("form", sorted(QUERIES))
def test_flinks_documented_window_semi_and_anti_joins(tmp_path: Path, form: str) -> None:
    for name, rows in (("LeftTable", LEFT), ("RightTable", RIGHT)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "rows.json").write_text(
            "".join(
                json.dumps({"row_time": f"2020-04-15 {t}:00", "num": n, "id": i}) + "\n" for t, n, i in rows
            )
        )
    with sqlstream.connect() as s:
        for name in ("LeftTable", "RightTable"):
            s.execute(
                f"CREATE TABLE {name} (row_time TIMESTAMP(3), num INT, id STRING, "
                "WATERMARK FOR row_time AS row_time - INTERVAL '1' SECOND) WITH ("
                f"'connector' = 'filesystem', 'path' = '{tmp_path / name}', 'format' = 'json')"
            )
        handle = s.sql(f"SELECT * FROM ({TVF.format(t='LeftTable')}) L WHERE {QUERIES[form]}")
        assert handle.columns == ["row_time", "num", "id", "window_start", "window_end", "window_time"]
        log = list(handle.changelog())
    assert {kind for kind, _ in log} == {0}
    got = sorted(tuple(_short(v) if i in (0, 3, 4, 5) else v for i, v in enumerate(row)) for _, row in log)
    assert got == sorted(EXPECTED[form])
