"""Flink's dynamic table options, ``FROM t /*+ OPTIONS('k' = 'v') */`` and ``INSERT INTO t
/*+ OPTIONS(...) */``: they were read as a comment and ignored, so a query ran with the
table's own options (all its rows where the hint asked for two)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError

SRC = "CREATE TABLE src (id INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5')"


def test_a_hint_sets_options_of_that_read_only() -> None:
    with sqlstream.connect() as s:
        s.execute(SRC)
        row = s.sql(
            "SELECT (SELECT COUNT(*) FROM src /*+ OPTIONS('number-of-rows' = '2') */) AS hinted, "
            "(SELECT COUNT(*) FROM src) AS plain"
        ).fetchall()
        assert row == [(2, 5)]
        assert s.catalog.table("src").options["number-of-rows"] == "5"  # the table is unchanged


def test_an_insert_hint_sets_the_sink_options(tmp_path: Path) -> None:
    with sqlstream.connect() as s:
        s.execute(SRC)
        s.execute(
            "CREATE TABLE out (id INT) WITH "
            f"('connector' = 'filesystem', 'path' = '{tmp_path / 'a'}', 'format' = 'json')"
        )
        job = s.execute(f"INSERT INTO out /*+ OPTIONS('path' = '{tmp_path / 'b'}') */ SELECT id FROM src").job
        assert job is not None
        job.wait(30)
    written = [json.loads(line) for f in (tmp_path / "b").rglob("*") if f.is_file() for line in f.open()]
    assert len(written) == 5 and not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM src /*+ OPTIONS('number-of-rowz' = '2') */", "unknown option 'number-of-rowz'"),
        (
            "SELECT * FROM v /*+ OPTIONS('number-of-rows' = '2') */",
            "View 'v' cannot be enriched with new options",
        ),
        ("SELECT * FROM src /*+ OPTIONS('number-of-rows') */", "is not a list of 'key' = 'value'"),
    ],
)
def test_bad_hints_are_refused_where_they_are(sql: str, message: str) -> None:
    with sqlstream.connect() as s:
        s.execute(SRC)
        s.execute("CREATE VIEW v AS SELECT * FROM src")
        with pytest.raises(SqlStreamError) as e:
            s.sql(sql)
    assert message in e.value.message and e.value.col == 15
