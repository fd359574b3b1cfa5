"""Checkpoints in the runtime: alignment, snapshots taken while processing goes on,
restore equality, rescaling, refusal of another query's checkpoint, savepoints."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import json
import os
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import sqlstream
from catalog.errors import SqlStreamError
from planner.physical import Field, Node, PhysicalPlan, UnionSpec
from runtime.channels import Channel, InputGate
from runtime.checkpoint.control import Restored
from runtime.checkpoint.messages import Ack
from runtime.checkpoint.store import LocalStore
from runtime.connectors.base import SubtaskContext
from runtime.messages import Barrier, EndOfInput, Message
from runtime.metrics import OperatorMetrics
from runtime.operator import Operator, OperatorContext, Snapshot
from runtime.state.duckdb_state import DuckDBState, load_snapshot, write_snapshot
from runtime.task import Task
from tests.unit.runtime.test_task import ListRouter, Recorder, batch

# ---- alignment -----------------------------------------------------------------------------


class FakeCheckpoints:
    """A subtask's port to checkpointing, recording the messages it posts."""

    def __init__(self, exactly_once: bool) -> None:
        self.exactly_once = exactly_once
        self.node_id, self.subtask = 1, 0
        self.restored = None
        self.mailbox: collections.deque[object] = collections.deque()
        self.acks: list[tuple[int, Ack]] = []
        self.committed_ids: list[int] = []
        self.store = LocalStore()

    def attach(self, gate: object) -> None:
        pass

    def ack(self, checkpoint_id: int, ack: Ack) -> None:
        self.acks.append((checkpoint_id, ack))

    def decline(self, checkpoint_id: int, reason: str) -> None:
        raise AssertionError(reason)

    def committed(self, checkpoint_id: int) -> None:
        self.committed_ids.append(checkpoint_id)


def two_input_task(
    op_cls: type[Operator] = Recorder, executor: Any = None
) -> tuple[Task, list[Channel], ListRouter]:
    node = Node(1, "Op", UnionSpec(), (), (Field("x", "INT"),))
    metrics = OperatorMetrics(1, 0)
    ctx = OperatorContext(SubtaskContext("t", 1, "Op", 0, 1), node, PhysicalPlan((node,)), metrics, executor)
    chans = [Channel(8, "a"), Channel(8, "b")]
    router = ListRouter()
    task = Task(op_cls(ctx), metrics, InputGate(chans), [0, 1], [router], "Op (1/1)")
    return task, chans, router


def sent_shape(sent: list[Message]) -> list[object]:
    return [m.num_rows if isinstance(m, pa.RecordBatch) else type(m).__name__ for m in sent]


@pytest.mark.parametrize("exactly_once", [True, False])
def test_a_fast_input_does_not_overtake_barrier_n(exactly_once: bool) -> None:
    async def go() -> tuple[list[object], FakeCheckpoints]:
        task, (a, b), router = two_input_task()
        ck = FakeCheckpoints(exactly_once)
        task.checkpoints = ck  # type: ignore[assignment]
        runner = asyncio.create_task(task.run())
        for m in (batch(1), Barrier(1), batch(5), batch(6)):  # a is fast
            await a.send(m)
        await asyncio.sleep(0.02)
        await b.send(batch(2))
        await asyncio.sleep(0.02)
        await b.send(Barrier(1))
        await b.send(EndOfInput())
        await a.send(EndOfInput())
        await asyncio.wait_for(runner, 2)
        return sent_shape(router.sent), ck

    shape, ck = asyncio.run(go())
    data = [x for x in shape if x not in ("Watermark",)]
    if exactly_once:  # rows a sent after its barrier wait until b's barrier came
        assert data[:4] == [1, 2, "Barrier", 5] and data[4] == 6
        assert ck.acks[0][1].alignment_ms >= 15
    else:  # at-least-once: a keeps flowing, the barrier goes once both delivered it
        assert data.index("Barrier") > data.index(5) and data.index("Barrier") > data.index(2)
    assert [n for n, _ in ck.acks] == [1]


def test_an_input_that_ends_completes_the_alignment() -> None:
    async def go() -> list[object]:
        task, (a, b), router = two_input_task()
        task.checkpoints = FakeCheckpoints(True)  # type: ignore[assignment]
        runner = asyncio.create_task(task.run())
        await a.send(Barrier(3))
        await a.send(batch(4))
        await b.send(EndOfInput())
        await a.send(EndOfInput())
        await asyncio.wait_for(runner, 2)
        return sent_shape(router.sent)

    shape = asyncio.run(go())
    assert [x for x in shape if x != "Watermark"] == ["Barrier", 4, "EndOfInput"]


def test_two_checkpoints_in_flight_align_in_order() -> None:
    async def go() -> tuple[list[object], FakeCheckpoints]:
        task, (a, b), router = two_input_task()
        ck = FakeCheckpoints(True)
        task.checkpoints = ck  # type: ignore[assignment]
        runner = asyncio.create_task(task.run())
        for m in (Barrier(1), batch(5), Barrier(2), batch(6)):
            await a.send(m)
        await asyncio.sleep(0.02)
        for m in (batch(2), Barrier(1), batch(3), Barrier(2), EndOfInput()):
            await b.send(m)
        await a.send(EndOfInput())
        await asyncio.wait_for(runner, 2)
        return sent_shape(router.sent), ck

    shape, ck = asyncio.run(go())
    data = [x for x in shape if x != "Watermark"]
    # 5 (after barrier 1 on a) waits for barrier 1 on b; 6 (after barrier 2) for barrier 2
    assert data[:3] == [2, "Barrier", 5] and data.index(3) < data.index("Barrier", 2) < data.index(6)
    assert [n for n, _ in ck.acks] == [1, 2]


# ---- snapshot while processing -------------------------------------------------------------


class Counter(Operator):
    """Keyed state in DuckDB: one row per batch row."""

    async def open(self) -> None:
        self.state = DuckDBState()
        self.state.create_table("rows", "x INTEGER")

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        self.state.register("b", batch)
        self.state.execute("INSERT INTO rows SELECT x FROM b")
        self.state.con.unregister("b")
        return []

    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        return Snapshot({"rows_at_barrier": int(self.state.scalar("SELECT count(*) FROM rows"))}, self.state)

    async def close(self) -> None:
        self.state.close()


def test_snapshot_equals_state_at_the_barrier_although_processing_went_on(tmp_path: Path) -> None:
    executor = concurrent.futures.ThreadPoolExecutor(2)

    async def go() -> FakeCheckpoints:
        task, (a, b), _ = two_input_task(Counter, executor)
        ck = FakeCheckpoints(True)
        task.checkpoints = ck  # type: ignore[assignment]
        runner = asyncio.create_task(task.run())
        for n in (100_000, 50_000):
            await a.send(pa.record_batch({"x": pa.array(range(n), pa.int32())}))
        await a.send(Barrier(7, location=str(tmp_path)))
        await b.send(Barrier(7, location=str(tmp_path)))
        for _ in range(5):  # keeps processing while the copy runs
            await a.send(pa.record_batch({"x": pa.array(range(1000), pa.int32())}))
        await a.send(EndOfInput())
        await b.send(EndOfInput())
        await asyncio.wait_for(runner, 10)
        return ck

    ck = asyncio.run(go())
    executor.shutdown()
    ((n, ack),) = ck.acks
    assert n == 7 and ack.kind == "operator" and ack.bytes > 0
    assert ack.state["state"] == {"rows_at_barrier": 150_000}
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / ack.state['file']}' AS ck (READ_ONLY)")
    assert con.execute("SELECT count(*) FROM ck.rows").fetchall() == [(150_000,)]


def test_pinned_view_is_what_the_snapshot_file_holds(tmp_path: Path) -> None:
    st = DuckDBState()
    st.create_table("t", "k BIGINT")
    st.execute("INSERT INTO t SELECT range FROM range(1000)")
    cursor = st.snapshot_cursor()
    st.execute("DELETE FROM t WHERE k < 500")
    st.execute("INSERT INTO t VALUES (-1)")
    write_snapshot(cursor, ["t"], tmp_path / "s.duckdb")
    restored = DuckDBState()
    load_snapshot(restored, Restored(1, files=[str(tmp_path / "s.duckdb")]))
    assert restored.scalar("SELECT count(*) FROM t") == 1000
    assert restored.scalar("SELECT min(k) FROM t") == 0


# ---- end to end: restore equality, rescale, refusal, savepoint ----------------------------

ROWS = 6000


def ddl(out: Path, rate: int = 3000, source_parallelism: int | None = None) -> str:
    scan = f", 'scan.parallelism' = '{source_parallelism}'" if source_parallelism else ""
    return f"""
CREATE TABLE src (v BIGINT, k AS v % 5, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}'{scan},
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '{ROWS}');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
"""


QUERY = """INSERT INTO out SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY k, window_start, window_end"""


def published(out: Path) -> list[tuple[Any, ...]]:
    rows = []
    for name in sorted(os.listdir(out)) if out.exists() else []:
        if not name.startswith("."):
            rows += [tuple(json.loads(line).values()) for line in (out / name).read_text().splitlines()]
    return rows


def expected_rows() -> collections.Counter[tuple[Any, ...]]:
    got = duckdb.sql(
        "SELECT v % 5, strftime(make_timestamp((v * 10) // 1000 * 1000000), '%Y-%m-%d %H:%M:%S'), "
        f"count(*), sum(v) FROM range(1, {ROWS + 1}) t(v) GROUP BY ALL"
    ).fetchall()
    return collections.Counter(tuple(r) for r in got)


def config(tmp: Path, parallelism: int, **extra: str) -> dict[str, str]:
    return {
        "execution.checkpointing.interval": "100 ms",
        "pipeline.name": "restore-test",
        "state.checkpoints.dir": str(tmp / "checkpoints"),
        "parallelism.default": str(parallelism),
        **extra,
    }


def run_until_checkpoint(
    tmp: Path,
    parallelism: int,
    out: Path,
    source_parallelism: int | None = None,
    script: str | None = None,
    query: str = QUERY,
    checkpoints: int = 2,
    until_output: bool = True,
) -> None:
    """Start the job (``query`` after the DDL ``script``, this module's by default) and
    cancel it once ``checkpoints`` checkpoints completed and one of them committed rows to
    ``out`` (its output up to the last one is committed, the rest stays in progress).

    Waiting for committed rows, not only for the count, keeps a slow start (a busy CI
    machine) from cancelling the job before any window closed. A query whose windows all
    close only at the end of its input (one session per key) waits for the checkpoints
    alone (``until_output=False``): committed rows would mean the job had finished."""
    with sqlstream.connect(config=config(tmp, parallelism)) as s:
        s.execute(script or ddl(out, 2000, source_parallelism))
        handle = s.execute(query).job
        assert handle is not None
        deadline = time.monotonic() + 20
        while handle.metrics().get("checkpoints", {}).get("completed", 0) < checkpoints or (
            until_output and not published(out)
        ):
            assert time.monotonic() < deadline and not handle.done, handle.error
            time.sleep(0.02)
        handle.cancel()
        handle.wait(10)
        assert handle.status == "CANCELED"


def resume(
    tmp: Path,
    parallelism: int,
    out: Path,
    source_parallelism: int | None = None,
    script: str | None = None,
    query: str = QUERY,
    **extra: str,
) -> Any:
    with sqlstream.connect(
        config=config(tmp, parallelism, **{"sqlstream.checkpoint.resume": "latest", **extra})
    ) as s:
        s.execute(script or ddl(out, 20000, source_parallelism))
        handle = s.execute(query).job
        assert handle is not None
        handle.wait(60)
        if handle.error is not None:
            raise handle.error
        return handle.metrics()


def test_restore_continues_exactly_like_an_uninterrupted_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_until_checkpoint(tmp_path, 2, out)
    first = collections.Counter(published(out))
    assert 0 < sum(first.values()) < sum(expected_rows().values())
    metrics = resume(tmp_path, 2, out)
    assert collections.Counter(published(out)) == expected_rows()
    assert metrics["checkpoints"]["restored_from"] is not None
    assert not [n for n in os.listdir(out) if n.endswith(".inprogress")]
    assert not list((tmp_path / "checkpoints").glob("*/chk-*"))  # a FINISHED job's go


@pytest.mark.parametrize(("before", "after"), [(2, 1), (1, 2)])
def test_keyed_state_rescales(tmp_path: Path, before: int, after: int) -> None:
    out = tmp_path / "out"
    run_until_checkpoint(tmp_path, before, out, source_parallelism=1)
    resume(tmp_path, after, out, source_parallelism=1)
    assert collections.Counter(published(out)) == expected_rows()


def test_a_checkpoint_of_another_query_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_until_checkpoint(tmp_path, 1, out)
    other = QUERY.replace("SUM(v) AS s", "MAX(v) AS s")
    with sqlstream.connect(config=config(tmp_path, 1, **{"sqlstream.checkpoint.resume": "latest"})) as s:
        s.execute(ddl(out))
        handle = s.execute(other).job
        assert handle is not None
        handle.wait(20)
        assert isinstance(handle.error, SqlStreamError)
        assert "different query" in str(handle.error)
        # which operator's state does not fit: its SUM became a MAX
        assert "its WindowAggregate (node 4) is not in this query, which has WindowAggregate (node 4)" in str(
            handle.error
        )
        assert "ignore-unclaimed-state" in (handle.error.hint or "")
    allow = {"sqlstream.checkpoint.resume": "latest", "execution.savepoint.ignore-unclaimed-state": "true"}
    with sqlstream.connect(config=config(tmp_path, 1, **allow)) as s:
        s.execute(ddl(out, 20000))
        handle = s.execute(other).job
        assert handle is not None
        handle.wait(30)
        assert handle.error is None  # sources resumed; the changed aggregation starts empty
        assert handle.metrics()["checkpoints"]["restored_from"] is not None


def test_stop_with_savepoint_then_resume_from_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with sqlstream.connect(config=config(tmp_path, 2)) as s:
        s.execute(ddl(out, 2000))
        handle = s.execute(QUERY).job
        assert handle is not None
        time.sleep(1.0)
        result = s.execute(f"STOP JOB '{handle.id}' WITH SAVEPOINT")
        ((path,),) = result.rows
    assert "savepoint-" in path and Path(path, "_metadata").is_file()
    resume(tmp_path, 2, out, **{"execution.savepoint.path": path, "sqlstream.checkpoint.resume": "none"})
    assert collections.Counter(published(out)) == expected_rows()
    assert Path(path).is_dir()  # savepoints are kept


def test_a_failed_savepoint_leaves_the_job_running(tmp_path: Path) -> None:
    cfg = config(
        tmp_path, 1, **{"execution.checkpointing.interval": "1 h", "execution.checkpointing.timeout": "1 ms"}
    )
    with sqlstream.connect(config=cfg) as s:
        s.execute(ddl(tmp_path / "out", 2000))
        handle = s.execute(QUERY).job
        assert handle is not None
        time.sleep(0.3)
        with pytest.raises(SqlStreamError, match="timed out"):
            s.execute(f"STOP JOB '{handle.id}' WITH SAVEPOINT")
        time.sleep(0.2)
        assert handle.status == "RUNNING"
        handle.cancel()
        handle.wait(10)
