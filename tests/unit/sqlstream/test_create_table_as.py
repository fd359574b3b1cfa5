"""CREATE TABLE ... AS SELECT (refused before): the table made with the query's columns, then
the query inserted into it as a job, as Flink runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError

SRC = (
    "CREATE TABLE src (id INT, name STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH "
    "('connector' = 'datagen', 'number-of-rows' = '5', 'fields.id.kind' = 'sequence', "
    "'fields.id.start' = '1', 'fields.id.end' = '5')"
)


def sink(path: Path) -> str:
    return f"WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"


def written(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for f in sorted(path.rglob("*")) if f.is_file() for line in f.open()]


def test_the_table_has_the_querys_columns_and_gets_its_rows(tmp_path: Path) -> None:
    with sqlstream.connect() as s:
        s.execute(SRC)
        result = s.execute(f"CREATE TABLE out {sink(tmp_path)} AS SELECT id, id * 2 AS twice, ts FROM src")
        assert result.job is not None and "Table 'out' created." in result.message
        result.job.wait(30)
        table = s.catalog.table("out")
    assert [(c.name, c.type.sql()) for c in table.schema.columns] == [
        ("id", "INT"),
        ("twice", "INT"),
        ("ts", "TIMESTAMP(3)"),  # a time attribute of the query, a plain timestamp of the table
    ]
    assert sorted((r["id"], r["twice"]) for r in written(tmp_path)) == [(i, 2 * i) for i in range(1, 6)]


def test_if_not_exists_inserts_into_the_table_there(tmp_path: Path) -> None:
    with sqlstream.connect() as s:
        s.execute(SRC)
        s.execute(f"CREATE TABLE out (id INT) {sink(tmp_path)}")
        result = s.execute(f"CREATE TABLE IF NOT EXISTS out {sink(tmp_path / 'x')} AS SELECT id FROM src")
        assert result.job is not None and "Table 'out' exists." in result.message
        result.job.wait(30)
    assert sorted(r["id"] for r in written(tmp_path)) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("CREATE TABLE src {sink} AS SELECT id FROM src", "already exists"),
        ("CREATE TABLE out {sink} AS SELECT name, COUNT(*) AS n FROM src GROUP BY name", "update changes"),
        (
            "CREATE TABLE out (PRIMARY KEY (nope) NOT ENFORCED) {sink} AS SELECT id FROM src",
            "key column 'nope'",
        ),
        ("CREATE TABLE out (id BOOLEAN) {sink} AS SELECT id FROM src", "BOOLEAN"),
        ("CREATE TABLE out {sink} AS SELECT nope FROM src", "nope"),
    ],
)
def test_a_refused_statement_leaves_no_table_and_writes_nothing(
    tmp_path: Path, sql: str, message: str
) -> None:
    with sqlstream.connect() as s:
        s.execute(SRC)
        with pytest.raises(SqlStreamError) as e:
            s.execute(sql.format(sink=sink(tmp_path)))
        assert message in e.value.message
        assert [t.name for t in s.catalog.tables()] == ["src"]
    assert not tmp_path.joinpath("x").exists() and written(tmp_path) == []


def test_its_own_columns_key_and_watermark_merge_with_the_querys_as_in_flink_2(tmp_path: Path) -> None:
    """FLIP-463: the columns only the CREATE part declares come first (NULL in every row),
    then the query's in its order; one both name takes the declared type (cast on insert);
    the key and watermark are the declared ones."""
    with sqlstream.connect() as s:
        s.execute(SRC)
        result = s.execute(
            "CREATE TABLE out (note STRING, id BIGINT, PRIMARY KEY (id) NOT ENFORCED, "
            f"WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) {sink(tmp_path)} AS SELECT id, name, ts FROM src"
        )
        assert result.job is not None
        result.job.wait(30)
        table = s.catalog.table("out")
    assert [(c.name, c.type.sql()) for c in table.schema.columns] == [
        ("note", "STRING"),
        ("id", "BIGINT NOT NULL"),
        ("name", "STRING"),
        ("ts", "TIMESTAMP(3)"),
    ]
    assert table.schema.primary_key == ("id",)
    assert table.schema.watermark is not None and table.schema.watermark.column == "ts"
    rows = written(tmp_path)
    assert sorted(r["id"] for r in rows) == [1, 2, 3, 4, 5]
    assert all(r["note"] is None and list(r) == ["note", "id", "name", "ts"] for r in rows)
