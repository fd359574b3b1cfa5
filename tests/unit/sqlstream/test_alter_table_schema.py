"""ALTER TABLE's schema changes (refused before as "ALTER TABLE ... ADD is not supported"):
ADD, MODIFY and DROP of columns, the primary key and the watermark, and RENAME of a column,
as Flink 2.3 runs them on a catalog table.

What Flink answered was asked of Flink 2.3.0 itself (``scripts/flink-python`` running
``t_env.execute_sql`` on the same statements, then ``DESCRIBE``); each expectation below
says what it printed. Its messages start "Failed to execute ALTER TABLE statement.",
which we leave out: ours point at the column or constraint instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from sqlstream.session import Session

# Flink's probe table: a key, a commented column, a rowtime and a computed column
BASE = (
    "CREATE TABLE t (a INT, b STRING COMMENT 'bc', ts TIMESTAMP(3), c AS a + 1, "
    "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND, PRIMARY KEY (a) NOT ENFORCED) "
    "WITH ('connector' = 'datagen')"
)
NUMBERS = (
    "CREATE TABLE nums (n BIGINT, s STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '3', "
    "'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '3')"
)


def described(s: Session, table: str = "t") -> list[tuple[str, str, bool, str | None, str | None]]:
    """DESCRIBE's name, type, nullability, key and extras (computed, metadata) columns."""
    return [row[:5] for row in s.execute(f"DESCRIBE {table}").rows]


def test_add_places_columns_first_after_and_last_as_flink_does() -> None:
    with sqlstream.connect() as s:
        s.execute(BASE)
        result = s.execute("ALTER TABLE t ADD (e INT FIRST, f AS b || 'x' AFTER a, k BIGINT NOT NULL)")
        assert result.message == "Table 't' altered."
        s.execute("ALTER TABLE t ADD d INT")
        # Flink: e INT / a INT NOT NULL PRI(a) / f STRING AS `b` || 'x' / b / ts ROWTIME / c / k
        # BIGINT NOT NULL / d INT (its d added alone, last)
        assert described(s) == [
            ("e", "INT", True, None, None),
            ("a", "INT", False, "PRI(a)", None),
            ("f", "STRING", True, None, "AS b || 'x'"),
            ("b", "STRING", True, None, None),
            ("ts", "TIMESTAMP(3) *ROWTIME*", True, None, None),
            ("c", "INT", False, None, "AS a + 1"),
            ("k", "BIGINT", False, None, None),
            ("d", "INT", True, None, None),
        ]


def test_one_add_brings_columns_a_key_and_a_watermark_on_a_new_column() -> None:
    with sqlstream.connect() as s:
        s.execute("CREATE TABLE n (a INT, b STRING) WITH ('connector' = 'datagen')")
        s.execute(
            "ALTER TABLE n ADD (x INT, PRIMARY KEY (x) NOT ENFORCED, ts AS CAST(b AS TIMESTAMP(3)), "
            "WATERMARK FOR ts AS ts - INTERVAL '2' SECOND, y INT AFTER x, z INT AFTER y)"
        )
        # Flink (without y, z): a / b / x INT NOT NULL PRI(x) / ts TIMESTAMP(3) *ROWTIME* AS CAST(`b`
        # AS TIMESTAMP(3)); and AFTER may name a column the same ADD brings (x INT AFTER b, y INT
        # AFTER x: a, b, x, y)
        assert described(s, "n") == [
            ("a", "INT", True, None, None),
            ("b", "STRING", True, None, None),
            ("x", "INT", False, "PRI(x)", None),
            ("y", "INT", True, None, None),
            ("z", "INT", True, None, None),
            ("ts", "TIMESTAMP(3) *ROWTIME*", True, None, "AS CAST(b AS TIMESTAMP(3))"),
        ]
        s.execute("CREATE TABLE m (a INT, b STRING) WITH ('connector' = 'datagen')")
        s.execute("ALTER TABLE m MODIFY (b INT FIRST, a STRING)")  # Flink: b INT, a STRING
        assert [r[:2] for r in described(s, "m")] == [("b", "INT"), ("a", "STRING")]


def test_add_metadata_column_with_comment_shows_in_show_create_table() -> None:
    with sqlstream.connect() as s:
        s.execute(
            "CREATE TABLE k (a INT) WITH ('connector' = 'kafka', 'topic' = 'alt36', "
            "'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'json')"
        )
        s.execute("ALTER TABLE k ADD m BIGINT METADATA FROM 'offset' VIRTUAL COMMENT 'mc' FIRST")
        assert described(s, "k") == [
            ("m", "BIGINT", True, None, "METADATA FROM 'offset' VIRTUAL"),
            ("a", "INT", True, None, None),
        ]
        ddl = s.execute("SHOW CREATE TABLE k").message
    assert "`m` BIGINT METADATA FROM 'offset' VIRTUAL COMMENT 'mc',\n  `a` INT\n" in ddl


def test_modify_changes_types_and_places_and_keeps_a_comment_not_replaced() -> None:
    with sqlstream.connect() as s:
        s.execute(BASE)
        s.execute("ALTER TABLE t MODIFY b STRING FIRST")
        s.execute("ALTER TABLE t MODIFY (a BIGINT AFTER ts, c AS a * 2 COMMENT 'cc')")
        # Flink: b STRING 'bc' / ts ROWTIME / a BIGINT NOT NULL PRI(a) / c BIGINT NOT NULL
        # AS `a` * 2 'cc': the computed column typed again from the new a
        assert described(s) == [
            ("b", "STRING", True, None, None),
            ("ts", "TIMESTAMP(3) *ROWTIME*", True, None, None),
            ("a", "BIGINT", False, "PRI(a)", None),
            ("c", "BIGINT", False, None, "AS a * 2"),
        ]
        # Flink (MODIFY b INT): b INT, comment 'bc' kept; our names are case-insensitive (Flink's
        # are not), and the column keeps the name it was declared with
        s.execute("ALTER TABLE t MODIFY B INT")
        ddl = s.execute("SHOW CREATE TABLE t").message
    assert "`b` INT COMMENT 'bc'" in ddl
    assert "`c` AS a * 2 COMMENT 'cc'" in ddl


def test_primary_key_added_modified_and_dropped() -> None:
    with sqlstream.connect() as s:
        s.execute("CREATE TABLE p (a INT, b STRING, ts TIMESTAMP(3)) WITH ('connector' = 'datagen')")
        s.execute("ALTER TABLE p ADD PRIMARY KEY (a, b) NOT ENFORCED")
        # Flink: a INT NOT NULL PRI(a, b), b STRING NOT NULL PRI(a, b)
        assert described(s, "p")[:2] == [
            ("a", "INT", False, "PRI(a, b)", None),
            ("b", "STRING", False, "PRI(a, b)", None),
        ]
        s.execute("ALTER TABLE p MODIFY PRIMARY KEY (b) NOT ENFORCED")
        # Flink: a stays NOT NULL without the key; b NOT NULL PRI(b)
        assert described(s, "p")[:2] == [
            ("a", "INT", False, None, None),
            ("b", "STRING", False, "PRI(b)", None),
        ]
        s.execute("ALTER TABLE p DROP PRIMARY KEY")
        assert described(s, "p")[:2] == [("a", "INT", False, None, None), ("b", "STRING", False, None, None)]
        assert "PRIMARY KEY" not in s.execute("SHOW CREATE TABLE p").message


def test_watermark_added_modified_and_dropped() -> None:
    with sqlstream.connect() as s:
        s.execute("CREATE TABLE w (a INT, ts TIMESTAMP(3)) WITH ('connector' = 'datagen')")
        s.execute("ALTER TABLE w ADD WATERMARK FOR ts AS ts - INTERVAL '5' SECOND")
        rows = s.execute("DESCRIBE w").rows
        assert rows[1][:2] == ("ts", "TIMESTAMP(3) *ROWTIME*") and rows[1][5] == "ts - INTERVAL '5' SECOND"
        s.execute("ALTER TABLE w MODIFY WATERMARK FOR ts AS ts")
        assert s.execute("DESCRIBE w").rows[1][5] == "ts"  # Flink: `ts`
        s.execute("ALTER TABLE w DROP WATERMARK")
        assert s.execute("DESCRIBE w").rows[1][:2] == ("ts", "TIMESTAMP(3)")  # Flink: no *ROWTIME*


def test_drop_and_rename_columns() -> None:
    with sqlstream.connect() as s:
        s.execute(BASE)
        s.execute("ALTER TABLE t DROP c")
        s.execute("ALTER TABLE t RENAME b TO b2")
        s.execute("ALTER TABLE t RENAME a TO z")  # the key column, now no computed column uses it
        assert described(s) == [
            ("z", "INT", False, "PRI(z)", None),
            ("b2", "STRING", True, None, None),
            ("ts", "TIMESTAMP(3) *ROWTIME*", True, None, None),
        ]
        s.execute("CREATE TABLE u (a INT, b STRING, c AS a + 1) WITH ('connector' = 'datagen')")
        s.execute("ALTER TABLE u DROP (a, c)")  # Flink: the computed column first, then what it used
        assert described(s, "u") == [("b", "STRING", True, None, None)]


def test_queries_read_the_altered_datagen_table() -> None:
    with sqlstream.connect() as s:
        s.execute(NUMBERS)
        s.execute("ALTER TABLE nums DROP s")
        s.execute("ALTER TABLE nums ADD (k AS n + 100 FIRST, m AS n * 2)")
        assert sorted(s.sql("SELECT * FROM nums").fetchall()) == [(101, 1, 2), (102, 2, 4), (103, 3, 6)]
        s.execute("ALTER TABLE nums MODIFY m AS CAST(n AS STRING) || '!'")
        assert sorted(s.sql("SELECT m FROM nums").fetchall()) == [("1!",), ("2!",), ("3!",)]


def test_queries_read_the_altered_file_table_and_the_change_persists(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("1,x\n2,y\n")
    table = (
        f"CREATE TABLE f (a INT, b STRING) WITH ('connector' = 'filesystem', "
        f"'path' = '{tmp_path / 'data.csv'}', 'format' = 'csv')"
    )
    with sqlstream.connect(tmp_path / "catalog.duckdb") as s:
        s.execute(table)
        s.execute("ALTER TABLE f ADD c AS a * 10 AFTER a")
        s.execute("ALTER TABLE f MODIFY a BIGINT")
        s.execute("ALTER TABLE f RENAME b TO name")
        assert s.sql("SELECT * FROM f").fetchall() == [(1, 10, "x"), (2, 20, "y")]
    with sqlstream.connect(tmp_path / "catalog.duckdb") as s:
        assert described(s, "f") == [
            ("a", "BIGINT", True, None, None),
            ("c", "BIGINT", True, None, "AS a * 10"),
            ("name", "STRING", True, None, None),
        ]
        assert s.sql("SELECT name, c FROM f WHERE a = 2").fetchall() == [("y", 20)]


def test_set_keeps_the_partitioning() -> None:
    with sqlstream.connect() as s:
        s.execute(
            "CREATE TABLE g (a INT, n BIGINT) PARTITIONED BY (n) "
            "WITH ('connector' = 'filesystem', 'path' = '/tmp/alt36-g', 'format' = 'csv')"
        )
        s.execute("ALTER TABLE g SET ('csv.field-delimiter' = ';')")
        assert s.catalog.table("g").partition_keys == ("n",)  # as Flink's SHOW CREATE TABLE after it
        with pytest.raises(SqlStreamError, match=r"The column `n` is used as the partition keys\."):
            s.execute("ALTER TABLE g DROP n")


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE IF EXISTS nope ADD x INT",
        "ALTER TABLE IF EXISTS nope DROP a",
        "ALTER TABLE IF EXISTS nope RENAME a TO b",
        "ALTER TABLE IF EXISTS nope RENAME TO zz",
        "ALTER TABLE IF EXISTS nope SET ('a' = 'b')",
    ],
)
def test_if_exists_on_a_missing_table_does_nothing(sql: str) -> None:
    with sqlstream.connect() as s:  # Flink: OK for each
        assert s.execute(sql).message == "Table 'nope' does not exist."
        assert s.catalog.names() == []


@pytest.mark.parametrize(
    ("sql", "message", "position"),
    [
        # Flink: "Column `a` already exists in the table."
        ("ALTER TABLE t ADD a INT", "Column `a` already exists in the table.", (2, 5)),
        (
            "ALTER TABLE t ADD x INT AFTER nope",
            "Referenced column `nope` by 'AFTER' does not exist in the table.",
            (2, 5),
        ),
        ("ALTER TABLE t ADD (x INT, x STRING)", "Encounter duplicate column `x`.", (2, 13)),
        (
            "ALTER TABLE t ADD PRIMARY KEY (b) NOT ENFORCED",
            "The current table has already defined the primary key constraint [`a`]. "
            "You might want to drop it before adding a new one.",
            (2, 5),
        ),
        (
            "ALTER TABLE t ADD WATERMARK FOR ts AS ts",
            "The current table has already defined the watermark strategy `ts` AS ts - INTERVAL '1' SECOND. "
            "You might want to drop it before adding a new one.",
            (2, 5),
        ),
        ("ALTER TABLE t MODIFY nope INT", "Column `nope` does not exist in the table.", (2, 8)),
        (
            "ALTER TABLE t MODIFY PRIMARY KEY (c) NOT ENFORCED",
            "Invalid primary key 'PK_c'. Column 'c' is not a physical column.",
            (2, 8),
        ),
        ("ALTER TABLE t DROP a", "The column `a` is referenced by computed column `c`.", (2, 6)),
        ("ALTER TABLE t DROP ts", "The column `ts` is referenced by watermark expression.", (2, 6)),
        ("ALTER TABLE t DROP (c, a)", "The column `a` is used as the primary key.", (2, 10)),
        ("ALTER TABLE t DROP (b, b)", "Duplicate column `b`.", (2, 10)),
        ("ALTER TABLE t DROP nope", "The column `nope` does not exist in the base table.", (2, 6)),
        ("ALTER TABLE t RENAME a TO z", "The column `a` is referenced by computed column `c`.", (2, 8)),
        ("ALTER TABLE t RENAME b TO a", "The column `a` already existed in table schema.", (2, 8)),
        ("ALTER TABLE t RENAME ts TO ts2", "The column `ts` is referenced by watermark expression.", (2, 8)),
        ("ALTER TABLE nope ADD x INT", "table 'nope' not found", (2, 1)),
    ],
)
def test_refusals_say_flinks_message_where_the_part_is(
    sql: str, message: str, position: tuple[int, int]
) -> None:
    """Each action on the line after ``ALTER TABLE t``: the position is the column's or the
    constraint's, not the statement's."""
    head, action = sql.split(" t ", 1) if " t " in sql else (sql, "")
    script = f"{head} t\n{action}" if action else f"SELECT 1;\n{sql}"
    with sqlstream.connect() as s:
        s.execute(BASE)
        with pytest.raises(SqlStreamError) as info:
            s.execute(script)
        assert (info.value.message, (info.value.line, info.value.col)) == (message, position)
        assert described(s)[0] == ("a", "INT", False, "PRI(a)", None)  # the table is as it was


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (["ALTER TABLE t DROP PRIMARY KEY"] * 2, "The current table does not define any primary key."),
        (["ALTER TABLE t DROP WATERMARK"] * 2, "The current table does not define any watermark strategy."),
        (
            ["ALTER TABLE t DROP PRIMARY KEY", "ALTER TABLE t MODIFY PRIMARY KEY (b) NOT ENFORCED"],
            "The current table does not define any primary key constraint. You might want to add a new one.",
        ),
        (
            ["ALTER TABLE t DROP WATERMARK", "ALTER TABLE t MODIFY WATERMARK FOR ts AS ts"],
            "The current table does not define any watermark. You might want to add a new one.",
        ),
        (
            ["ALTER TABLE t DROP WATERMARK", "ALTER TABLE t ADD WATERMARK FOR nope AS nope"],
            "Invalid column name 'nope' for rowtime attribute in watermark declaration. "
            "Available columns are: [a, b, ts, c]",
        ),
        (
            ["ALTER TABLE t DROP PRIMARY KEY", "ALTER TABLE t ADD PRIMARY KEY (nope) NOT ENFORCED"],
            "Invalid primary key 'PK_nope'. Column 'nope' does not exist.",
        ),
    ],
)
def test_what_is_not_there_cannot_be_dropped_or_modified(steps: list[str], message: str) -> None:
    with sqlstream.connect() as s:
        s.execute(BASE)
        s.execute(steps[0])
        with pytest.raises(SqlStreamError) as info:
            s.execute(steps[1])
        assert info.value.message == message
        assert (info.value.line, info.value.col) == (1, steps[1].index(steps[1].split()[4]) + 1)


def test_a_rowtime_of_another_type_and_a_broken_computed_column_are_refused() -> None:
    with sqlstream.connect() as s:
        s.execute(BASE)
        # Flink: "Invalid data type of time field for watermark definition. The field must be of
        # type TIMESTAMP(p) or TIMESTAMP_LTZ(p) ... but the time field type is INT"
        with pytest.raises(SqlStreamError, match=r"rowtime column 'ts' must be TIMESTAMP\(3\).*not INT"):
            s.execute("ALTER TABLE t MODIFY ts INT")
        # Flink: "Invalid expression for computed column 'c'. ... Cannot apply '+' to arguments of
        # type '<VARCHAR(2147483647)> + <INTEGER>'"
        with pytest.raises(SqlStreamError) as info:
            s.execute("SELECT 1;\nALTER TABLE t MODIFY a STRING")
        assert info.value.message.startswith(
            "Invalid expression for computed column 'c' AS a + 1: cannot apply '+' to STRING and INT"
        )
        assert (info.value.line, info.value.col) == (2, 1)  # the statement: the column is not in it
        # Flink: "Invalid expression for computed column 'g'. ... Unknown identifier 'c'"
        with pytest.raises(SqlStreamError, match="computed column 'g' AS c \\+ 1: column 'c' not found"):
            s.execute("ALTER TABLE t ADD g AS c + 1")
        assert [r[0] for r in s.execute("DESCRIBE t").rows] == ["a", "b", "ts", "c"]


def test_flink_syntax_errors_and_what_we_do_not_run() -> None:
    with sqlstream.connect() as s:
        s.execute(BASE)
        # Flink: "Incorrect syntax near the keyword 'COLUMN' at line 1, column 20."
        with pytest.raises(SqlStreamError, match="without COLUMN") as info:
            s.execute("ALTER TABLE t ADD COLUMN d INT")
        assert (info.value.line, info.value.col) == (1, 19)
        # Flink: "Flink doesn't support ENFORCED mode for PRIMARY KEY constraint."
        with pytest.raises(SqlStreamError, match="NOT ENFORCED"):
            s.execute("ALTER TABLE t MODIFY PRIMARY KEY (b)")
        with pytest.raises(SqlStreamError, match="DROP CONSTRAINT is not supported"):
            s.execute("ALTER TABLE t DROP CONSTRAINT pk")
        s.execute("CREATE VIEW v AS SELECT a FROM t")
        with pytest.raises(SqlStreamError, match="'v' is a view, not a table"):
            s.execute("ALTER TABLE v ADD x INT")
