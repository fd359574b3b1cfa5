"""Querying a job's state: the checkpoint opened read-only in DuckDB, from the session
(SHOW STATE FOR JOB, SELECT ... FROM STATE(...)), the CLI (`sqlstream state`) and its shell."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from runtime.state.inspect import StateReader, newest
from sqlstream.jobs import JobHandle
from sqlstream.session import Session
from tests.unit.sqlstream.test_cli import run

SOURCE = """
    CREATE TABLE clicks (k INT, v BIGINT, ts TIMESTAMP(3),
        WATERMARK FOR ts AS ts - INTERVAL '1' HOUR
    ) WITH ('connector' = 'datagen', 'rows-per-second' = '3000',
            'fields.k.min' = '1', 'fields.k.max' = '4', 'fields.v.min' = '1', 'fields.v.max' = '9',
            'fields.ts.max-past' = '10 s')"""
SINKS = """
    CREATE TABLE totals (k INT, n BIGINT, total BIGINT, mean DOUBLE) WITH ('connector' = 'blackhole');
    CREATE TABLE per_window (k INT, ws TIMESTAMP(3), n BIGINT, top BIGINT) WITH ('connector' = 'blackhole');
"""
JOB = """
    EXECUTE STATEMENT SET BEGIN
    INSERT INTO totals SELECT k, COUNT(*) AS n, SUM(v) AS total, AVG(CAST(v AS DOUBLE)) AS mean
        FROM clicks GROUP BY k;
    INSERT INTO per_window SELECT k, window_start, COUNT(DISTINCT v) AS n, MAX(v) AS top
        FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
        GROUP BY k, window_start, window_end;
    END"""


def two_checkpoints(job: JobHandle) -> None:
    """Wait (up to 30 s) until the running ``job`` has completed two checkpoints."""
    deadline = time.monotonic() + 30
    while job.metrics().get("checkpoints", {}).get("completed", 0) < 2:
        assert time.monotonic() < deadline and not job.done, job.error
        time.sleep(0.1)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Session, str, Path]]:
    """A job with a group aggregate and a window aggregate, checkpointing every 200 ms."""
    ck = tmp_path / "ck"
    config = {
        "execution.checkpointing.interval": "200 ms",
        "state.checkpoints.dir": str(ck),
        "pipeline.name": "clicks-state",
    }
    with sqlstream.connect(config=config) as s:
        s.execute(SOURCE)
        s.execute_script(SINKS)
        job = s.execute(JOB).job
        assert job is not None
        two_checkpoints(job)
        yield s, job.id, ck


def test_a_savepoint_reads_as_views_with_the_queries_names(running: tuple[Session, str, Path]) -> None:
    s, job_id, ck = running
    path = s.execute(f"STOP JOB '{job_id}' WITH SAVEPOINT").rows[0][0]
    assert Path(newest(ck, "clicks-state")) == Path(path)  # the newest of checkpoints and savepoints
    with StateReader.open(path) as reader:
        ops = {o.view: o for o in reader.operators()}
        assert set(ops) == {"group_aggregate_3", "window_aggregate_6"} or len(ops) == 2, ops
        group = next(o for o in ops.values() if o.kind == "group_aggregate")
        window = next(o for o in ops.values() if o.kind == "window_aggregate")
        assert group.rows == 4 and group.bytes > 0  # one accumulator row per key
        columns, rows = reader.sql(f"SELECT * FROM {group.view} ORDER BY k")
        assert columns == ["subtask", "k", "row_count", "n", "total", "mean"]
        assert [r[1] for r in rows] == [1, 2, 3, 4]
        for _, _, count, n, total, mean in rows:
            assert count == n and mean == pytest.approx(total / n)
        # a consistent cut: the aggregate counted exactly the rows the source had read
        (read,) = reader.sql("SELECT position FROM source_positions")[1][0]
        assert sum(r[2] for r in rows) == int(read.split(":")[1].strip(" }"))
        columns, rows = reader.sql(f"SELECT * FROM {window.view}")
        assert columns == ["subtask", "k", "window_start", "window_end", "n", "top"]
        assert rows and all((r[3] - r[2]).total_seconds() == 1 for r in rows)
        assert all(1 <= r[4] <= 9 and 1 <= r[5] <= 9 for r in rows)  # distinct values of 1..9
        (cp,) = reader.sql("SELECT checkpoint_id, savepoint, job_name FROM checkpoint")[1]
        assert cp[1] is True and cp[2] == "clicks-state"


def test_the_session_reads_a_running_jobs_newest_checkpoint(running: tuple[Session, str, Path]) -> None:
    s, job_id, _ = running
    shown = s.execute(f"SHOW STATE FOR JOB '{job_id}'")
    assert shown.columns == ["operator id", "operator", "view", "parallelism", "rows", "bytes", "checkpoint"]
    assert sorted(r[1] for r in shown.rows) == ["GroupAggregate", "WindowAggregate"]
    assert all(r[-1] >= 2 for r in shown.rows)  # the newest checkpoint: two had completed
    got = s.execute(
        f"SELECT k, n FROM STATE('{job_id}', 'GroupAggregate') AS g WHERE k <= 2 ORDER BY k"
    )
    assert got.columns == ["k", "n"] and [r[0] for r in got.rows] == [1, 2]
    by_name = s.execute("SELECT count(*) FROM STATE('clicks-state', 'groupaggregate')")
    assert by_name.rows == [(4,)]  # by pipeline.name, and the operator's name in any case
    with pytest.raises(SqlStreamError, match="no stateful operator is named 'Join'") as e:
        s.execute(f"SELECT * FROM STATE('{job_id}', 'Join')")
    assert "group_aggregate" in (e.value.hint or "")


def test_a_job_without_checkpoints_says_why_it_has_no_state() -> None:
    with sqlstream.connect() as s:
        s.execute("CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'rows-per-second' = '10')")
        s.execute("CREATE TABLE o (a INT) WITH ('connector' = 'blackhole')")
        job = s.execute("INSERT INTO o SELECT a FROM t").job
        assert job is not None
        while job.status == "CREATED":  # a job cancelled before it started would run on
            time.sleep(0.01)
        with pytest.raises(SqlStreamError, match="takes no checkpoints"):
            s.execute(f"SHOW STATE FOR JOB '{job.id}'")
        with pytest.raises(SqlStreamError, match="no complete checkpoint"):
            s.execute("SHOW STATE FOR JOB 'nobody'")
        job.cancel()
        assert job.wait(10)


def test_the_cli_queries_a_jobs_newest_checkpoint_and_opens_a_shell(
    running: tuple[Session, str, Path],
) -> None:
    s, job_id, ck = running
    s.execute(f"STOP JOB '{job_id}' WITH SAVEPOINT")
    out = run("state", "-D", f"state.checkpoints.dir={ck}", "clicks-state",
              "SELECT k, n FROM group_aggregate_3 ORDER BY k")  # fmt: skip
    assert out.returncode == 0, out.stderr
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in out.stdout.splitlines()
             if line.startswith("| ")]  # fmt: skip
    assert cells[0] == ["k", "n"] and [c[0] for c in cells[1:]] == ["1", "2", "3", "4"]
    assert "4 rows in set" in out.stdout
    script = "\\state\nSELECT count(*) AS keys\n  FROM group_aggregate_3;\nSELECT nope;\n"
    shell = run("state", "-D", f"state.checkpoints.dir={ck}", "clicks-state", stdin=script)
    assert "GroupAggregate" in shell.stdout and "window_aggregate_6" in shell.stdout  # \state
    assert "| keys" in shell.stdout and "| 4 " in shell.stdout  # a query over two lines
    assert "Error: state query failed" in shell.stdout and "nope" in shell.stdout
    assert shell.returncode == 1  # a script (stdin not a terminal) with a failing query
    missing = run("state", "-D", f"state.checkpoints.dir={ck}", "no-such-job", "SELECT 1")
    assert missing.returncode == 1 and "no complete checkpoint" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_explain_from_a_savepoint_says_which_state_carries_over(
    running: tuple[Session, str, Path], tmp_path: Path
) -> None:
    s, job_id, _ = running
    savepoint = s.execute(f"STOP JOB '{job_id}' WITH SAVEPOINT").rows[0][0]
    same = tmp_path / "same.sql"
    same.write_text(f"{SOURCE};\n{SINKS}\n{JOB};\n")
    out = run("explain", str(same), "--from-savepoint", savepoint)
    assert out.returncode == 0, out.stderr
    assert "the same query: everything carries over" in out.stdout
    assert "GroupAggregate#3: carries over (state)" in out.stdout
    # the window now counts every value instead of distinct ones: its state no longer fits
    changed = tmp_path / "changed.sql"
    changed.write_text(f"{SOURCE};\n{SINKS}\n{JOB.replace('COUNT(DISTINCT v)', 'COUNT(v)')};\n")
    out = run("explain", str(changed), "--from-savepoint", savepoint)
    assert out.returncode == 0, out.stderr
    assert "restoring needs SET 'execution.savepoint.ignore-unclaimed-state' = 'true'" in out.stdout
    assert "GroupAggregate#3: carries over (state)" in out.stdout
    assert "WindowAggregate#6: incompatible" in out.stdout
    assert "TableSourceScan(clicks)#1: carries over (positions)" in out.stdout
    # one INSERT less: its window's state has no operator left to claim it
    fewer = tmp_path / "fewer.sql"
    first = JOB.split(";")[0].replace("EXECUTE STATEMENT SET BEGIN", "")
    fewer.write_text(f"{SOURCE};\n{SINKS}\n{first};\n")
    out = run("explain", str(fewer), "--from-savepoint", savepoint)
    assert "WindowAggregate#6: dropped (its state: no operator of this query claims it)" in out.stdout
    assert "GroupAggregate#3: carries over (state)" in out.stdout


def test_the_shell_lists_a_jobs_state_and_queries_it(running: tuple[Session, str, Path]) -> None:
    from tests.unit.repl.conftest import drive

    s, job_id, _ = running
    out, code = drive(s, [
        f"\\state {job_id}\r",
        f"SELECT count(*) AS pending FROM STATE('{job_id}', 'window_aggregate_6');\r",
        "\\state\r",
        "\\q\r",
    ])  # fmt: skip
    assert code == 0
    assert "| GroupAggregate " in out and "| window_aggregate_6 " in out  # \state JOB
    assert "| pending " in out  # a query over the state, as a table
    assert "\\state needs a job" in out  # \state alone says what it wants


def test_kafka_positions_read_as_topic_partition_and_offset(tmp_path: Path) -> None:
    from runtime.checkpoint.storage import CheckpointMetadata, CheckpointStorage

    meta = CheckpointMetadata(
        checkpoint_id=9, job_name="orders", plan_fingerprint="x", timestamp_ms=0,
        sources={"1": {"0": {"offsets": {"orders.eu:0": 120, "orders.eu:1": 98}}, "1": {"offsets": {}}}},
        sinks={"4": {"0": {"handles": [[9, {"transactional_id": "t-0-1", "epoch": 3}]]}}},
    )  # fmt: skip
    folder = tmp_path / "orders" / "chk-9"
    folder.mkdir(parents=True)
    CheckpointStorage(tmp_path, "orders").complete(folder, meta)
    with StateReader.open(newest(tmp_path, "orders")) as reader:
        assert reader.operators() == []
        query = 'SELECT topic, "partition", "offset" FROM source_positions ORDER BY 2 NULLS LAST'
        _, rows = reader.sql(query)
        assert rows == [("orders.eu", 0, 120), ("orders.eu", 1, 98), (None, None, None)]
        _, handles = reader.sql("SELECT subtask, checkpoint_id, handle FROM sink_transactions")
        assert handles == [(0, 9, '{"epoch": 3, "transactional_id": "t-0-1"}')]


def test_a_joins_state_reads_as_both_sides_rows(tmp_path: Path) -> None:
    """A regular LEFT JOIN's state: every row each side has read, under the join's column
    names, with how many identical rows it stands for and (the outer side) its matches."""
    ck = tmp_path / "ck"
    config = {"execution.checkpointing.interval": "200 ms", "state.checkpoints.dir": str(ck),
              "pipeline.name": "join-state"}  # fmt: skip
    with sqlstream.connect(config=config) as s:
        s.execute_script("""
            CREATE TABLE orders (oid BIGINT, cid INT) WITH ('connector' = 'datagen',
                'rows-per-second' = '500', 'fields.oid.kind' = 'sequence', 'fields.oid.start' = '1',
                'fields.oid.end' = '1000000', 'fields.cid.min' = '1', 'fields.cid.max' = '20');
            CREATE TABLE customers (id INT, tier INT) WITH ('connector' = 'datagen',
                'rows-per-second' = '50', 'fields.id.min' = '1', 'fields.id.max' = '40',
                'fields.tier.min' = '1', 'fields.tier.max' = '3');
            CREATE TABLE out (oid BIGINT, tier INT) WITH ('connector' = 'blackhole');
        """)
        job = s.execute(
            "INSERT INTO out SELECT o.oid, c.tier FROM orders o LEFT JOIN customers c ON o.cid = c.id"
        ).job
        assert job is not None
        two_checkpoints(job)
        path = s.execute(f"STOP JOB '{job.id}' WITH SAVEPOINT").rows[0][0]
    with StateReader.open(path) as reader:
        (op,) = [o for o in reader.operators() if o.kind == "join"]
        columns, rows = reader.sql(f"SELECT * FROM {op.view}")
        assert columns == ["side", "subtask", "oid", "cid", "row_count", "matches", "id", "tier"]
        left = [r for r in rows if r[0] == "left"]
        right = [r for r in rows if r[0] == "right"]
        assert left and right
        assert all(r[6] is None and r[7] is None for r in left)  # the other side's columns
        # each order once, and its matches are the customers with its id
        assert sorted(r[2] for r in left) == list(range(1, len(left) + 1))
        per_id: dict[int, int] = {}
        for r in right:
            per_id[r[6]] = per_id.get(r[6], 0) + r[4]
        assert all(r[5] == per_id.get(r[3], 0) for r in left)
        positions = dict(reader.sql("SELECT operator, position FROM source_positions")[1])
        # a consistent cut: each side holds exactly the rows its source had read
        assert json.loads(positions["orders"]) == {"rows": len(left)}
        assert json.loads(positions["customers"]) == {"rows": sum(r[4] for r in right)}


def test_a_group_aggregates_distinct_values_read_by_their_keys(tmp_path: Path) -> None:
    """The values COUNT(DISTINCT ...) has seen are kept under an id of their key; the view
    of them shows the key's columns, and they add up to the counts of the group's view."""
    config = {
        "execution.checkpointing.interval": "200 ms",
        "state.checkpoints.dir": str(tmp_path / "ck"),
        "pipeline.name": "distinct-state",
    }
    with sqlstream.connect(config=config) as s:
        s.execute(SOURCE)
        s.execute("CREATE TABLE kinds (k INT, n BIGINT) WITH ('connector' = 'blackhole')")
        job = s.execute("INSERT INTO kinds SELECT k, COUNT(DISTINCT v) AS n FROM clicks GROUP BY k").job
        assert job is not None
        two_checkpoints(job)
        path = s.execute(f"STOP JOB '{job.id}' WITH SAVEPOINT").rows[0][0]
    with StateReader.open(path) as reader:
        group = next(o for o in reader.operators() if o.kind == "group_aggregate")
        (views,) = reader.sql(
            f"SELECT list(view_name) FROM duckdb_views() WHERE view_name LIKE '{group.view}__seen%'"
        )[1][0]
        assert len(views) == 1
        rows = reader.sql(f"SELECT k, count(*) FROM {views[0]} GROUP BY k ORDER BY k")[1]
        assert "__id" not in reader.sql(f"SELECT * FROM {views[0]} LIMIT 0")[0]
        counts = reader.sql(f"SELECT k, n FROM {group.view} ORDER BY k")[1]
        assert rows == counts and [k for k, _ in rows] == [1, 2, 3, 4]
