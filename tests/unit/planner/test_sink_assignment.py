"""What an INSERT may write into a column of another type without a CAST: Flink's sink
validation (its implicit casts). Each case below was run on Flink 2.3 (a filesystem csv
sink, batch mode, 2026-12-04): it refused or accepted it as listed, and wrote the value
given (its csv writer drops a DECIMAL's trailing zeros, '1' for 1.00, and quotes a
timestamp, as ours now does: tests/oracle/sink_text.json).
sqlstream wrote 5000000000 into an INT column as 705032704 and 1.9 as 1."""

from __future__ import annotations

from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError

# case -> (sink column, what is inserted, what Flink wrote; None: refused at plan time)
CASES: dict[str, tuple[str, str, str | None]] = {
    "bigint-into-int": ("INT", "SELECT CAST(5000000000 AS BIGINT)", None),
    "int-into-smallint": ("SMALLINT", "SELECT 70000", None),
    "int-literal-into-tinyint": ("TINYINT", "VALUES (1)", None),
    "double-into-int": ("INT", "SELECT CAST(1.9 AS DOUBLE)", None),
    "decimal-into-int": ("INT", "SELECT CAST(1.9 AS DECIMAL(2, 1))", None),
    "string-into-int": ("INT", "SELECT '12'", None),
    "int-into-string": ("STRING", "SELECT 12", None),
    "int-into-bigint": ("BIGINT", "SELECT 12", "12"),
    "int-into-double": ("DOUBLE", "SELECT 12", "12.0"),
    "int-into-decimal": ("DECIMAL(5, 2)", "VALUES (1)", "1"),
    "decimal-rounded": ("DECIMAL(10, 1)", "SELECT CAST(1.26 AS DECIMAL(4, 2))", "1.3"),
    "decimal-too-wide-is-null": ("DECIMAL(5, 2)", "SELECT CAST(12345.678 AS DECIMAL(8, 3))", ""),
    "timestamp-cut": ("TIMESTAMP(0)", "SELECT TIMESTAMP '2024-01-01 00:00:10.5'", '"2024-01-01 00:00:10"'),
    "timestamp-into-date": ("DATE", "SELECT TIMESTAMP '2024-01-01 10:00:00'", "2024-01-01"),
    "string-into-varchar": ("VARCHAR(3)", "SELECT 'abc'", "abc"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_insert_writes_what_flink_writes_or_is_refused_as_flink_refuses(tmp_path: Path, case: str) -> None:
    column, query, written = CASES[case]
    with sqlstream.connect() as s:
        s.execute(
            f"CREATE TABLE t (a {column}) WITH ('connector' = 'filesystem', 'path' = '{tmp_path}', "
            "'format' = 'csv')"
        )
        if written is None:
            with pytest.raises(SqlStreamError, match=f"column 'a' of table 't' is {column.split('(')[0]}"):
                s.execute(f"INSERT INTO t {query}")
            return
        job = s.execute(f"INSERT INTO t {query}").job
        assert job is not None and job.wait(60) and job.error is None
        assert [p.read_text().strip() for p in tmp_path.glob("part-*")] == [written]


def test_a_column_list_insert_is_checked_too(tmp_path: Path) -> None:
    with sqlstream.connect() as s:
        s.execute(
            f"CREATE TABLE t (a INT, b STRING) WITH ('connector' = 'filesystem', 'path' = '{tmp_path}', "
            "'format' = 'csv')"
        )
        with pytest.raises(
            SqlStreamError, match="column 'a' of table 't' is INT, but the query gives BIGINT"
        ):
            s.execute("INSERT INTO t (b, a) SELECT 'x', CAST(5000000000 AS BIGINT)")


@pytest.mark.parametrize("enforcer", ["ERROR", "DROP"])
def test_a_null_into_a_not_null_column_fails_the_job_or_drops_the_row(tmp_path: Path, enforcer: str) -> None:
    """Flink's 'table.exec.sink.not-null-enforcer' (ERROR by default): sqlstream wrote the
    NULL, breaking the column's declared NOT NULL."""
    with sqlstream.connect(config={"table.exec.sink.not-null-enforcer": enforcer}) as s:
        s.execute(
            f"CREATE TABLE t (a INT NOT NULL, b STRING) WITH ('connector' = 'filesystem', "
            f"'path' = '{tmp_path}', 'format' = 'csv')"
        )
        job = s.execute(
            "INSERT INTO t SELECT x, y FROM (VALUES (1, 'p'), (CAST(NULL AS INT), 'q')) AS v(x, y)"
        ).job
        assert job is not None and job.wait(60)
        written = [line for p in tmp_path.glob("part-*") for line in p.read_text().splitlines()]
        if enforcer == "ERROR":
            assert job.error is not None and "column 'a' is NOT NULL" in str(job.error)
        else:
            assert job.error is None and written == ["1,p"]
            (sink,) = [op for op in job.metrics()["operators"] if op["kind"] == "sink"]
            assert sink["null_rows_dropped"] == 1 and job.metrics()["rows_written"] == 1
