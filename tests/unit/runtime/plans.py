"""Plans shared by several runtime tests: source -> watermark -> aggregation -> collect."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pyarrow as pa

from catalog.connectors import ChangelogMode
from planner.physical import (
    AggCall,
    Edge,
    Field,
    GroupAggregateSpec,
    Partitioning,
    PhysicalPlan,
    WatermarkSpec,
    Window,
    WindowAggregateSpec,
)
from tests.unit.runtime.helpers import PlanBuilder

FIELDS = [
    Field("k", "INT"),
    Field("v", "BIGINT"),
    Field("d", "DOUBLE"),
    Field("ts", "TIMESTAMP(3)", "rowtime"),
]

AGGS = (
    AggCall("cnt", "count_star", None, "BIGINT NOT NULL"),
    AggCall("cnt_v", "count", '"v"', "BIGINT NOT NULL"),
    AggCall("sum_v", "sum", '"v"', "BIGINT"),
    AggCall("max_v", "max", '"v"', "BIGINT"),
    AggCall("min_d", "min", '"d"', "DOUBLE"),
    AggCall("avg_d", "avg", '"d"', "DOUBLE"),
    AggCall("big", "count_star", None, "BIGINT NOT NULL", filter='"v" > 50'),
)
AGG_SQL = (
    "count(*) AS cnt, count(v) AS cnt_v, sum(v) AS sum_v, max(v) AS max_v, min(d) AS min_d, "
    "avg(d) AS avg_d, count(*) FILTER (WHERE v > 50) AS big"
)
DISTINCT_AGGS = (
    AggCall("dv", "count", '"v"', "BIGINT NOT NULL", distinct=True),
    AggCall("sdv", "sum", '"v"', "BIGINT", distinct=True),
    AggCall("cnt", "count_star", None, "BIGINT NOT NULL"),
)
DISTINCT_SQL = "count(DISTINCT v) AS dv, sum(DISTINCT v) AS sdv, count(*) AS cnt"


def table(rows: Sequence[tuple[int | None, int | None, float | None, int]]) -> pa.Table:
    """Rows of (k, v, d, ts in epoch ms)."""
    return pa.table(
        {
            "k": pa.array([r[0] for r in rows], pa.int32()),
            "v": pa.array([r[1] for r in rows], pa.int64()),
            "d": pa.array([r[2] for r in rows], pa.float64()),
            "ts": pa.array([r[3] * 1000 for r in rows], pa.timestamp("us")),
        }
    )


def window_fields(aggs: Sequence[AggCall], keys: Sequence[str] = ("k",)) -> list[Field]:
    out = [f for f in FIELDS if f.name in keys]
    out += [
        Field("window_start", "TIMESTAMP(3) NOT NULL"),
        Field("window_end", "TIMESTAMP(3) NOT NULL"),
        Field("window_time", "TIMESTAMP(3) NOT NULL", "rowtime"),
    ]
    return out + [Field(a.name, a.type) for a in aggs]


def window_plan(
    data: pa.Table,
    window: Window,
    aggs: Sequence[AggCall] = AGGS,
    delay_ms: int = 0,
    parallelism: int = 1,
    batch_size: int = 7,
    keys: Sequence[str] = ("k",),
    config: dict[str, str] | None = None,
    two_phase: bool = False,
) -> PhysicalPlan:
    """``two_phase``: the source's subtasks run the aggregate's local phase before the
    exchange (``planner.agg_phase``), even on a FORWARD edge."""
    b = PlanBuilder(config)
    src = b.values(data, FIELDS, parallelism, batch_size=batch_size)
    wm = b.add(
        "Watermark",
        WatermarkSpec("ts", f'"ts" - INTERVAL {delay_ms} MILLISECOND', emit_interval_ms=0),
        [src],
        FIELDS,
        parallelism,
    )
    edge = Edge(wm.id, Partitioning.HASH, tuple(keys)) if parallelism > 1 and keys else Edge(wm.id)
    if parallelism > 1 and not keys:
        edge = Edge(wm.id, Partitioning.SINGLE)
    edge = dataclasses.replace(edge, local_aggregate=two_phase)
    agg = b.add(
        "WindowAggregate",
        WindowAggregateSpec(window, tuple(keys), tuple(aggs)),
        [edge],
        window_fields(aggs, keys),
        parallelism if keys else 1,
    )
    b.collect(agg)
    return b.plan()


def group_plan(
    data: pa.Table,
    aggs: Sequence[AggCall] = AGGS,
    parallelism: int = 1,
    batch_size: int = 7,
    keys: Sequence[str] = ("k",),
    columns: Sequence[str] = (),
) -> PhysicalPlan:
    """``columns``: what a hash exchange into the aggregate ships (``Edge.columns``)."""
    b = PlanBuilder()
    src = b.values(data, FIELDS, parallelism, batch_size=batch_size)
    edge = (
        Edge(src.id, Partitioning.HASH, tuple(keys), columns=tuple(columns))
        if parallelism > 1 and keys
        else Edge(src.id)
    )
    if parallelism > 1 and not keys:
        edge = Edge(src.id, Partitioning.SINGLE)
    fields = [f for f in FIELDS if f.name in keys] + [Field(a.name, a.type) for a in aggs]
    agg = b.add(
        "GroupAggregate",
        GroupAggregateSpec(tuple(keys), tuple(aggs)),
        [edge],
        fields,
        parallelism if keys else 1,
        ChangelogMode.ALL,
    )
    b.collect(agg)
    return b.plan()
