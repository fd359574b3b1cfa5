"""DATE_FORMAT of a TIMESTAMP column with a pattern of whole days, hours, minutes or seconds
is computed by the Calc once per distinct grain of a batch (runtime/operators/grained.py):
its text for every row, NULLs, filtered rows and timestamps before 1970 or outside Flink's
years included, must be what one DuckDB query of the whole projection gives."""

from __future__ import annotations

import asyncio
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import planner
from catalog import Catalog
from planner.physical import INPUT_RELATION, CalcSpec
from runtime.connectors.base import SubtaskContext
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext
from runtime.operators.calc import CalcOp
from runtime.operators.grained import Grained, grain_us
from tests.conftest import examples

SETTINGS = settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
DDL = "CREATE TABLE t (k INT, ts TIMESTAMP(3), s STRING) WITH ('connector' = 'datagen')"
# (pattern, formatted per grain): java.time letters as the planner turns them into strftime
PATTERNS = [
    ("yyyy-MM-dd", True),
    ("HH:mm", True),
    ("yyyy-MM-dd HH:mm:ss", True),
    ("MMM d, ''yy 'at' hh a", False),  # 'd' and 'hh' are computed pieces: not one STRFTIME
    ("EEEE dd MMMM yyyy", True),
    ("HH:mm:ss.SSS", False),  # a fraction of a second: row by row
    ("yy/MM", True),
]
CONDITIONS = ["", " WHERE k % 3 = 0", " WHERE k > 0 OR s IS NULL"]
DAY_MS = 86_400_000
FIRST_MS, END_MS = -62_135_596_800_000, 253_402_300_800_000  # years 0001 to 9999


def _calc(query: str, ddl: str = DDL) -> CalcOp:
    cat = Catalog()
    for stmt in planner.parse(ddl):
        cat.create(planner.create_table(stmt, cat))
    plan = planner.plan(query, cat, {})
    node = next(n for n in plan.nodes if isinstance(n.spec, CalcSpec))
    inputs = tuple(plan.node(e.source) for e in node.inputs)
    ctx = OperatorContext(
        SubtaskContext("t", node.id, "op", 0, 1), node, plan, OperatorMetrics(node.id, 0), None, inputs
    )
    op = CalcOp(ctx)
    asyncio.run(op.open())
    return op


def _timestamps(draw: Any, n: int) -> list[int | None]:
    day = draw(st.integers(-800_000, 2_900_000))  # days since 1970: years ~-220 to ~9900
    near = st.integers(day * DAY_MS - 3_600_000, day * DAY_MS + 3 * DAY_MS)  # a few days, their edges
    far = st.sampled_from([FIRST_MS, FIRST_MS - 1, END_MS - 1, END_MS, -1, 0, DAY_MS - 1])
    value = st.one_of(near, near, near, far, st.none())
    return draw(st.lists(value, min_size=n, max_size=n))


@st.composite
def cases(draw: Any) -> tuple[pa.RecordBatch, list[tuple[str, bool]], str]:
    n = draw(st.integers(0, 60))
    unit = draw(st.sampled_from(["ms", "us"]))
    stamps = [None if v is None else v * (1000 if unit == "us" else 1) for v in _timestamps(draw, n)]
    batch = pa.RecordBatch.from_pydict(
        {
            "k": pa.array(draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), pa.int32()),
            "ts": pa.array(stamps, pa.timestamp(unit)),
            "s": pa.array(
                draw(st.lists(st.sampled_from(["a", "é", None]), min_size=n, max_size=n)), pa.string()
            ),
        }
    )
    if n > 2 and draw(st.booleans()):  # a slice: the arrays start at an offset
        batch = batch.slice(1, n - 2)
    chosen = draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3, unique=True))
    return batch, chosen, draw(st.sampled_from(CONDITIONS))


@SETTINGS
@given(cases())
def test_timestamps_formatted_per_grain_match_one_query(case: tuple[Any, ...]) -> None:
    batch, patterns, condition = case
    formats = ", ".join(
        f"DATE_FORMAT(ts, '{p.replace(chr(39), chr(39) * 2)}') AS f{i}" for i, (p, _) in enumerate(patterns)
    )
    op = _calc(f"SELECT s, {formats}, k FROM t{condition}")
    grained = [p for p in op.passed or [] if isinstance(p, Grained)]
    assert len(grained) == sum(per_grain for _, per_grain in patterns)
    out = asyncio.run(op.process_batch(batch, 0))

    spec = op.node.spec
    assert isinstance(spec, CalcSpec)
    con = duckdb.connect()
    con.register(INPUT_RELATION, batch)
    select = ", ".join(f'{expr} AS "{name}"' for name, expr in spec.projections)
    where = f" WHERE {spec.condition}" if spec.condition else ""
    expected = con.sql(f"SELECT {select} FROM {INPUT_RELATION}{where}").fetchall()
    got = [tuple(r.values()) for b in out for r in b.to_pylist()]
    assert got == expected
    asyncio.run(op.close())


@pytest.mark.parametrize(
    ("fmt", "grain"),
    [
        ("%Y-%m-%d", 86_400_000_000),
        ("%H", 3_600_000_000),
        ("%d %H:%M", 60_000_000),
        ("%S", 1_000_000),
        ("%%Y %Y", 86_400_000_000),
        ("%Y %g", None),  # milliseconds
        ("%Y %z", None),  # a zone
        ("100%%", None),  # no field: a literal, not worth a grain
    ],
)
def test_grain_of_a_format(fmt: str, grain: int | None) -> None:
    assert grain_us(fmt) == grain


def test_an_ltz_column_is_formatted_row_by_row() -> None:
    """A TIMESTAMP_LTZ is formatted in the session's zone: not one STRFTIME of the column."""
    op = _calc(
        "SELECT DATE_FORMAT(ts, 'yyyy-MM-dd') AS d, s FROM t", DDL.replace("TIMESTAMP(3)", "TIMESTAMP_LTZ(3)")
    )
    assert not any(isinstance(p, Grained) for p in op.passed or [])
    asyncio.run(op.close())
