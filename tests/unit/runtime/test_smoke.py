import datetime as dt

import pyarrow as pa

from planner.physical import CalcSpec, Field
from tests.unit.runtime.helpers import PlanBuilder, rows, run


def test_calc_projection_and_filter() -> None:
    b = PlanBuilder()
    t = pa.table({"k": pa.array([1, 2, 3, 4], pa.int32()), "v": pa.array([10, 20, 30, 40], pa.int64())})
    src = b.values(t, [Field("k", "INT"), Field("v", "BIGINT")])
    calc = b.add(
        "Calc",
        CalcSpec((("k", '"k"'), ("w", '"v" * 2')), condition='"k" > 1'),
        [src],
        [Field("k", "INT"), Field("w", "BIGINT")],
    )
    b.collect(calc)
    out = run(b.plan())
    assert rows(out) == [(2, 40), (3, 60), (4, 80)]
    assert out is not None and out.schema.field("k").type == pa.int32()



def test_values_rows_option() -> None:
    from planner.physical import SourceSpec

    b = PlanBuilder()
    fields = [Field("k", "INT"), Field("ts", "TIMESTAMP(3)")]
    spec = SourceSpec(
        "v", "values", {"rows": '[[1, "2020-01-01 00:00:01"], [2, null]]'}, tuple(fields), bounded=True
    )
    src = b.add("Source", spec, (), fields)
    b.collect(src)
    assert rows(run(b.plan())) == [(1, dt.datetime(2020, 1, 1, 0, 0, 1)), (2, None)]
