"""LPAD and RPAD count UTF-16 units, as Flink's (a character beyond U+FFFF is two): the
planner leaves rows without such a character to DuckDB's lpad/rpad and sends the others to
runtime.charsets.pad_utf16; on random text, pads and lengths the routed answer is that."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import parse_one

from catalog.types import INT, STRING
from planner.codegen import to_duckdb
from planner.dialect import Flink
from runtime import charsets
from tests.conftest import examples

TEXT = st.text("ab ß日😀\U0001d49c", max_size=6)  # two beyond U+FFFF


def _pad(call: str, rows: list[tuple[str | None, int | None, str | None]]) -> list[object]:
    types = {"s": STRING, "n": INT, "p": STRING}
    sql = to_duckdb(parse_one(call, read=Flink), types.__getitem__)
    con = duckdb.connect()
    charsets.install(con)
    con.execute("CREATE TABLE t (i INT, s VARCHAR, n INT, p VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(i, *row) for i, row in enumerate(rows)])
    return [r[0] for r in con.execute(f"SELECT {sql} FROM t ORDER BY i").fetchall()]


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), TEXT), st.integers(-1, 9), TEXT), min_size=1, max_size=8))
def test_pads_count_utf16_units(rows: list[tuple[str | None, int, str]]) -> None:
    for name, left in (("LPAD", True), ("RPAD", False)):
        expected = [charsets.pad_utf16(s, n, p, left) for s, n, p in rows]
        assert _pad(f"{name}(s, n, p)", rows) == expected  # a pad from a column
        for fill in ("x", "😀"):  # a constant pad, with and without such a character
            assert _pad(f"{name}(s, n, '{fill}')", rows) == [
                charsets.pad_utf16(s, n, fill, left) for s, n, _ in rows
            ]
