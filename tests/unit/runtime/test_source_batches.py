"""How many rows a source gathers into one batch when a hash exchange is behind it
(``runtime/operators/source.py``): the exchange cuts every batch into one part per
consumer subtask, and each part is an operator call with a fixed cost, so a source left
at the default batch size gathers a batch per consumer; a bounded source, whose rows are
there to be read, gathers four; a size the user set is kept."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pyarrow as pa
import pytest

import planner
from catalog import Catalog
from catalog.config import IntKey
from catalog.connectors import ChangelogMode
from planner.physical import AggCall, Edge, Field, GroupAggregateSpec, Partitioning, WatermarkSpec
from runtime.job import Job
from runtime.operators import source
from tests.unit.runtime.helpers import PlanBuilder, apply_changelog, collect_async

FIELDS = [Field("k", "INT"), Field("v", "BIGINT")]
ROWS = 400


def group_plan(parallelism: int, config: dict[str, str], bounded: bool = False) -> tuple[PlanBuilder, Any]:
    """VALUES (400 rows, 10 a poll) -> GroupAggregate(k, COUNT(*)) -> collect; the source
    taken for an unbounded one unless ``bounded`` (its reader ends all the same)."""
    data = pa.table({"k": pa.array([i % 7 for i in range(ROWS)], pa.int32()), "v": list(range(ROWS))})
    # the source holds a batch until it is full (or its input ends), not for a time
    b = PlanBuilder({**config, "sqlstream.runtime.linger": "10 s"})
    src = b.values(data, FIELDS, parallelism, batch_size=10)
    b.nodes[-1] = src = dataclasses.replace(src, spec=dataclasses.replace(src.spec, bounded=bounded))
    edge = Edge(src.id, Partitioning.HASH, ("k",)) if parallelism > 1 else Edge(src.id)
    agg = b.add(
        "GroupAggregate",
        GroupAggregateSpec(("k",), (AggCall("cnt", "count_star", None, "BIGINT NOT NULL"),)),
        [edge],
        [Field("k", "INT"), Field("cnt", "BIGINT")],
        parallelism,
        ChangelogMode.ALL,
    )
    b.collect(agg)
    return b, src


def run_plan(b: PlanBuilder, src: Any) -> tuple[pa.Table | None, list[int]]:
    """Run the plan built: its output, and the batches each subtask of the source ``src`` sent."""
    plan = b.plan()

    async def go() -> tuple[pa.Table | None, dict[str, Any]]:
        job = Job(plan)
        out = await collect_async(plan, job)
        return out, job.metrics()

    out, metrics = asyncio.run(go())
    node = next(op for op in metrics["operators"] if op["id"] == src.id)
    return out, [s["batches_out"] for s in node["subtasks"]]


def run_job(
    parallelism: int, config: dict[str, str], bounded: bool = False
) -> tuple[dict[Any, Any], list[int]]:
    """The applied result, and the batches each source subtask sent."""
    out, batches = run_plan(*group_plan(parallelism, config, bounded))
    return apply_changelog(out, 1), batches


@pytest.fixture
def default_of_20(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default batch size, 20 rows instead of 65536, so that a small input shows it."""
    monkeypatch.setattr(source, "BATCH_SIZE", IntKey("sqlstream.runtime.batch-size", "20", "", minimum=1))


def expected() -> dict[Any, Any]:
    return {(k,): (k, sum(1 for i in range(ROWS) if i % 7 == k)) for k in range(7)}


@pytest.mark.usefixtures("default_of_20")
def test_a_source_hashed_to_two_subtasks_gathers_a_batch_for_each() -> None:
    result, batches = run_job(2, {})
    assert result == expected()
    assert batches == [5, 5]  # 200 rows each, in batches of 2 x 20


@pytest.mark.usefixtures("default_of_20")
def test_a_batch_size_other_than_the_default_is_kept() -> None:
    result, batches = run_job(2, {"sqlstream.runtime.batch-size": "25"})
    assert result == expected()
    assert batches == [8, 8]  # 200 rows each, in batches of 25


@pytest.mark.usefixtures("default_of_20")
def test_without_an_exchange_the_batch_stays_the_default() -> None:
    result, batches = run_job(1, {})
    assert result == expected()
    assert batches == [20]


@pytest.mark.usefixtures("default_of_20")
@pytest.mark.parametrize(("parallelism", "sent"), [(1, [5]), (2, [3, 3])])
def test_a_bounded_source_gathers_four_batches_whatever_the_exchange(
    parallelism: int, sent: list[int]
) -> None:
    result, batches = run_job(parallelism, {}, bounded=True)
    assert result == expected()
    assert batches == sent  # 400 rows in batches of 4 x 20 (at parallelism 2: 200 each)


@pytest.mark.usefixtures("default_of_20")
def test_a_bounded_source_keeps_a_batch_size_other_than_the_default() -> None:
    result, batches = run_job(1, {"sqlstream.runtime.batch-size": "25"}, bounded=True)
    assert result == expected()
    assert batches == [16]


@pytest.mark.usefixtures("default_of_20")
@pytest.mark.parametrize("bounded", [True, False])
def test_a_bounded_source_into_stateless_operators_alone_gathers_four_batches(bounded: bool) -> None:
    """A bounded source whose rows go straight to the results (no state on the way) pays
    each batch's fixed cost along the way a quarter as often: 4 x 20 rows a batch; a
    stream's keeps the default, 20."""
    data = pa.table({"k": pa.array([i % 7 for i in range(ROWS)], pa.int32()), "v": list(range(ROWS))})
    b = PlanBuilder({"sqlstream.runtime.linger": "10 s"})
    src = b.values(data, FIELDS, 1, batch_size=10)
    b.nodes[-1] = src = dataclasses.replace(src, spec=dataclasses.replace(src.spec, bounded=bounded))
    b.collect(src)
    assert not source.per_call_behind(b.plan(), src.id)
    assert source.only_stateless_behind(b.plan(), src.id)
    assert run_plan(b, src)[1] == ([5] if bounded else [20])


@pytest.mark.parametrize(
    ("query", "whole"),
    [
        ("SELECT v * 2 AS w FROM t WHERE v > 3", True),
        ("SELECT v FROM t UNION ALL SELECT v + 1 FROM t", True),
        ("SELECT COUNT(*) AS c FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
         "GROUP BY window_start, window_end", True),
        ("SELECT v, COUNT(*) AS c FROM t GROUP BY v", True),
        ("SELECT a.v FROM t a JOIN t b ON a.v = b.v", False),
        ("SELECT v, SUM(v) OVER (PARTITION BY v ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) "
         "AS s FROM t", False),
    ],
)  # fmt: skip
def test_which_operators_behind_a_bounded_source_have_it_read_whole(query: str, whole: bool) -> None:
    """Stateless operators alone, or an aggregate (windowed or not) or a Top-N, have a
    bounded source gather four chunks a batch; a regular join with no aggregate keeps the
    default: a 262,144-row batch made the two joins of Nexmark q23 25-35% dearer."""
    cat = Catalog()
    for stmt in planner.parse(
        "CREATE TABLE t (v INT, ts AS TO_TIMESTAMP_LTZ(v, 3), WATERMARK FOR ts AS ts) WITH ("
        "'connector' = 'datagen', 'number-of-rows' = '10')"
    ):
        cat.create(planner.create_table(stmt, cat))
    plan = planner.plan(query, cat, {})
    reads = [
        source.per_call_behind(plan, s.id) or source.only_stateless_behind(plan, s.id) for s in plan.sources
    ]
    assert reads == [whole] * len(plan.sources)


def test_the_fan_out_is_read_through_forward_edges_only() -> None:
    b, src = group_plan(2, {})
    plan = b.plan()
    assert source.hash_fan_out(plan, src.id) == 2
    agg = plan.nodes[1]
    assert source.hash_fan_out(plan, agg.id) == 1  # a SINGLE edge to the collect
    assert source.per_call_behind(plan, src.id)  # the GROUP BY behind the hash edge
    assert not source.per_call_behind(plan, agg.id)


def test_a_split_announcement_goes_on_only_to_a_watermark_assigner_behind_forward_edges() -> None:
    cat = Catalog()
    for stmt in planner.parse(
        "CREATE TABLE t (v INT, ts AS TO_TIMESTAMP_LTZ(v, 3), WATERMARK FOR ts AS ts) WITH ("
        "'connector' = 'datagen');"
        "CREATE TABLE plain (v INT) WITH ('connector' = 'datagen')"
    ):
        cat.create(planner.create_table(stmt, cat))
    plan = planner.plan("SELECT v FROM t", cat, {})  # source -> Calc (ts) -> assigner, forward
    src = plan.sources[0].id
    assert source.feeds_watermark(plan, src)
    # the same assigner behind a rebalance would not keep a split's tag
    (assigner,) = [n for n in plan.nodes if isinstance(n.spec, WatermarkSpec)]
    moved = dataclasses.replace(assigner.inputs[0], partitioning=Partitioning.REBALANCE)
    nodes = tuple(dataclasses.replace(n, inputs=(moved,)) if n is assigner else n for n in plan.nodes)
    assert not source.feeds_watermark(dataclasses.replace(plan, nodes=nodes), src)
    plain = planner.plan("SELECT v FROM plain", cat, {})
    assert not source.feeds_watermark(plain, plain.sources[0].id)
