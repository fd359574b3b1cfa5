"""A Calc that passes some columns on unchanged takes them from the batch, not through
DuckDB (runtime/operators/calc.py): its rows, in order, with their row kinds, must be those of
one DuckDB query computing the whole projection, for random inputs, filters and batch sizes."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.connectors import ChangelogMode
from planner.physical import ROW_KIND_COLUMN, CalcSpec, Field
from tests.conftest import examples
from tests.unit.runtime.helpers import PlanBuilder, rows, run

SETTINGS = settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELDS = [Field("k", "INT"), Field("s", "STRING"), Field("v", "BIGINT")]
# (output name, type, expression): plain columns (one twice, out of order) among computed ones
PROJECTIONS = [
    ("s", "STRING", '"s"'),
    ("up", "STRING", 'upper("s")'),
    ("k", "INT", '"k"'),
    ("v2", "BIGINT", '"v" * 2'),
    ("s_again", "STRING", '"s"'),
]
CONDITIONS = [None, '"k" % 3 = 0', '"v" > 0 OR "s" IS NULL', "false", "true"]


def _table(draw: Any, updating: bool) -> pa.Table:
    n = draw(st.integers(0, 40))
    ks = draw(st.lists(st.one_of(st.integers(-5, 5), st.none()), min_size=n, max_size=n))
    ss = draw(st.lists(st.one_of(st.text("abé", max_size=4), st.none()), min_size=n, max_size=n))
    vs = draw(st.lists(st.one_of(st.integers(-9, 9), st.none()), min_size=n, max_size=n))
    columns = {
        "k": pa.array(ks, pa.int32()),
        "s": pa.array(ss, pa.string()),
        "v": pa.array(vs, pa.int64()),
    }
    if updating:
        kinds = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        columns[ROW_KIND_COLUMN] = pa.array(kinds, pa.int8())
    return pa.table(columns)


@st.composite
def cases(draw: Any) -> tuple[pa.Table, list[int], str | None, int, bool]:
    updating = draw(st.booleans())
    data = _table(draw, updating)
    chosen = draw(st.lists(st.integers(0, len(PROJECTIONS) - 1), min_size=1, max_size=5, unique=True))
    return data, chosen, draw(st.sampled_from(CONDITIONS)), draw(st.integers(1, 9)), updating


@SETTINGS
@given(cases())
def test_plain_columns_taken_from_the_batch_match_one_query(case: tuple[Any, ...]) -> None:
    data, chosen, condition, batch_size, updating = case
    projections = [PROJECTIONS[i] for i in chosen]
    mode = ChangelogMode.ALL if updating else ChangelogMode.INSERT_ONLY
    b = PlanBuilder()
    src = b.values(data, FIELDS, batch_size=batch_size, changelog=mode)
    spec = CalcSpec(tuple((name, expr) for name, _, expr in projections), condition)
    calc = b.add("Calc", spec, [src], [Field(name, t) for name, t, _ in projections], 1, mode)
    b.collect(calc)
    out = run(b.plan())

    con = duckdb.connect()
    con.register("t", data)
    kind = f', "{ROW_KIND_COLUMN}"' if updating else ""
    where = f" WHERE {condition}" if condition else ""
    select = ", ".join(f'{expr} AS "{name}"' for name, _, expr in projections)
    expected = con.sql(f"SELECT {select}{kind} FROM t{where}").fetchall()
    names = [name for name, _, _ in projections] + ([ROW_KIND_COLUMN] if updating else [])
    assert rows(out, names) == expected
