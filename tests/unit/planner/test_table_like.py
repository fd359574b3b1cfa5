"""CREATE TABLE ... LIKE (refused before): a table made from another's definition, merged by
Flink's rules (MergeTableLikeUtil) and refused with Flink's messages where the two clash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError

BASE = (
    "CREATE TABLE events (id INT, name STRING, ts TIMESTAMP(3), up AS UPPER(name), "
    "PRIMARY KEY (id) NOT ENFORCED, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) "
    "WITH ('connector' = 'datagen', 'number-of-rows' = '10', 'fields.id.kind' = 'sequence', "
    "'fields.id.start' = '1', 'fields.id.end' = '10')"
)


def described(s: sqlstream.Session, table: str) -> list[tuple[str, ...]]:
    return [tuple(str(v) for v in row[:6]) for row in s.execute(f"DESCRIBE {table}").rows]


def test_like_without_options_takes_everything_and_overwrites_options() -> None:
    """Flink's default, INCLUDING ALL OVERWRITING OPTIONS: the same columns, computed column,
    watermark and key, the source's options with the new table's over them."""
    with sqlstream.connect() as s:
        s.execute(BASE)
        s.execute("CREATE TABLE few WITH ('number-of-rows' = '3', 'fields.id.end' = '3') LIKE events")
        assert described(s, "few") == described(s, "events")
        table = s.catalog.table("few")
        assert table.options["number-of-rows"] == "3" and table.options["connector"] == "datagen"
        rows = s.sql("SELECT id, up = UPPER(name) FROM few").fetchall()
    assert sorted(rows) == [(1, True), (2, True), (3, True)]


def test_options_select_what_is_taken_and_new_columns_follow() -> None:
    with sqlstream.connect() as s:
        s.execute(BASE)
        s.execute(
            "CREATE TABLE t (extra AS id * 2, up AS LOWER(name), WATERMARK FOR ts AS ts) "
            "WITH ('connector' = 'datagen', 'number-of-rows' = '1') "
            "LIKE events (EXCLUDING OPTIONS OVERWRITING WATERMARKS "
            "EXCLUDING CONSTRAINTS OVERWRITING GENERATED)"
        )
        table = s.catalog.table("t")
        ddl = s.execute("SHOW CREATE TABLE t").message
    assert table.schema.names == ["id", "name", "ts", "up", "extra"]  # overwritten in place, new last
    assert table.schema.column("up").expr == "LOWER(name)" and table.schema.primary_key == ()
    assert table.schema.watermark is not None and table.schema.watermark.expr == "ts"
    assert table.options == {"connector": "datagen", "number-of-rows": "1"}
    assert "LIKE" not in ddl and "`extra` AS id * 2" in ddl


def test_excluding_all_keeps_only_the_physical_columns() -> None:
    with sqlstream.connect() as s:
        s.execute(BASE)
        s.execute("CREATE TABLE bare WITH ('connector' = 'blackhole') LIKE events (EXCLUDING ALL)")
        table = s.catalog.table("bare")
    assert table.schema.names == ["id", "name", "ts"] and table.schema.watermark is None
    assert table.options == {"connector": "blackhole"}


def test_a_like_sink_over_another_path_gets_the_same_rows(tmp_path: Path) -> None:
    """The everyday use: an archive table like the source, only its path differs."""
    (tmp_path / "in").mkdir()
    rows = [{"id": i, "name": f"n{i}", "ts": f"2024-01-01 00:00:0{i}"} for i in range(3)]
    (tmp_path / "in" / "a.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with sqlstream.connect() as s:
        s.execute(
            "CREATE TABLE src (id INT, name STRING, ts TIMESTAMP(3), up AS UPPER(name)) WITH "
            f"('connector' = 'filesystem', 'path' = '{tmp_path / 'in'}', 'format' = 'json')"
        )
        s.execute(f"CREATE TABLE archive WITH ('path' = '{tmp_path / 'out'}') LIKE src")
        s.execute("INSERT INTO archive SELECT id, name, ts FROM src").job.wait(30)  # type: ignore[union-attr]
        got = s.sql("SELECT id, name, up FROM archive").fetchall()
    assert sorted(got) == [(i, f"n{i}", f"N{i}") for i in range(3)]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("CREATE TABLE t (id BIGINT) LIKE events", "A column named 'id' already exists in the base table."),
        ("CREATE TABLE t (up AS LOWER(name)) LIKE events", "You might want to specify EXCLUDING GENERATED"),
        ("CREATE TABLE t (name AS LOWER(name)) LIKE events", "can only overwrite other computed"),
        ("CREATE TABLE t (WATERMARK FOR ts AS ts) LIKE events", "already exists a watermark spec for"),
        (
            "CREATE TABLE t WITH ('number-of-rows' = '5') LIKE events (INCLUDING OPTIONS)",
            "There already exists an option ['number-of-rows' -> '10']",
        ),
        ("CREATE TABLE t (PRIMARY KEY (name) NOT ENFORCED) LIKE events", "already has a primary key"),
        ("CREATE TABLE t (PRIMARY KEY (up) NOT ENFORCED) LIKE events (EXCLUDING CONSTRAINTS)", "physical"),
        ("CREATE TABLE t LIKE v", "Source table 'v' of the LIKE clause can not be a VIEW"),
        ("CREATE TABLE t LIKE nope", "'nope' not found"),
        ("CREATE TABLE t LIKE events (OVERWRITING CONSTRAINTS)", "Illegal merging strategy 'OVERWRITING'"),
        ("CREATE TABLE t LIKE events (INCLUDING ALL EXCLUDING ALL)", "can be declared only once"),
        ("CREATE TABLE t LIKE events (INCLUDING KEYS)", "a LIKE option is INCLUDING, EXCLUDING"),
    ],
)
def test_clashes_are_refused_with_flinks_message(sql: str, message: str) -> None:
    with sqlstream.connect() as s:
        s.execute(BASE)
        s.execute("CREATE VIEW v AS SELECT * FROM events")
        with pytest.raises(SqlStreamError) as e:
            s.execute(sql)
    assert message in e.value.message
