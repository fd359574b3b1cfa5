"""The jdbc connector from SQL, through the engine (Session, planner, tasks) against the
real PostgreSQL server: the retractions of an unwindowed GROUP BY end in the right table,
a windowed aggregation lands exactly once in an append table across a failure and
restart, and a PostgreSQL table is a bounded source.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlstream.session import Session

from .test_postgres_connector import execute, unique_table

pytestmark = pytest.mark.postgres


@pytest.fixture
def session() -> Iterator[Session]:
    s = Session(config={"table.dml-sync": "true"})
    yield s
    s.close()


def jdbc(pg_url: str, table: str, **extra: str) -> str:
    opts = {
        "connector": "jdbc",
        "url": pg_url,
        "username": "sqlstream",
        "password": "sqlstream",
        "table-name": table,
        **extra,
    }
    return ", ".join(f"'{k}' = '{v}'" for k, v in opts.items())


def run(session: Session, script: str) -> list[Any]:
    results = session.execute_script(script)
    for r in results:
        if r.job is not None and r.job.error is not None:
            raise r.job.error
    return results


def test_unwindowed_group_by_upserts_its_retractions(session: Session, pg_dsn: str, pg_url: str) -> None:
    t, raw = unique_table("per_user"), unique_table("raw")
    execute(pg_dsn, f'CREATE TABLE "{t}" (user_id int PRIMARY KEY, clicks bigint, last_url text)')
    execute(pg_dsn, f'CREATE TABLE "{raw}" (user_id int, url text)')
    try:
        run(
            session,
            f"""
            CREATE TABLE clicks (user_id INT, url STRING) WITH (
                'connector' = 'datagen', 'number-of-rows' = '3000', 'sqlstream.seed' = '3',
                'fields.user_id.min' = '1', 'fields.user_id.max' = '40', 'fields.url.length' = '4');
            CREATE TABLE per_user (user_id INT, clicks BIGINT, last_url STRING,
                PRIMARY KEY (user_id) NOT ENFORCED)
            WITH ({jdbc(pg_url, t, **{"sink.buffer-flush.max-rows": "50"})});
            CREATE TABLE raw (user_id INT, url STRING) WITH ({jdbc(pg_url, raw)});
            INSERT INTO raw SELECT * FROM clicks;
            INSERT INTO per_user SELECT user_id, COUNT(*), MAX(url) FROM clicks GROUP BY user_id;
            """,
        )
        # The same rows (a seeded datagen), aggregated by PostgreSQL itself.
        expected = execute(pg_dsn, f'SELECT user_id, count(*), max(url) FROM "{raw}" GROUP BY 1 ORDER BY 1')
        assert sum(r[1] for r in expected) == 3000
        assert execute(pg_dsn, f'SELECT user_id, clicks, last_url FROM "{t}" ORDER BY 1') == expected
    finally:
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{t}"')
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{raw}"')


def test_windowed_aggregation_lands_exactly_once_across_a_failure(
    pg_dsn: str, pg_url: str, tmp_path: Path
) -> None:
    """An append table (no key: a replayed window would be a second row), and a job that
    fails after some windows were committed: a bad record arrives, the job restarts from
    its newest checkpoint, the record is fixed, and every window is in the table once."""
    t = unique_table("windows")
    execute(pg_dsn, f'CREATE TABLE "{t}" (window_start timestamp(3), window_end timestamp(3), n bigint)')
    prefix = f"test-{t}"
    folder = tmp_path / "in"
    folder.mkdir()
    config = {
        "execution.checkpointing.interval": "200 ms",
        "state.checkpoints.dir": str(tmp_path / "chk"),
        "pipeline.name": t,
        "restart-strategy.fixed-delay.delay": "300 ms",
    }
    session = Session(config=config)
    try:
        run(
            session,
            f"""
            CREATE TABLE ev (seq BIGINT, ts AS TO_TIMESTAMP_LTZ(seq * 10, 3),
                WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
            WITH ('connector' = 'filesystem', 'path' = '{folder}', 'format' = 'json',
                'source.monitor-interval' = '100 ms');
            CREATE TABLE out (window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT)
            WITH ({jdbc(pg_url, t, **{"sink.transactional-id-prefix": prefix,
                                       "sink.delivery-guarantee": "exactly-once"})});
            """,
        )
        _write(folder / "a.json", range(0, 5000))  # 50 s of event time
        job = session.execute(
            "INSERT INTO out SELECT window_start, window_end, COUNT(*) "
            "FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) "
            "GROUP BY window_start, window_end"
        ).job
        assert job is not None
        windows = f'SELECT count(*) FROM "{t}"'
        _until(lambda: execute(pg_dsn, windows) == [(4,)], job)  # [0 s, 40 s) committed
        _write(folder / "b.json", range(5000, 10000), bad_at=7000)
        _until(lambda: bool(job.restarts), job)
        assert "line 2001" in job.restarts[0]  # it failed on the bad record
        _write(folder / "b.json", range(5000, 10000))  # fixed in place
        _write(folder / "c.json", range(10100, 10101))  # its time closes [90 s, 100 s)
        _until(lambda: execute(pg_dsn, windows) == [(10,)], job)
        done = job.metrics()["checkpoints"]["completed"]
        _until(lambda: job.metrics()["checkpoints"]["completed"] >= done + 2, job)  # a replay would be in
        rows = execute(pg_dsn, f'SELECT extract(epoch FROM window_start)::int, n FROM "{t}" ORDER BY 1')
        assert rows == [(s, 1000) for s in range(0, 100, 10)]
    finally:
        session.close()
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{t}"')


def _write(path: Path, seqs: range, bad_at: int | None = None) -> None:
    lines = [json.dumps({"seq": i}) if i != bad_at else '{"seq": oops' for i in seqs]
    tmp = path.with_name("." + path.name)  # hidden until complete
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def _until(condition: Callable[[], bool], job: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out; job {job.status}: {job.error} {job.restarts}"
        time.sleep(0.05)


def test_a_row_that_having_filters_out_is_deleted(session: Session, pg_dsn: str, pg_url: str) -> None:
    """A group whose new row fails HAVING sends only its -U: the sink deletes the key, as
    Flink's JDBC sink does (UPDATE_BEFORE flags a delete). Skipped, the group's last row
    that passed stayed in the table (a user past 74 clicks stayed at its last count below)."""
    t, raw = unique_table("few_clicks"), unique_table("raw")
    execute(pg_dsn, f'CREATE TABLE "{t}" (user_id int PRIMARY KEY, clicks bigint)')
    execute(pg_dsn, f'CREATE TABLE "{raw}" (user_id int, url text)')
    try:
        run(
            session,
            f"""
            CREATE TABLE clicks (user_id INT, url STRING) WITH (
                'connector' = 'datagen', 'number-of-rows' = '3000', 'sqlstream.seed' = '3',
                'fields.user_id.min' = '1', 'fields.user_id.max' = '40', 'fields.url.length' = '4');
            CREATE TABLE few (user_id INT, clicks BIGINT, PRIMARY KEY (user_id) NOT ENFORCED)
            WITH ({jdbc(pg_url, t, **{"sink.buffer-flush.max-rows": "50"})});
            CREATE TABLE raw (user_id INT, url STRING) WITH ({jdbc(pg_url, raw)});
            INSERT INTO raw SELECT * FROM clicks;
            INSERT INTO few SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id HAVING COUNT(*) < 75;
            """,
        )
        expected = execute(
            pg_dsn, f'SELECT user_id, count(*) FROM "{raw}" GROUP BY 1 HAVING count(*) < 75 ORDER BY 1'
        )
        got = execute(pg_dsn, f'SELECT user_id, clicks FROM "{t}" ORDER BY 1')
        assert 0 < len(expected) < 40  # some groups end below the bar, some above it
        assert got == expected
    finally:
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{t}"')
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{raw}"')


def test_a_postgres_table_is_a_bounded_source(session: Session, pg_dsn: str, pg_url: str) -> None:
    src, dst = unique_table("src"), unique_table("dst")
    execute(pg_dsn, f'CREATE TABLE "{src}" (id int, amount numeric(8,2))')
    execute(pg_dsn, f'INSERT INTO "{src}" SELECT g, g / 4.0 FROM generate_series(1, 1000) g')
    execute(pg_dsn, f'CREATE TABLE "{dst}" (bucket int PRIMARY KEY, total numeric(12,2))')
    try:
        run(
            session,
            f"""
            SET 'parallelism.default' = '2';
            CREATE TABLE src (id INT, amount DECIMAL(8, 2)) WITH ({
                jdbc(
                    pg_url,
                    src,
                    **{
                        "scan.partition.column": "id",
                        "scan.partition.num": "4",
                        "scan.partition.lower-bound": "1",
                        "scan.partition.upper-bound": "1000",
                    },
                )
            });
            CREATE TABLE dst (bucket INT, total DECIMAL(12, 2), PRIMARY KEY (bucket) NOT ENFORCED)
            WITH ({jdbc(pg_url, dst, **{"sink.delivery-guarantee": "at-least-once"})});
            INSERT INTO dst SELECT id % 10, SUM(amount) FROM src GROUP BY id % 10;
            """,
        )
        expected = execute(pg_dsn, f'SELECT id % 10, sum(amount) FROM "{src}" GROUP BY 1 ORDER BY 1')
        assert execute(pg_dsn, f'SELECT bucket, total FROM "{dst}" ORDER BY 1') == expected
    finally:
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{src}"')
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{dst}"')
