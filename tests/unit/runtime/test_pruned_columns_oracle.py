"""Correctness oracle for columns pruned below joins, ranks and unions: random bounded
inputs of three columns (duplicated and NULL keys, a string the queries mostly do not
read), queries that select a few of them, run through the Session in small batches at
parallelism 1 and 2; the applied changelog must equal DuckDB's batch answer. Rows that
differ only in a pruned column become equal in the operator's state: a retraction or a
rank must still count each of them."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.runtime.test_join_oracle import SETTINGS, applied, small_batches

keys = st.one_of(st.integers(0, 3), st.none())
rows = st.lists(st.tuples(keys, st.integers(0, 5), st.sampled_from(["a", "b", "c", None])), max_size=25)
TABLES = {"l": ("k", "v", "s"), "r": ("k", "w", "t")}

QUERIES = (
    "SELECT l.v, r.w FROM l JOIN r ON l.k = r.k",
    "SELECT l.v, r.w FROM l LEFT JOIN r ON l.k = r.k AND r.t <> 'a'",
    "SELECT l.s, r.k FROM l FULL JOIN r ON l.k = r.k AND l.v < r.w",
    "SELECT l.v FROM l JOIN r ON l.k = r.k WHERE r.t = 'b'",
    "SELECT v FROM l WHERE k IN (SELECT k FROM r WHERE w > 1)",
    "SELECT v FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.k = l.k AND r.t = l.s)",
    # over an updating input: -U/+U retract rows that the pruned state cannot tell apart
    "SELECT g.n, r.w FROM (SELECT k, COUNT(*) AS n, MAX(s) AS m FROM l GROUP BY k) g JOIN r ON g.k = r.k",
    # Top-N and deduplication that select fewer columns than they rank over
    "SELECT k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM l) "
    "WHERE rn <= 2",
    "SELECT v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn FROM l) WHERE rn = 1",
    "SELECT k, n FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY n % 2 ORDER BY k DESC NULLS LAST) AS rn "
    "FROM (SELECT k, COUNT(*) AS n, MIN(s) AS m FROM l GROUP BY k)) WHERE rn <= 2",
    # a union read at some of its positions, then a join and a count over it
    "SELECT k, COUNT(*) FROM (SELECT k, v, s FROM l UNION ALL SELECT k, w, t FROM r) GROUP BY k",
    "SELECT u.v, r.w FROM (SELECT k, v, s FROM l UNION ALL SELECT k, w, t FROM r WHERE w > 2) u "
    "JOIN r ON u.k = r.k",
)


def _write(root: Path, name: str, table: list[tuple[Any, ...]]) -> None:
    folder = root / name
    folder.mkdir()
    for part in range(2):
        lines = [json.dumps(dict(zip(TABLES[name], r))) + "\n" for r in table[part::2]]
        (folder / f"part-{part}.json").write_text("".join(lines))


def _arrow(name: str, table: list[tuple[Any, ...]]) -> pa.Table:
    k, n, s = TABLES[name]
    schema = pa.schema([(k, pa.int64()), (n, pa.int64()), (s, pa.string())])
    return pa.table({c: [r[i] for r in table] for i, c in enumerate(TABLES[name])}, schema=schema)


@settings(SETTINGS, max_examples=12)
@pytest.mark.parametrize("query", QUERIES)
@given(left=rows, right=rows, parallelism=st.sampled_from([1, 2]), batch=st.integers(1, 6))
def test_pruned_operators_equal_duckdb(
    query: str, left: list[tuple[Any, ...]], right: list[tuple[Any, ...]], parallelism: int, batch: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write(root, "l", left)
        _write(root, "r", right)
        s = small_batches(parallelism, batch)
        try:
            for name, (k, n, c) in TABLES.items():
                s.execute(
                    f"CREATE TABLE {name} ({k} BIGINT, {n} BIGINT, {c} STRING) WITH ('connector' = "
                    f"'filesystem', 'path' = '{root / name}', 'format' = 'json')"
                )
            log = list(s.sql(query).changelog())
        finally:
            s.close()
    con = duckdb.connect()
    con.register("l", _arrow("l", left))
    con.register("r", _arrow("r", right))
    assert applied(iter(log)) == Counter(con.sql(query).fetchall())
