"""Dates and timestamps Python's datetime cannot hold (year 0, year 10000) reach the user as
the text Flink prints for them, instead of failing the fetch; every other value in the same
batch stays a ``datetime.date`` / ``datetime.datetime``."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

import sqlstream
from sqlstream.far_dates import column_values

ROWS = [{"id": 1, "s": "0"}, {"id": 2, "s": "2024-02-29"}, {"id": 3, "s": None}]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("far") / "rows.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    s = sqlstream.connect()
    s.execute(
        "CREATE TABLE t (id INT, s STRING) "
        f"WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"
    )
    yield s
    s.close()


def test_year_zero_is_flinks_text_among_ordinary_dates(session: sqlstream.Session) -> None:
    rows = sorted(session.sql("SELECT id, TRY_CAST(s AS DATE) FROM t").fetchall())
    assert rows == [(1, "0000-01-01"), (2, dt.date(2024, 2, 29)), (3, None)]


def test_past_year_9999_is_flinks_text(session: sqlstream.Session) -> None:
    (row,) = session.sql(
        "SELECT DATE '9999-12-31' + INTERVAL '1' DAY, "
        "TIMESTAMP '9999-12-31 23:59:59.999' + INTERVAL '1' DAY, "
        "TIMESTAMP '2024-02-29 13:45:30' FROM t WHERE id = 2"
    ).fetchall()
    assert row == ("+10000-01-01", "+10000-01-01 23:59:59.999", dt.datetime(2024, 2, 29, 13, 45, 30))


def test_changelog_rows_carry_the_text_too(session: sqlstream.Session) -> None:
    log = list(session.sql("SELECT TRY_CAST(s AS DATE) AS d FROM t WHERE id = 1").changelog())
    assert log == [(0, ("0000-01-01",))]


def test_negative_years_print_with_four_digits() -> None:

    days = pa.array([-719528 - 365, 0], pa.int32()).cast(pa.date32())
    assert column_values(days) == ["-0001-01-01", dt.date(1970, 1, 1)]
