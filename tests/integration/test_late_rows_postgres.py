"""Late rows kept in a PostgreSQL table (two-phase commit, as for any jdbc sink): every row
read is counted in a window or kept as late exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlstream.session import Session

from .test_postgres_connector import execute, unique_table
from .test_postgres_sql import jdbc, run

pytestmark = pytest.mark.postgres

ROWS = 3000


def test_late_rows_land_exactly_once_in_a_postgres_table(pg_dsn: str, pg_url: str, tmp_path: Path) -> None:
    windows, late = unique_table("per_second"), unique_table("late")
    execute(pg_dsn, f'CREATE TABLE "{windows}" (k int, n bigint)')
    execute(pg_dsn, f'CREATE TABLE "{late}" (operator text, event_time timestamp(3), '
                    'watermark_time timestamp(3), row_json text)')  # fmt: skip
    session = Session(config={
        "table.dml-sync": "true",
        "execution.checkpointing.interval": "200 ms",
        "state.checkpoints.dir": str(tmp_path),
        "table.exec.late-rows.sink": "late_rows",
    })  # fmt: skip
    try:
        run(session, f"""
            CREATE TABLE clicks (k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
            WITH ('connector' = 'datagen', 'rows-per-second' = '3000', 'number-of-rows' = '{ROWS}',
                  'fields.k.min' = '1', 'fields.k.max' = '5', 'fields.ts.max-past' = '4 s');
            CREATE TABLE per_second (k INT, n BIGINT) WITH ({jdbc(pg_url, windows)});
            CREATE TABLE late_rows (operator STRING, event_time TIMESTAMP(3),
                watermark_time TIMESTAMP(3), row_json STRING) WITH ({jdbc(pg_url, late)});
            INSERT INTO per_second SELECT k, COUNT(*) FROM
                TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
                GROUP BY k, window_start, window_end;
        """)
        explain = session.execute(
            "EXPLAIN INSERT INTO per_second SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, "
            "DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end"
        ).message
        assert "written to table late_rows (exactly-once)" in explain
    finally:
        session.close()
    ((counted,),) = execute(pg_dsn, f'SELECT sum(n) FROM "{windows}"')
    ((kept, behind),) = execute(
        pg_dsn, f'SELECT count(*), count(*) FILTER (WHERE event_time <= watermark_time) FROM "{late}"'
    )
    assert kept > 0 and behind == kept
    assert counted + kept == ROWS
