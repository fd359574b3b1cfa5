"""Late rows kept, through SQL: a window aggregate's rows behind the watermark land in the
table named by ``table.exec.late-rows.sink``, committed with the checkpoints; every row
read ends up either counted in a window or kept as late, none in both, none lost."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

import sqlstream

ROWS = 4000


def clicks_file(path: Path) -> Path:
    """ROWS clicks 10 ms apart, every seventh 3 s behind the others: read 100 rows a batch,
    those are behind a watermark that trails by 1 s, whatever the machine's speed (a
    rate-limited datagen made late rows only when the job kept up with it)."""
    start = datetime(2024, 1, 1)
    lines = []
    for i in range(ROWS):
        ts = start + timedelta(milliseconds=10 * i - (3000 if i % 7 == 6 else 0))
        lines.append(json.dumps({"k": i % 5 + 1, "ts": ts.isoformat(sep=" ", timespec="milliseconds")}))
    path.mkdir()
    (path / "clicks.json").write_text("\n".join(lines) + "\n")
    return path


def create_clicks(s: sqlstream.Session, path: Path) -> None:
    """Table ``clicks`` of ``clicks_file``'s rows, its watermark 1 s behind."""
    s.execute(f"""
        CREATE TABLE clicks (k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
        WITH ('connector' = 'filesystem', 'path' = '{clicks_file(path)}', 'format' = 'json')""")


def run_keeping_late_rows(s: sqlstream.Session, insert: str, path: Path) -> tuple[int, list[dict[str, Any]]]:
    """Runs the bounded ``insert`` with its late rows kept in table ``late_clicks`` (json
    files under ``path``): the late rows it counted, and those kept."""
    s.execute(f"""CREATE TABLE late_clicks (
            operator STRING, event_time TIMESTAMP(3), watermark_time TIMESTAMP(3), row_json STRING
        ) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')""")
    job = s.execute(insert).job
    assert job is not None
    assert job.wait(120), "the bounded job did not finish"
    assert job.error is None, job.error
    late = [json.loads(line) for f in sorted(path.rglob("*")) if f.is_file()
            for line in f.read_text().splitlines()]  # fmt: skip
    return job.metrics()["late_rows_dropped"], late


def test_every_row_is_in_a_window_or_in_the_late_rows_table(tmp_path: Path) -> None:
    config = {
        "execution.checkpointing.interval": "200 ms",
        "state.checkpoints.dir": str(tmp_path / "ck"),
        "table.exec.late-rows.sink": "late_clicks",
        "sqlstream.runtime.batch-size": "100",
    }
    with sqlstream.connect(config=config) as s:
        create_clicks(s, tmp_path / "clicks")
        s.execute(f"""CREATE TABLE per_second (k INT, n BIGINT) WITH (
            'connector' = 'filesystem', 'path' = '{tmp_path / "windows"}', 'format' = 'csv')""")
        insert = """INSERT INTO per_second SELECT k, COUNT(*) FROM
            TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
            GROUP BY k, window_start, window_end"""
        dropped, late = run_keeping_late_rows(s, insert, tmp_path / "late")
    windows = f"read_csv('{tmp_path}/windows/**/*', header=false)"
    counted = duckdb.connect().execute(f"SELECT sum(column1) FROM {windows}").fetchone()
    assert dropped > 0, "rows 3 s back behind a 1 s watermark delay are late"
    assert len(late) == dropped
    assert counted is not None and counted[0] + len(late) == ROWS
    for row in late:
        assert row["operator"].startswith("WindowAggregate#")
        event = datetime.fromisoformat(row["event_time"])
        # behind the watermark when it was dropped; the row itself is kept whole
        assert event <= datetime.fromisoformat(row["watermark_time"])
        original = json.loads(row["row_json"])
        assert set(original) == {"k", "ts"} and 1 <= original["k"] <= 5
        assert datetime.fromisoformat(original["ts"]) == event


def test_over_aggregate_late_rows_land_in_the_late_rows_table(tmp_path: Path) -> None:
    """An OVER aggregate drops the rows behind the watermark; with the key set they are kept,
    and every row read is either emitted with its aggregate or kept as late."""
    config = {
        "execution.checkpointing.interval": "200 ms",
        "state.checkpoints.dir": str(tmp_path / "ck"),
        "table.exec.late-rows.sink": "late_clicks",
    }
    with sqlstream.connect(config=config) as s:
        s.execute(f"""
            CREATE TABLE clicks (k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
            WITH ('connector' = 'datagen', 'rows-per-second' = '4000', 'number-of-rows' = '{ROWS}',
                  'fields.k.min' = '1', 'fields.k.max' = '5', 'fields.ts.max-past' = '4 s')""")
        s.execute(f"""CREATE TABLE running (k INT, n BIGINT) WITH (
            'connector' = 'filesystem', 'path' = '{tmp_path / "over"}', 'format' = 'csv')""")
        insert = """INSERT INTO running SELECT k, COUNT(*) OVER (PARTITION BY k ORDER BY ts
            RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW) FROM clicks"""
        dropped, late = run_keeping_late_rows(s, insert, tmp_path / "late")
    over = f"read_csv('{tmp_path}/over/**/*', header=false)"
    emitted = duckdb.connect().execute(f"SELECT count(*) FROM {over}").fetchone()
    assert dropped > 0 and len(late) == dropped
    assert emitted is not None and emitted[0] + len(late) == ROWS
    assert all(row["operator"].startswith("OverAggregate(") for row in late)


def test_window_top_n_late_rows_land_in_the_late_rows_table(tmp_path: Path) -> None:
    """A window Top-N drops the rows of windows that already fired; with the key set they
    are kept with their own time, and every row read is either ranked or kept as late."""
    config = {
        "table.exec.late-rows.sink": "late_clicks",
        "sqlstream.runtime.batch-size": "100",
    }
    with sqlstream.connect(config=config) as s:
        create_clicks(s, tmp_path / "clicks")
        s.execute(f"""CREATE TABLE ranked (k INT, ts TIMESTAMP(3), rn BIGINT) WITH (
            'connector' = 'filesystem', 'path' = '{tmp_path / "ranked"}', 'format' = 'csv')""")
        insert = """INSERT INTO ranked SELECT k, ts, rn FROM (SELECT *, ROW_NUMBER() OVER (
            PARTITION BY window_start, window_end ORDER BY ts) AS rn
            FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))) WHERE rn <= 1000"""
        dropped, late = run_keeping_late_rows(s, insert, tmp_path / "late")
    ranked = f"read_csv('{tmp_path}/ranked/**/*', header=false)"
    emitted = duckdb.connect().execute(f"SELECT count(*) FROM {ranked}").fetchone()
    assert dropped > 0 and len(late) == dropped
    assert emitted is not None and emitted[0] + len(late) == ROWS
    for row in late:
        assert row["operator"].startswith("WindowRank")
        event = datetime.fromisoformat(row["event_time"])
        assert datetime.fromisoformat(json.loads(row["row_json"])["ts"]) == event
