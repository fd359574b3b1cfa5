"""The PostgreSQL connector's pure logic: URLs and DSNs, table names, type mapping, the
statements it sends, changelog folding, scan strides, gids, the lookup cache, options.
No server here (tests/integration/test_postgres_*.py has the real one)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from catalog.connectors import Guarantee
from catalog.errors import OptionError
from catalog.options import OptionBag
from catalog.types import parse_type
from planner.physical import ROW_KIND_COLUMN, SinkSpec, SourceSpec
from runtime.connectors.postgres.conn import PostgresError, TableName, conn_config, parse_jdbc_url
from runtime.connectors.postgres.lookup import LookupCache, PostgresLookup
from runtime.connectors.postgres.sink import PostgresSink
from runtime.connectors.postgres.source import PostgresSource, strides
from runtime.connectors.postgres.statements import build_statements, last_per_key, split_changes
from runtime.connectors.postgres.tables import create_table_hint
from runtime.connectors.postgres.txn import check_prepared_transactions, default_prefix, gid_pattern, make_gid
from runtime.connectors.postgres.types import PgColumn, check_column, pg_type

from .helpers import ctx, fields

COLS = fields("id BIGINT", "name STRING", "tags ARRAY<STRING>")
PG_COLS = [
    PgColumn("id", "int8", "pg_catalog", "bigint"),
    PgColumn("name", "text", "pg_catalog", "text"),
    PgColumn("tags", "_text", "pg_catalog", "text[]", elem="text"),
]


# ---- where ------------------------------------------------------------------------------


def test_jdbc_url_maps_onto_libpq_keywords() -> None:
    assert parse_jdbc_url(
        "jdbc:postgresql://h:6543/db?user=u&password=p&currentSchema=s&connectTimeout=3", "t"
    ) == {
        "host": "h",
        "port": "6543",
        "dbname": "db",
        "user": "u",
        "password": "p",
        "options": "-c search_path=s",
        "connect_timeout": "3",
    }
    assert parse_jdbc_url("jdbc:postgresql:shop", "t") == {"host": "localhost", "dbname": "shop"}


def test_jdbc_url_of_another_database_or_unknown_parameter_is_an_error() -> None:
    with pytest.raises(OptionError, match="only PostgreSQL is supported"):
        parse_jdbc_url("jdbc:mysql://h:3306/db", "table 't'")
    with pytest.raises(OptionError, match="'prepareThreshold' is not supported"):
        parse_jdbc_url("jdbc:postgresql://h/db?prepareThreshold=0", "table 't'")


def test_password_never_shows_in_repr_or_where() -> None:
    bag = OptionBag({"dsn": "host=db port=5433 dbname=shop user=app password=Hunter2"}, "table 't'")
    cfg = conn_config(bag, "postgres")
    assert cfg.where == "db:5433/shop"
    assert "Hunter2" not in repr(cfg) and "'password': '***'" in repr(cfg)
    assert cfg.scrub("FATAL: Hunter2 rejected") == "FATAL: *** rejected"
    bag = OptionBag({"dsn": "postgresql://app@db/shop", "username": "other", "password": "x"}, "t")
    assert conn_config(bag, "postgres").params | {} == {
        "user": "other", "host": "db", "dbname": "shop", "password": "x", "connect_timeout": "10",
    }  # fmt: skip


def test_bad_dsn_is_an_option_error() -> None:
    with pytest.raises(OptionError, match="not a libpq connection string"):
        conn_config(OptionBag({"dsn": "host=a =b"}, "table 't'"), "postgres")


@pytest.mark.parametrize(
    ("text", "table", "schema"),
    [
        ("orders", "orders", None),
        ("sales.Orders", "Orders", "sales"),
        ('"my.schema"."a""b"', 'a"b', "my.schema"),
    ],
)
def test_table_names(text: str, table: str, schema: str | None) -> None:
    assert TableName.parse(text, "t") == TableName(table, schema)


def test_three_part_table_name_is_refused() -> None:
    with pytest.raises(OptionError, match="not a table name"):
        TableName.parse("db.sch.tbl", "table 't'")


# ---- types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flink", "pg"),
    [
        ("TIMESTAMP(3)", "timestamp(3)"),
        ("TIMESTAMP_LTZ(3)", "timestamptz(3)"),
        ("DECIMAL(38, 10)", "numeric(38,10)"),
        ("BOOLEAN", "bool"),
        ("BYTES", "bytea"),
        ("DATE", "date"),
        ("VARCHAR(20)", "varchar(20)"),
        ("ARRAY<DOUBLE>", "float8[]"),
        ("TINYINT", "int2"),
    ],
)
def test_flink_to_postgres_types(flink: str, pg: str) -> None:
    assert pg_type(parse_type(flink)) == pg


def test_column_checks_accept_compatible_and_name_the_mismatch() -> None:
    ts = PgColumn("t", "timestamp", "pg_catalog", "timestamp(3) without time zone")
    assert check_column("t", parse_type("TIMESTAMP(3)"), ts) is None
    assert "TIMESTAMP_LTZ(3) in the table definition but timestamp(3) without time zone" in (
        check_column("t", parse_type("TIMESTAMP_LTZ(3)"), ts) or ""
    )
    mood = PgColumn("m", "mood", "public", "mood", is_enum=True)
    assert check_column("m", parse_type("STRING"), mood) is None
    assert check_column("a", parse_type("ARRAY<STRING>"), PG_COLS[2]) is None
    assert check_column("a", parse_type("ARRAY<INT>"), PG_COLS[2]) is not None
    assert check_column("a", parse_type("STRING"), PG_COLS[2]) is not None
    assert "cannot map" in (check_column("m", parse_type("MAP<STRING, INT>"), PG_COLS[1]) or "")


def test_create_table_hint_quotes_what_needs_quoting() -> None:
    hint = create_table_hint(
        TableName("Orders", "s"), fields("id BIGINT NOT NULL", "Total DECIMAL(9, 2)"), ("id",)
    )
    assert hint == 'CREATE TABLE s."Orders" (id int8 NOT NULL, "Total" numeric(9,2), PRIMARY KEY (id))'


# ---- statements -------------------------------------------------------------------------


def test_upsert_and_delete_statements_take_arrays_apart_on_the_server() -> None:
    stmts = build_statements(TableName("t", "s"), COLS, PG_COLS, ("id",))
    insert = stmts.insert.as_string()
    assert insert == (
        'INSERT INTO "s"."t" ("id", "name", "tags") SELECT "u"."c0"::"pg_catalog"."int8", '
        '"u"."c1"::"pg_catalog"."text", CASE WHEN jsonb_typeof("u"."c2") = \'array\' THEN '
        'ARRAY(SELECT jsonb_array_elements_text("u"."c2"))::"pg_catalog"."text"[] END '
        "FROM ROWS FROM (unnest(%s::int8[]), unnest(%s::text[]), jsonb_array_elements(%s::jsonb)) "
        'AS u("c0", "c1", "c2") ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", '
        '"tags" = EXCLUDED."tags"'
    )
    assert stmts.delete is not None
    assert stmts.delete.as_string() == (
        'DELETE FROM "s"."t" AS t USING ROWS FROM (unnest(%s::int8[])) AS u("c0") '
        'WHERE "t"."id" = "u"."c0"::"pg_catalog"."int8"'
    )
    append = build_statements(TableName("t"), COLS, PG_COLS, ())
    assert "ON CONFLICT" not in append.insert.as_string() and append.delete is None
    only_key = build_statements(TableName("t"), COLS[:1], PG_COLS[:1], ("id",))
    assert only_key.insert.as_string().endswith('ON CONFLICT ("id") DO NOTHING')


def _changes(rows: list[tuple[int, str]], kinds: list[int] | None) -> pa.Table:
    data = {"id": [r[0] for r in rows], "name": [r[1] for r in rows]}
    if kinds is not None:
        data[ROW_KIND_COLUMN] = pa.array(kinds, pa.int8())
    return pa.table(data)


def test_changelog_folds_to_each_keys_last_change() -> None:
    t = _changes(
        [(1, "a"), (2, "b"), (1, "a"), (1, "A"), (2, "b"), (3, "c"), (2, "B")], [0, 0, 1, 2, 3, 0, 0]
    )
    changes = split_changes(t, ["id"], "t")
    assert sorted(changes.upserts.to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "name": "A"},
        {"id": 2, "name": "B"},
        {"id": 3, "name": "c"},
    ]
    assert changes.deletes is not None and changes.deletes.num_rows == 0
    gone = split_changes(_changes([(1, "a"), (1, "a")], [0, 3]), ["id"], "t")
    assert (
        gone.upserts.num_rows == 0
        and gone.deletes is not None
        and gone.deletes.to_pylist() == [{"id": 1, "name": "a"}]
    )


def test_a_before_image_nothing_overwrites_deletes_its_key() -> None:
    """-U then +U of a key is the +U; a -U alone (HAVING dropped the +U, or the row moved
    to another key) deletes the key, as Flink's JDBC sink flags UPDATE_BEFORE."""
    t = _changes([(1, "a"), (1, "b"), (2, "x"), (3, "y"), (3, "z")], [1, 2, 1, 1, 0])
    changes = split_changes(t, ["id"], "t")
    assert changes.upserts.to_pylist() == [{"id": 1, "name": "b"}, {"id": 3, "name": "z"}]
    assert changes.deletes is not None and changes.deletes.to_pylist() == [{"id": 2, "name": "x"}]


def test_append_mode_keeps_every_row_and_refuses_updates() -> None:
    t = _changes([(1, "a"), (1, "a")], [0, 0])
    assert split_changes(t, [], "t").upserts.num_rows == 2
    with pytest.raises(PostgresError, match="declares no primary key"):
        split_changes(_changes([(1, "a")], [3]), [], "table 't'")


def test_last_per_key_with_a_composite_key_keeps_arrival_order() -> None:
    t = pa.table({"a": [1, 1, 2, 1], "b": ["x", "y", "x", "x"], "v": [1, 2, 3, 4]})
    assert last_per_key(t, ["a", "b"]).to_pylist() == [
        {"a": 1, "b": "y", "v": 2},
        {"a": 2, "b": "x", "v": 3},
        {"a": 1, "b": "x", "v": 4},
    ]


# ---- scans ------------------------------------------------------------------------------


def test_strides_cover_every_value_once() -> None:
    parts = strides(10, 90, 4)
    for v in range(-100, 200):
        owners = [s for s in parts if (s.lower is None or v >= s.lower) and (s.upper is None or v < s.upper)]
        assert len(owners) == 1
    assert parts[0].nulls and not any(s.nulls for s in parts[1:])
    assert len(strides(1, 2, 10)) == 2  # no empty strides


def test_partition_options_go_together() -> None:
    spec = SourceSpec(
        "t", "postgres", {"dsn": "host=x", "table-name": "t", "scan.partition.column": "id"}, COLS
    )
    with pytest.raises(OptionError, match="go together"):
        PostgresSource(spec, ctx())


# ---- gids -------------------------------------------------------------------------------


def test_gids_and_their_prefix_pattern() -> None:
    gid = make_gid("ledger", 3, 17)
    assert gid == "ledger-3-17" and gid_pattern("ledger").fullmatch(gid)
    assert not gid_pattern("ledger").fullmatch("ledger-x-3-17")  # another sink's prefix
    assert not gid_pattern("ledger").fullmatch("ledger-3")
    long = default_prefix("j" * 300, "t")
    assert len(long) <= 120 and long == default_prefix("j" * 300, "t") != default_prefix("j" * 299, "t")


def test_prepared_transactions_disabled_is_refused_with_the_fix() -> None:
    with pytest.raises(PostgresError) as e:
        check_prepared_transactions("0", "table 'ledger'")
    assert "ALTER SYSTEM SET max_prepared_transactions" in str(e.value) and "restart" in str(e.value)


def test_long_transactional_prefix_is_refused() -> None:
    opts = {"dsn": "host=x", "table-name": "t", "sink.transactional-id-prefix": "p" * 190}
    with pytest.raises(OptionError, match="longer than"):
        PostgresSink(SinkSpec("t", "postgres", opts, COLS, guarantee=Guarantee.EXACTLY_ONCE), ctx())


def test_unknown_option_suggests_the_known_one() -> None:
    opts = {"connector": "jdbc", "url": "jdbc:postgresql://h/db", "table-name": "t", "sink.max-retry": "1"}
    with pytest.raises(OptionError, match=r"unknown option 'sink\.max-retry'") as e:
        PostgresSink(SinkSpec("t", "jdbc", opts, COLS), ctx())
    assert e.value.hint == "did you mean 'sink.max-retries'?"


# ---- lookup cache -----------------------------------------------------------------------


def test_lookup_cache_expires_after_write_and_access_and_evicts_lru() -> None:
    rows = pa.table({"v": [1]})
    c = LookupCache(max_keys=None, expire_after_write=10)
    c.put((1,), rows, now=0)
    assert c.get((1,), now=9) is rows and c.get((1,), now=11) is None
    c = LookupCache(max_keys=None, expire_after_access=5)
    c.put((1,), rows, now=0)
    assert c.get((1,), now=4) is rows and c.get((1,), now=8) is rows and c.get((1,), now=14) is None
    c = LookupCache(max_keys=2)
    c.put((1,), rows, now=0)
    c.put((2,), rows, now=0)
    c.get((1,), now=1)
    c.put((3,), rows, now=2)  # evicts (2,), the least recently used
    assert c.get((2,), now=3) is None and c.get((1,), now=3) is rows and len(c) == 2


def test_partial_cache_needs_a_bound() -> None:
    spec = SourceSpec("t", "postgres", {"dsn": "host=x", "table-name": "t", "lookup.cache": "PARTIAL"}, COLS)
    with pytest.raises(OptionError, match="needs a bound"):
        PostgresLookup(spec, ["id"])
    with pytest.raises(OptionError, match="not a column"):
        PostgresLookup(SourceSpec("t", "postgres", {"dsn": "host=x", "table-name": "t"}, COLS), ["nope"])


def test_passwords_inside_a_dsn_or_url_are_not_shown_back() -> None:
    from sqlstream.session import Session

    s = Session()
    s.execute(
        "CREATE TABLE p (id INT) WITH ('connector' = 'postgres', "
        "'dsn' = 'host=h password=Hunter2 dbname=d', 'table-name' = 't')"
    )
    s.execute(
        "CREATE TABLE j (id INT) WITH ('connector' = 'jdbc', 'table-name' = 't', "
        "'url' = 'jdbc:postgresql://h/d?password=Hunter2', 'password' = 'Hunter3')"
    )
    shown = [s.execute(f"SHOW CREATE TABLE {t}").message for t in ("p", "j")]
    shown.append(s.execute("EXPLAIN INSERT INTO p SELECT id FROM j").message)
    s.close()
    assert all("Hunter" not in text and "password=******" in text for text in shown)
