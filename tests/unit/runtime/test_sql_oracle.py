"""Correctness oracle through SQL: random window queries go through the parser, the planner
and the runtime into an exactly-once file sink, and what the sink holds equals DuckDB's
batch answer over the same rows. Half the runs are stopped mid-stream with a savepoint
and resumed from it, so restore is part of what is compared.

The input is a datagen sequence whose computed columns spread it over keys and make it
out of order (less than the watermark delay, so no row is late); its rows are known, so
DuckDB computes the answer from ``range``. Timestamps are even and session gaps odd: no
row lands exactly on the end of a session that has fired, where a stream (Flink's too)
starts a new session that a batch query would merge.

``HYPOTHESIS_PROFILE=slow`` (or ``--hypothesis-profile=slow``) runs ten times the examples.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import sqlstream
from catalog.errors import SqlStreamError
from tests.conftest import examples
from tests.unit.runtime.test_oracle import align

DELAY_MS = 1000
EPOCH = dt.datetime(1970, 1, 1)


@st.composite
def queries(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["tumble", "hop", "cumulate", "session"]))
    shape = {
        "tumble": st.sampled_from([(1000, 0), (500, 0)]),
        "hop": st.sampled_from([(1000, 250), (600, 200)]),
        "cumulate": st.sampled_from([(1000, 250), (600, 300)]),
        "session": st.sampled_from([(151, 0), (401, 0)]),
    }[kind]
    size, second = draw(shape)
    return {
        "kind": kind,
        "size": size,
        "second": second,
        "rows": draw(st.integers(50, 1500)),
        "keys": draw(st.integers(1, 5)),
        "mult": draw(st.integers(1, 13)),
        "step": draw(st.sampled_from([2, 10, 40])),  # event time per row, ms (even)
        "jitter": draw(st.sampled_from([0, 200, 998])),  # out of order by less than this
        "parallelism": draw(st.sampled_from([1, 2])),
        "restore": draw(st.booleans()),
    }


def _ts_expr(q: dict[str, Any], v: str) -> str:
    """Even event time in ms: the row's place, pulled back by up to the jitter."""
    jitter = f" - ({v} * 7919 % {q['jitter'] // 2 + 1}) * 2" if q["jitter"] else ""
    return f"({v} * {q['step']} + {DELAY_MS}{jitter})"


def _window_tvf(q: dict[str, Any]) -> str:
    kind, size, second = q["kind"], q["size"], q["second"]
    args = {
        "tumble": f"INTERVAL '{size}' MILLISECOND",
        "hop": f"INTERVAL '{second}' MILLISECOND, INTERVAL '{size}' MILLISECOND",
        "cumulate": f"INTERVAL '{second}' MILLISECOND, INTERVAL '{size}' MILLISECOND",
        "session": f"INTERVAL '{size}' MILLISECOND",
    }[kind]
    table = "TABLE src PARTITION BY k" if kind == "session" else "TABLE src"
    return f"TABLE({kind.upper()}({table}, DESCRIPTOR(ts), {args}))"


def ddl(q: dict[str, Any], out: Path, rate: int | None) -> str:
    limit = f", 'rows-per-second' = '{rate}'" if rate else ""
    return f"""
CREATE TABLE src (v BIGINT, k AS v * {q["mult"]} % {q["keys"]}, x AS v * 37 % 201 - 100,
  ts AS TO_TIMESTAMP_LTZ({_ts_expr(q, "v")}, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'fields.v.kind' = 'sequence', 'fields.v.start' = '1',
  'fields.v.end' = '{q["rows"]}'{limit});
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), c BIGINT,
  s BIGINT, mn BIGINT, mx BIGINT) WITH ('connector' = 'filesystem', 'path' = '{out}',
  'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once');
"""


def insert(q: dict[str, Any]) -> str:
    return (
        "INSERT INTO out SELECT k, window_start, window_end, COUNT(*), SUM(x), MIN(x), MAX(x) "
        f"FROM {_window_tvf(q)} GROUP BY k, window_start, window_end"
    )


def oracle(q: dict[str, Any]) -> list[tuple[int, ...]]:
    kind, size, second = q["kind"], q["size"], q["second"]
    base = (
        f"SELECT v * {q['mult']} % {q['keys']} AS k, v * 37 % 201 - 100 AS x, "
        f"{_ts_expr(q, 'v')} AS t FROM range(1, {q['rows'] + 1}) r(v)"
    )
    if kind == "tumble":
        windows = f"SELECT *, {align('t', size)} AS ws, {align('t', size)} + {size} AS we FROM base"
    elif kind == "hop":
        a = align("t", second)
        windows = (
            f"SELECT *, ws + {size} AS we FROM (SELECT *, "
            f"unnest(generate_series({a} - {size} + {second}, {a}, {second})) AS ws FROM base)"
        )
    elif kind == "cumulate":
        ps = align("t", size)
        windows = (
            f"SELECT * FROM (SELECT *, {ps} AS ws, unnest(generate_series({ps} + {second}, "
            f"{ps} + {size}, {second})) AS we FROM base) WHERE we > t"
        )
    else:
        windows = (
            f"SELECT *, min(t) OVER (PARTITION BY k, sid) AS ws, "
            f"max(t) OVER (PARTITION BY k, sid) + {size} AS we FROM ("
            "SELECT *, sum(new) OVER (PARTITION BY k ORDER BY t ROWS UNBOUNDED PRECEDING) AS sid "
            f"FROM (SELECT *, CASE WHEN t - lag(t) OVER (PARTITION BY k ORDER BY t) <= {size} "
            "THEN 0 ELSE 1 END AS new FROM base))"
        )
    got = duckdb.sql(
        f"WITH base AS ({base}) SELECT k, ws, we, count(*), sum(x), min(x), max(x) "
        f"FROM ({windows}) GROUP BY k, ws, we"
    ).fetchall()
    return sorted(tuple(int(c) for c in r) for r in got)


def published(out: Path) -> list[tuple[int, ...]]:
    rows = []
    for name in sorted(os.listdir(out)) if out.exists() else []:
        if name.startswith((".", "_")):
            continue  # in progress: not committed
        for line in (out / name).read_text().splitlines():
            r = json.loads(line)
            ws, we = (_ms(r[c]) for c in ("window_start", "window_end"))
            rows.append((r["k"], ws, we, r["c"], r["s"], r["mn"], r["mx"]))
    return sorted(rows)


def _ms(text: str) -> int:
    return (dt.datetime.fromisoformat(text) - EPOCH) // dt.timedelta(milliseconds=1)


def config(tmp: Path, q: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "execution.checkpointing.interval": "100 ms",
        "pipeline.name": "sql-oracle",
        "state.checkpoints.dir": str(tmp / "checkpoints"),
        "parallelism.default": str(q["parallelism"]),
        "sqlstream.checkpoint.resume": "none",
        **extra,
    }


def run(tmp: Path, q: dict[str, Any]) -> None:
    out = tmp / "out"
    if not q["restore"]:
        with sqlstream.connect(config=config(tmp, q)) as s:
            s.execute_script(ddl(q, out, None))
            handle = s.execute(insert(q)).job
            assert handle is not None
            handle.wait(60)
            assert handle.error is None, handle.error
        return
    # about 4 s of input: stopped with a savepoint after its first checkpoint
    with sqlstream.connect(config=config(tmp, q)) as s:
        s.execute_script(ddl(q, out, max(q["rows"] // 4, 25)))
        handle = s.execute(insert(q)).job
        assert handle is not None
        deadline = time.monotonic() + 20
        while handle.metrics().get("checkpoints", {}).get("completed", 0) < 1:
            assert time.monotonic() < deadline and not handle.done, handle.error
            time.sleep(0.01)
        try:
            ((path,),) = s.execute(f"STOP JOB '{handle.id}' WITH SAVEPOINT").rows
        except SqlStreamError:  # a loaded machine: the input ended first
            handle.wait(60)
            assert handle.status == "FINISHED", handle.error
            event("the job finished before its savepoint")
            return
    with sqlstream.connect(config=config(tmp, q, **{"execution.savepoint.path": path})) as s:
        s.execute_script(ddl(q, out, None))
        handle = s.execute(insert(q)).job
        assert handle is not None
        handle.wait(60)
        assert handle.error is None, handle.error
        assert handle.metrics()["checkpoints"]["restored_from"] == path


@settings(max_examples=examples(8), deadline=None, suppress_health_check=list(HealthCheck))
@given(queries())
def test_window_queries_through_sql_equal_duckdb(tmp_path_factory: Any, q: dict[str, Any]) -> None:
    tmp = tmp_path_factory.mktemp("q")
    run(tmp, q)
    assert published(tmp / "out") == oracle(q), q
