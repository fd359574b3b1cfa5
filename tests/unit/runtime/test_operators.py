"""Operators and exchanges inside small jobs."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Generator
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from catalog.connectors import ChangelogMode
from catalog.errors import OptionError, SqlStreamError
from planner.physical import (
    ROW_KIND_COLUMN,
    AggCall,
    CalcSpec,
    Edge,
    Field,
    GroupAggregateSpec,
    Partitioning,
    SinkSpec,
    SourceSpec,
    UnionSpec,
    WatermarkSpec,
    Window,
    WindowAggregateSpec,
    WindowAssignSpec,
)
from runtime.connectors.base import SourceReader, SubtaskContext
from runtime.connectors.registry import create_sink, register_source
from runtime.connectors.values.connector import collected
from runtime.graph import _Hash
from runtime.job import Job, JobFailedError, JobStatus
from tests.unit.runtime.helpers import PlanBuilder, apply_changelog, collect_async, rows, run
from tests.unit.runtime.plans import FIELDS, table, window_fields, window_plan

EPOCH = dt.datetime(1970, 1, 1)
COUNT = (AggCall("cnt", "count_star", None, "BIGINT NOT NULL"),)


def ts(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


# ---- late rows, end of input ------------------------------------------------------------


def test_late_rows_are_dropped_and_counted() -> None:
    data = table([(1, 1, None, 1000), (1, 2, None, 6000), (1, 3, None, 2000), (1, 4, None, 7000)])
    job = Job(window_plan(data, Window("tumble", "ts", size_ms=5000), COUNT, batch_size=1))
    out = asyncio.run(collect_async(job.plan, job))
    assert rows(out) == [
        (1, ts(0), ts(5000), ts(4999), 1),
        (1, ts(5000), ts(10000), ts(9999), 2),
    ]
    m = job.metrics()
    assert m["late_rows_dropped"] == 1
    agg = next(o for o in m["operators"] if o["kind"] == "window_aggregate")
    assert agg["late_rows_dropped"] == 1 and agg["rows_in"] == 4
    assert agg["state_rows"] == 0  # everything fired and was cleaned up


def test_hop_row_behind_watermark_still_counts_in_open_windows() -> None:
    # size 4 s, slide 2 s: the row at 3000 arrives after [0,4000) fired but [2000,6000) is open
    data = table([(1, 1, None, 1000), (1, 2, None, 5000), (1, 3, None, 3000)])
    window = Window("hop", "ts", size_ms=4000, slide_ms=2000)
    out = run(window_plan(data, window, COUNT, batch_size=1))
    got = [(r[1], r[2], r[4]) for r in rows(out)]
    assert got == [
        (ts(-2000), ts(2000), 1),
        (ts(0), ts(4000), 1),
        (ts(2000), ts(6000), 2),
        (ts(4000), ts(8000), 1),
    ]


def test_end_of_input_fires_every_window() -> None:
    """The only row's windows end long after the watermark (delay 100 s): only the end of
    input fires them, every one of them."""
    data = table([(1, 1, None, 10_000)])
    for window, ends in (
        (Window("tumble", "ts", size_ms=60_000), [(0, 60_000)]),
        (Window("cumulate", "ts", size_ms=60_000, step_ms=20_000), [(0, 20_000), (0, 40_000), (0, 60_000)]),
        (Window("session", "ts", gap_ms=60_000), [(10_000, 70_000)]),
    ):
        out = run(window_plan(data, window, COUNT, delay_ms=100_000))
        assert [(r[0], r[1], r[2], r[4]) for r in rows(out)] == [(1, ts(s), ts(e), 1) for s, e in ends]


def test_global_window_without_keys() -> None:
    data = table([(1, 1, None, 100), (2, 2, None, 200), (3, 3, None, 1200)])
    out = run(window_plan(data, Window("tumble", "ts", size_ms=1000), COUNT, keys=(), parallelism=2))
    assert rows(out) == [(ts(0), ts(1000), ts(999), 2), (ts(1000), ts(2000), ts(1999), 1)]


# ---- window TVF without aggregation ------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "sql"),
    [
        (Window("tumble", "ts", size_ms=1000), "SELECT k, time_bucket(INTERVAL 1 SECOND, ts) AS ws, "
         "time_bucket(INTERVAL 1 SECOND, ts) + INTERVAL 1 SECOND AS we FROM t"),
        (Window("hop", "ts", size_ms=2000, slide_ms=1000), "SELECT k, ws, ws + INTERVAL 2 SECOND AS we "
         "FROM (SELECT k, unnest([time_bucket(INTERVAL 1 SECOND, ts) - INTERVAL 1 SECOND, "
         "time_bucket(INTERVAL 1 SECOND, ts)]) AS ws FROM t)"),
        (Window("cumulate", "ts", size_ms=2000, step_ms=1000), "SELECT k, ws, we FROM (SELECT k, ts, "
         "time_bucket(INTERVAL 2 SECOND, ts) AS ws, unnest([time_bucket(INTERVAL 2 SECOND, ts) + "
         "INTERVAL 1 SECOND, time_bucket(INTERVAL 2 SECOND, ts) + INTERVAL 2 SECOND]) AS we "
         "FROM t) WHERE we > ts"),
    ],
)
def test_window_assign(window: Window, sql: str) -> None:
    data = table([(i % 3, i, None, i * 370) for i in range(20)])
    b = PlanBuilder()
    src = b.values(data, FIELDS, batch_size=6)
    fields = window_fields((), ("k", "v", "d", "ts"))
    tvf = b.add("WindowTVF", WindowAssignSpec(window), [src], fields)
    b.collect(tvf)
    out = run(b.plan())
    con = duckdb.connect()
    con.register("t", data)
    want = sorted(con.sql(sql).fetchall())
    got = sorted((r[0], r[4], r[5]) for r in rows(out))
    assert got == want
    assert all(r[6] == r[5] - dt.timedelta(milliseconds=1) for r in rows(out))


def test_session_tvf_without_aggregation_is_refused() -> None:
    b = PlanBuilder()
    src = b.values(table([(1, 1, None, 1)]), FIELDS)
    tvf = b.add("WindowTVF", WindowAssignSpec(Window("session", "ts", gap_ms=10)), [src],
                window_fields((), ("k", "v", "d", "ts")))
    b.collect(tvf)
    with pytest.raises(JobFailedError, match="SESSION window table function"):
        run(b.plan())


# ---- processing time, idleness, cancel ---------------------------------------------------


def test_processing_time_tumble_counts_every_row() -> None:
    data = table([(i % 2, i, None, 0) for i in range(50)])
    window = Window("tumble", "ts", size_ms=20, proctime=True)
    out = run(window_plan(data, window, COUNT, batch_size=5))
    assert out is not None
    assert sum(r[-1] for r in rows(out)) == 50


class TrickleSource(SourceReader):
    """Subtask 0: one row per poll at increasing event time, then nothing (never ends);
    subtask 1: never any data."""

    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        self.n = 0

    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        if self.ctx.subtask != 0 or self.n >= 30:
            return None
        self.n += 1
        return table([(1, self.n, None, self.n * 100)]).to_batches()[0]


register_source("trickle-test", TrickleSource)


def test_idle_source_subtask_does_not_hold_back_windows() -> None:
    async def go() -> tuple[list[Any], Job]:
        b = PlanBuilder({"sqlstream.runtime.linger": "1 ms"})
        spec = SourceSpec("t", "trickle-test", {}, tuple(FIELDS))
        src = b.add("Source", spec, (), FIELDS, 2)
        wm = b.add("Watermark", WatermarkSpec("ts", '"ts"', idle_timeout_ms=50, emit_interval_ms=0),
                   [src], FIELDS, 2)
        agg = b.add(
            "WindowAggregate",
            WindowAggregateSpec(Window("tumble", "ts", size_ms=1000), ("k",), COUNT),
            [Edge(wm.id, Partitioning.HASH, ("k",))],
            window_fields(COUNT),
            2,
        )
        b.collect(agg)
        job = Job(b.plan())
        got: list[Any] = []
        async with asyncio.timeout(10):
            async for batch in job.results():
                got.extend(rows(pa.Table.from_batches([batch])))
                if len(got) >= 2:
                    job.cancel()
        await job.wait()
        return got, job

    got, job = asyncio.run(go())
    assert [(r[1], r[4]) for r in got[:2]] == [(ts(0), 9), (ts(1000), 10)]
    assert job.status == JobStatus.CANCELED


# ---- group aggregate ------------------------------------------------------------------


def test_group_aggregate_changelog() -> None:
    data = table([(1, 5, None, 0), (2, 1, None, 0), (1, 7, None, 0), (1, 7, None, 0)])
    b = PlanBuilder()
    src = b.values(data, FIELDS, batch_size=1)
    aggs = (AggCall("s", "sum", '"v"', "BIGINT"), AggCall("m", "max", '"v"', "BIGINT"))
    agg = b.add("GroupAggregate", GroupAggregateSpec(("k",), aggs), [src],
                [Field("k", "INT"), Field("s", "BIGINT"), Field("m", "BIGINT")], 1, ChangelogMode.ALL)
    b.collect(agg)
    out = run(b.plan())
    assert out is not None
    log = list(zip(out.column(ROW_KIND_COLUMN).to_pylist(), rows(out)))
    assert log == [
        (0, (1, 5, 5)),
        (0, (2, 1, 1)),
        (1, (1, 5, 5)),
        (2, (1, 12, 7)),
        (1, (1, 12, 7)),
        (2, (1, 19, 7)),
    ]


def _updating_source(b: PlanBuilder, kinds: list[int], ks: list[int]) -> Any:
    t = pa.table({"k": pa.array(ks, pa.int32()), ROW_KIND_COLUMN: pa.array(kinds, pa.int8())})
    return b.values(t, [Field("k", "INT")], batch_size=1, changelog=ChangelogMode.ALL)


def test_group_aggregate_retraction_deletes_key() -> None:
    b = PlanBuilder()
    src = _updating_source(b, [0, 0, 3], [1, 2, 1])
    calc = b.add("Calc", CalcSpec((("k", '"k"'),)), [src], [Field("k", "INT")], 1, ChangelogMode.ALL)
    agg = b.add("GroupAggregate", GroupAggregateSpec(("k",), COUNT), [calc],
                [Field("k", "INT"), Field("cnt", "BIGINT NOT NULL")], 1, ChangelogMode.ALL)
    b.collect(agg)
    out = run(b.plan())
    assert out is not None
    log = list(zip(out.column(ROW_KIND_COLUMN).to_pylist(), rows(out)))
    assert log == [(0, (1, 1)), (0, (2, 1)), (3, (1, 1))]
    assert apply_changelog(out, 1) == {(2,): (2, 1)}


def test_group_aggregate_max_over_retractions_falls_back_to_the_next_value() -> None:
    b = PlanBuilder()
    calc = _updating_source(b, [0, 0, 3], [1, 2, 2])
    aggs = (AggCall("m", "max", '"k"', "INT"),)
    agg = b.add("GroupAggregate", GroupAggregateSpec((), aggs), [calc], [Field("m", "INT")], 1,
                ChangelogMode.ALL)
    b.collect(agg)
    out = run(b.plan())
    assert out is not None
    log = list(zip(out.column(ROW_KIND_COLUMN).to_pylist(), rows(out)))
    assert log == [(0, (1,)), (1, (1,)), (2, (2,)), (1, (2,)), (2, (1,))]


# ---- union, exchanges, sinks, failures --------------------------------------------------


def test_union_of_updating_and_insert_only() -> None:
    b = PlanBuilder()
    s1 = b.values(table([(1, 1, None, 0), (1, 2, None, 0)]), FIELDS, batch_size=1)
    s2 = b.values(table([(9, 9, None, 0)]), FIELDS)
    agg = b.add("GroupAggregate", GroupAggregateSpec(("k",), COUNT), [s1],
                [Field("k", "INT"), Field("cnt", "BIGINT NOT NULL")], 1, ChangelogMode.ALL)
    calc = b.add("Calc", CalcSpec((("k", '"k"'), ("cnt", "CAST(1 AS BIGINT)"))), [s2],
                 [Field("k", "INT"), Field("cnt", "BIGINT NOT NULL")])
    u = b.add("Union", UnionSpec(), [agg, calc], agg.schema, 1, ChangelogMode.ALL)
    b.collect(u)
    out = run(b.plan())
    assert apply_changelog(out, 1) == {(1,): (1, 2), (9,): (9, 1)}


@pytest.mark.parametrize(
    ("mode", "copies", "p"),
    [(Partitioning.BROADCAST, 3, 3), (Partitioning.REBALANCE, 1, 3), (Partitioning.HASH, 1, 3),
     (Partitioning.SINGLE, 1, 1), (Partitioning.FORWARD, 1, 2)],
)
def test_exchanges_deliver_every_row(mode: Partitioning, copies: int, p: int) -> None:
    data = table([(i % 7, i, None, 0) for i in range(100)])
    b = PlanBuilder()
    src = b.values(data, FIELDS, parallelism=2, batch_size=9)
    keys = ("k",) if mode == Partitioning.HASH else ()
    calc = b.add("Calc", CalcSpec((("k", '"k"'), ("v", '"v"'))), [Edge(src.id, mode, keys)],
                 [Field("k", "INT"), Field("v", "BIGINT")], p)
    b.collect(calc)
    out = run(b.plan())
    assert sorted(rows(out)) == sorted([(i % 7, i) for i in range(100)] * copies)


def test_hash_split_keeps_each_key_on_one_target() -> None:
    from runtime.channels import Channel

    h = _Hash([Channel(1), Channel(1), Channel(1)], ("k", "s"), run=None)  # type: ignore[arg-type]
    batch = pa.record_batch({"k": pa.array([i % 10 for i in range(1000)]),
                             "s": pa.array([str(i % 5) for i in range(1000)])})
    owner: dict[tuple[int, str], int] = {}
    total = 0
    for target, part in enumerate(h.split(batch)):
        if part is None:
            continue
        total += part.num_rows
        for k, s in zip(part.column("k").to_pylist(), part.column("s").to_pylist()):
            assert owner.setdefault((k, s), target) == target
    assert total == 1000 and len(set(owner.values())) > 1
    h.close()


def test_sink_through_registry() -> None:
    b = PlanBuilder()
    src = b.values(table([(1, 2, None, 0), (3, 4, None, 0)]), FIELDS)
    fields = [Field("k", "INT"), Field("v", "BIGINT")]
    calc = b.add("Calc", CalcSpec((("k", '"k"'), ("v", '"v"'))), [src], fields)
    b.add("Sink", SinkSpec("out", "values", {"sink-id": "sink-test"}, tuple(fields)), [calc], fields)
    job = Job(b.plan())
    asyncio.run(job.run())
    assert job.status == JobStatus.FINISHED
    got = pa.Table.from_batches(collected("sink-test"))
    assert rows(got) == [(1, 2), (3, 4)]
    m = job.metrics()
    assert m["rows_read"] == 2 and m["rows_written"] == 2
    assert {"rows_in", "rows_out", "rows_in_per_s", "watermark_ms", "queue_fill", "state_rows",
            "state_bytes", "late_rows_dropped", "subtasks"} <= set(m["operators"][0])
    with pytest.raises(SqlStreamError):
        asyncio.run(job.start())


def test_unknown_connector_suggests_a_name() -> None:
    spec = SinkSpec("out", "blackhol", {}, ())
    with pytest.raises(OptionError, match="did you mean 'blackhole'"):
        create_sink(spec, SubtaskContext("j", 1, "Sink", 0, 1))


def test_failure_names_operator_and_subtask() -> None:
    b = PlanBuilder()
    src = b.values(table([(1, 2, None, 0)]), FIELDS)
    calc = b.add("Calc", CalcSpec((("x", '"no_such_column"'),)), [src], [Field("x", "INT")])
    b.collect(calc)
    job = Job(b.plan())
    with pytest.raises(JobFailedError, match=r"Calc \(subtask 1/1\) failed"):
        asyncio.run(collect_async(job.plan, job))
    assert job.status == JobStatus.FAILED and job.error is not None


class WaitingSubtask:
    """A subtask whose run suspends (its coroutine waits at its first step)."""

    where = "Calc (subtask 1/1)"

    async def run(self) -> None:
        await Suspend()


class Suspend:
    def __await__(self) -> Generator[None, None, None]:
        yield


def test_a_closed_subtask_is_not_a_failure_but_its_exit_is() -> None:
    """A subtask's coroutine closed while it waits (a task left pending on a stopped loop,
    freed by the garbage collector) lets GeneratorExit through: raising a JobFailedError
    instead made Python report "Exception ignored in: coroutine Job._run_task". A
    SystemExit from a subtask's own code stays a failure of the job, not of its loop."""
    job = Job(PlanBuilder().plan())
    closed = job._run_task(WaitingSubtask())
    closed.send(None)
    closed.close()  # raised JobFailedError: "Calc (subtask 1/1) failed: GeneratorExit"
    exited = job._run_task(WaitingSubtask())
    exited.send(None)
    with pytest.raises(JobFailedError, match=r"Calc \(subtask 1/1\) failed: SystemExit"):
        exited.throw(SystemExit(1))


def test_a_job_cancelled_before_it_started_stops_once_started() -> None:
    """A cancel that comes before the job's start (a handle cancelled, or its session
    closed, as the job was submitted) found no subtask to stop, and the job then ran on:
    this one, unbounded, for ever."""

    async def go() -> Job:
        b = PlanBuilder()
        src = b.add("Source", SourceSpec("t", "trickle-test", {}, tuple(FIELDS)), (), FIELDS, 1)
        b.collect(src)
        job = Job(b.plan())
        job.cancel()
        async with asyncio.timeout(10):
            async for _ in job.results():
                pass
            await job.wait()
        return job

    assert asyncio.run(go()).status == JobStatus.CANCELED


def test_processing_time_windows_fire_on_the_clock() -> None:
    """An unbounded source that stops sending: its rows still come out, by timer."""

    async def go() -> tuple[int, Job]:
        b = PlanBuilder({"sqlstream.runtime.linger": "1 ms"})
        spec = SourceSpec("t", "trickle-test", {}, tuple(FIELDS))
        src = b.add("Source", spec, (), FIELDS, 1)
        window = Window("tumble", "ts", size_ms=30, proctime=True)
        agg = b.add("WindowAggregate", WindowAggregateSpec(window, ("k",), COUNT), [src],
                    window_fields(COUNT), 1)
        b.collect(agg)
        job = Job(b.plan())
        total = 0
        async with asyncio.timeout(10):
            async for batch in job.results():
                total += sum(batch.column("cnt").to_pylist())
                if total >= 30:
                    job.cancel()
        await job.wait()
        return total, job

    total, job = asyncio.run(go())
    assert total == 30
    assert job.status == JobStatus.CANCELED
