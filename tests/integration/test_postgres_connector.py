"""The jdbc / postgres connector against the real PostgreSQL server: sink (append, upsert
with retractions, retries), source (partitioned scans), type round trips, lookups, and
the errors a user meets (bad credentials, unreachable server, missing table, mismatched
columns). Each test makes its own tables; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from catalog.connectors import Guarantee
from planner.physical import Field, SinkSpec, SourceSpec
from runtime.batches import output_schema
from runtime.connectors.base import SubtaskContext
from runtime.connectors.postgres.conn import PostgresError, TableName
from runtime.connectors.postgres.lookup import LOOKUP_ROW_COLUMN, PostgresLookup
from runtime.connectors.postgres.sink import PostgresSink
from runtime.connectors.postgres.source import PostgresSource
from runtime.connectors.postgres.tables import create_table_hint
from runtime.connectors.registry import create_sink, create_source

pytestmark = pytest.mark.postgres


# ---- helpers (also used by test_postgres_exactly_once.py) -------------------------------


def unique_table(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def cols(*specs: str) -> tuple[Field, ...]:
    out = []
    for s in specs:
        name, _, type_text = s.partition(" ")
        out.append(Field(name, type_text))
    return tuple(out)


def ctx(subtask: int = 0, parallelism: int = 1, job: str = "job") -> SubtaskContext:
    return SubtaskContext(job, 1, "sink", subtask, parallelism)


def sink_spec(
    dsn: str,
    table: str,
    columns: tuple[Field, ...],
    key: tuple[str, ...] = (),
    guarantee: Guarantee = Guarantee.AT_LEAST_ONCE,
    options: dict[str, str] | None = None,
) -> SinkSpec:
    opts = {"connector": "postgres", "dsn": dsn, "table-name": table, "sink.buffer-flush.interval": "0"}
    opts.update(options or {})
    return SinkSpec(table, "postgres", opts, columns, primary_key=key, guarantee=guarantee)


def source_spec(dsn: str, table: str, columns: tuple[Field, ...], **options: str) -> SourceSpec:
    opts = {"connector": "postgres", "dsn": dsn, "table-name": table, **options}
    return SourceSpec(table, "postgres", opts, columns, bounded=True)


def batch(
    columns: tuple[Field, ...], rows: list[tuple[Any, ...]], kinds: list[int] | None = None
) -> pa.RecordBatch:
    schema = output_schema(columns, kinds is not None)
    data = [list(c) for c in zip(*rows)] if rows else [[] for _ in columns]
    if kinds is not None:
        data.append(kinds)
    return pa.RecordBatch.from_arrays([pa.array(d, f.type) for d, f in zip(data, schema)], schema=schema)


def execute(dsn: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def create(dsn: str, table: str, columns: tuple[Field, ...], key: tuple[str, ...] = ()) -> None:
    execute(dsn, create_table_hint(TableName(table), columns, key))


async def write(sink: PostgresSink, batches: list[pa.RecordBatch], close: bool = True) -> None:
    await sink.open()
    for b in batches:
        await sink.write(b)
    if close:
        await sink.flush()
        await sink.close()


def scan(spec: SourceSpec, parallelism: int = 1) -> list[dict[str, Any]]:
    async def run(subtask: int) -> list[dict[str, Any]]:
        reader = PostgresSource(spec, ctx(subtask, parallelism))
        await reader.open()
        out: list[dict[str, Any]] = []
        while not reader.finished:
            b = await reader.poll(1000)
            if b is not None:
                assert b.schema == reader.schema
                out += b.to_pylist()
        await reader.close()
        return out

    rows: list[dict[str, Any]] = []
    for i in range(parallelism):
        rows += asyncio.run(run(i))
    return rows


@pytest.fixture
def tables(pg_dsn: str) -> Iterator[list[str]]:
    """Names of tables a test creates; dropped afterwards."""
    made: list[str] = []
    yield made
    for t in made:
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{t}"')


# ---- sink -------------------------------------------------------------------------------

ORDERS = cols("id BIGINT", "item STRING", "amount DECIMAL(10, 2)")


def test_append_writes_every_row_in_batched_statements(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("append")
    tables.append(t)
    create(pg_dsn, t, ORDERS)
    sink = create_sink(sink_spec(pg_dsn, t, ORDERS, options={"sink.buffer-flush.max-rows": "3"}), ctx())
    assert isinstance(sink, PostgresSink)
    rows = [(i, f"item-{i}", decimal.Decimal(f"{i}.25")) for i in range(10)]
    asyncio.run(write(sink, [batch(ORDERS, rows[:2]), batch(ORDERS, rows[2:7]), batch(ORDERS, rows[7:])]))
    assert execute(pg_dsn, f'SELECT id, item, amount FROM "{t}" ORDER BY id') == rows
    assert sink.rows_written == 10


def test_jdbc_url_with_username_and_password(pg_dsn: str, pg_url: str, tables: list[str]) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
    t = unique_table("jdbc")
    tables.append(t)
    create(pg_dsn, t, ORDERS)
    opts = {
        "connector": "jdbc",
        "url": pg_url,
        "username": str(info["user"]),
        "password": str(info["password"]),
        "table-name": f"public.{t}",
    }
    sink = create_sink(SinkSpec(t, "jdbc", opts, ORDERS), ctx())
    asyncio.run(write(sink, [batch(ORDERS, [(1, "a", decimal.Decimal("1.50"))])]))
    assert execute(pg_dsn, f'SELECT item FROM "{t}"') == [("a",)]
    assert "password" not in repr(sink) and "'password': '***'" in repr(sink.cfg)
    assert [r["item"] for r in scan(SourceSpec(t, "jdbc", opts, ORDERS, bounded=True))] == ["a"]
    assert isinstance(create_source(SourceSpec(t, "jdbc", opts, ORDERS), ctx()), PostgresSource)


def test_upsert_with_a_retraction_stream_ends_in_the_right_table(pg_dsn: str, tables: list[str]) -> None:
    counts = cols("word STRING", "n BIGINT")
    t = unique_table("upsert")
    tables.append(t)
    create(pg_dsn, t, counts, key=("word",))
    execute(pg_dsn, f'INSERT INTO "{t}" VALUES (%s, %s), (%s, %s)', ["old", 7, "gone", 1])
    # What an unwindowed GROUP BY emits, including several changes of one key per batch.
    b1 = batch(counts, [("a", 1), ("b", 1), ("a", 1), ("a", 2)], kinds=[0, 0, 1, 2])
    b2 = batch(counts, [("b", 1), ("c", 5), ("c", 5), ("c", 6), ("gone", 1)], kinds=[3, 0, 1, 2, 3])
    b3 = batch(counts, [("b", 3), ("a", 2), ("a", 3)], kinds=[0, 1, 2])
    sink = PostgresSink(
        sink_spec(pg_dsn, t, counts, key=("word",), options={"sink.buffer-flush.max-rows": "4"}), ctx()
    )
    asyncio.run(write(sink, [b1, b2, b3]))
    got = dict(execute(pg_dsn, f'SELECT word, n FROM "{t}"'))
    assert got == {"a": 3, "b": 3, "c": 6, "old": 7}


def test_append_sink_refuses_an_updating_stream(pg_dsn: str, tables: list[str]) -> None:
    counts = cols("word STRING", "n BIGINT")
    t = unique_table("noupd")
    tables.append(t)
    create(pg_dsn, t, counts)
    sink = PostgresSink(sink_spec(pg_dsn, t, counts), ctx())
    with pytest.raises(PostgresError, match="declares no primary key"):
        asyncio.run(write(sink, [batch(counts, [("a", 1), ("a", 1)], kinds=[0, 1])]))


def test_buffer_flush_interval_writes_a_thin_stream(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("interval")
    tables.append(t)
    create(pg_dsn, t, ORDERS)
    spec = sink_spec(
        pg_dsn,
        t,
        ORDERS,
        options={"sink.buffer-flush.max-rows": "1000", "sink.buffer-flush.interval": "50 ms"},
    )

    async def run() -> int:
        sink = PostgresSink(spec, ctx())
        await sink.open()
        await sink.write(batch(ORDERS, [(1, "x", decimal.Decimal(1))]))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if execute(pg_dsn, f'SELECT count(*) FROM "{t}"')[0][0]:
                break
        seen = int(execute(pg_dsn, f'SELECT count(*) FROM "{t}"')[0][0])
        await sink.close()
        return seen

    assert asyncio.run(run()) == 1


def test_lost_connection_is_retried_constraint_violation_is_not(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("retry")
    tables.append(t)
    create(pg_dsn, t, ORDERS)
    execute(pg_dsn, f'ALTER TABLE "{t}" ADD CHECK (amount >= 0)')
    sink = PostgresSink(sink_spec(pg_dsn, t, ORDERS, options={"sink.buffer-flush.max-rows": "1"}), ctx())

    async def run() -> None:
        await sink.open()
        await sink.write(batch(ORDERS, [(1, "a", decimal.Decimal(1))]))
        assert sink._conn is not None
        execute(pg_dsn, "SELECT pg_terminate_backend(%s)", [sink._conn.info.backend_pid])
        await sink.write(batch(ORDERS, [(2, "b", decimal.Decimal(2))]))  # reconnects
        with pytest.raises(PostgresError, match="constraint") as e:
            await sink.write(batch(ORDERS, [(3, "c", decimal.Decimal(-1))]))
        assert "after" not in e.value.message  # not retried
        sink._buffer.clear()
        await sink.close()

    asyncio.run(run())
    assert execute(pg_dsn, f'SELECT id FROM "{t}" ORDER BY id') == [(1,), (2,)]


# ---- types ------------------------------------------------------------------------------

ALL_TYPES = cols(
    "id INT",
    "b BOOLEAN",
    "si SMALLINT",
    "bi BIGINT",
    "f FLOAT",
    "d DOUBLE",
    "dec DECIMAL(12, 3)",
    "s STRING",
    "vc VARCHAR(20)",
    "by BYTES",
    "dt DATE",
    "tm TIME(3)",
    "ts TIMESTAMP(3)",
    "ltz TIMESTAMP_LTZ(3)",
    "ai ARRAY<INT>",
    "ast ARRAY<STRING>",
    "ats ARRAY<TIMESTAMP(3)>",
)


def test_types_round_trip_through_sink_and_source(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("types")
    tables.append(t)
    create(pg_dsn, t, ALL_TYPES)
    ts = dt.datetime(2024, 2, 29, 23, 59, 58, 123000)
    row = (
        1, True, -3, 2**40, 1.5, 2.25, decimal.Decimal("123456789.125"), "héllo 'q' \"d\"", "short",
        b"\x00\xffbytes", dt.date(2024, 2, 29), dt.time(12, 34, 56, 789000), ts,
        dt.datetime(2024, 1, 1, 12, 0, 0, 456000, tzinfo=dt.UTC), [1, None, 3], ["a", "b,c", None],
        [ts, None],
    )  # fmt: skip
    nulls = (2, *([None] * (len(ALL_TYPES) - 1)))
    epoch = dt.datetime(1970, 1, 1)
    empty = (3, False, 0, 0, 0.0, 0.0, decimal.Decimal("0.000"), "", "", b"", epoch.date(),
             dt.time(0), epoch, epoch.replace(tzinfo=dt.UTC), [], [], [])  # fmt: skip
    sink = PostgresSink(sink_spec(pg_dsn, t, ALL_TYPES), ctx())
    asyncio.run(write(sink, [batch(ALL_TYPES, [row, nulls, empty])]))
    got = sorted(scan(source_spec(pg_dsn, t, ALL_TYPES)), key=lambda r: r["id"])
    names = [f.name for f in ALL_TYPES]
    assert got == [dict(zip(names, r)) for r in (row, nulls, empty)]
    # The server holds the types the mapping promises.
    types = dict(
        execute(
            pg_dsn, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", [t]
        )
    )
    assert types["ts"] == "timestamp without time zone" and types["ltz"] == "timestamp with time zone"
    assert types["dec"] == "numeric" and types["ai"] == "ARRAY" and types["by"] == "bytea"


def test_values_that_need_escaping_or_are_extreme_arrive_unchanged(pg_dsn: str, tables: list[str]) -> None:
    """Scalar columns travel as one array literal per column, formatted by Arrow
    (``runtime.connectors.postgres.types.array_literal``): quoting, NULL versus the string 'NULL', special
    floats and the ends of each type's range must survive it."""
    t = unique_table("edges")
    tables.append(t)
    edge = cols(
        "id INT", "s STRING", "d DOUBLE", "f FLOAT", "bi BIGINT", "ts TIMESTAMP(3)", "ltz TIMESTAMP_LTZ(3)",
        "dt DATE", "dec DECIMAL(12, 3)",
    )  # fmt: skip
    create(pg_dsn, t, edge)
    strings = ['a"b', "c\\d", "{x,y}", " sp ", "", "NULL", None, "ünï ✓", "tab\tnl\nend", "'q'", '\\"']
    doubles = [
        float("inf"),
        float("-inf"),
        -0.0,
        1.7976931348623157e308,
        5e-324,
        0.1,
        None,
        1 / 3,
        -2.5e-10,
        7.0,
        0,
    ]
    floats = [3.4028234663852886e38, 1.401298464324817e-45, 0.1, None, -1.5, 0.0, 2.0, 0.25, 1e10, -0.0, 3.0]
    ints = [-(2**63), 2**63 - 1, 0, None, -1, 1, 2, 3, 4, 5, 6]
    stamps = [
        dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999000),
        dt.datetime(1969, 12, 31, 23, 59, 59, 1000), dt.datetime(2024, 2, 29, 12, 0, 0, 5000), None,
        dt.datetime(1970, 1, 1), dt.datetime(2000, 1, 1, 0, 0, 1), dt.datetime(1900, 3, 1),
        dt.datetime(2038, 1, 19, 3, 14, 8), dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2),
    ]  # fmt: skip
    decs = ["-999999999.999", "999999999.999", "0.001", None, "-0.001", "0", "1", "2", "3", "4", "5"]
    rows = [
        (i, strings[i], doubles[i], floats[i], ints[i], stamps[i],
         stamps[i].replace(tzinfo=dt.UTC) if stamps[i] else None,
         stamps[i].date() if stamps[i] else None, decimal.Decimal(decs[i]) if decs[i] else None)
        for i in range(len(strings))
    ]  # fmt: skip
    asyncio.run(write(PostgresSink(sink_spec(pg_dsn, t, edge), ctx()), [batch(edge, rows)]))
    got = execute(pg_dsn, f'SELECT id, s, d, f, bi, ts, ltz, dt, "dec" FROM "{t}" ORDER BY id')
    assert [r[:2] + r[4:] for r in got] == [r[:2] + r[4:] for r in rows]
    assert [r[2] for r in got] == doubles and str(got[2][2]) == "-0.0"
    assert [None if r[3] is None else np.float32(r[3]) for r in got] == [
        None if x is None else np.float32(x) for x in floats
    ]


def test_string_column_into_json_uuid_and_wider_integer_columns(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("widen")
    tables.append(t)
    execute(pg_dsn, f'CREATE TABLE "{t}" (id bigint, doc jsonb, ref uuid, n numeric)')
    declared = cols("id INT", "doc STRING", "ref STRING", "n INT")
    ref = str(uuid.uuid4())
    sink = PostgresSink(sink_spec(pg_dsn, t, declared), ctx())
    asyncio.run(write(sink, [batch(declared, [(1, '{"a": [1, 2]}', ref, 5)])]))
    assert execute(pg_dsn, f"SELECT id, doc->'a'->>1, ref::text, n FROM \"{t}\"") == [(1, "2", ref, 5)]
    assert scan(source_spec(pg_dsn, t, declared)) == [{"id": 1, "doc": '{"a": [1, 2]}', "ref": ref, "n": 5}]


# ---- source -----------------------------------------------------------------------------


def test_partitioned_scan_reads_every_row_once_over_subtasks(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("scan")
    tables.append(t)
    execute(pg_dsn, f'CREATE TABLE "{t}" (id int, v text)')
    execute(pg_dsn, f"INSERT INTO \"{t}\" SELECT g, 'v' || g FROM generate_series(-5, 120) g")
    execute(pg_dsn, f"INSERT INTO \"{t}\" VALUES (NULL, 'null key')")
    declared = cols("id INT", "v STRING")
    spec = source_spec(
        pg_dsn, t, declared,
        **{"scan.partition.column": "id", "scan.partition.num": "4", "scan.partition.lower-bound": "10",
           "scan.partition.upper-bound": "90", "scan.fetch-size": "7"},
    )  # fmt: skip
    rows = scan(spec, parallelism=3)
    assert sorted((r["id"] is None, r["id"] or 0) for r in rows) == sorted(
        [(False, i) for i in range(-5, 121)] + [(True, 0)]
    )
    reader = PostgresSource(spec, ctx(1, 3))
    reader.restore({"done": [1]})
    asyncio.run(reader.open())
    assert reader.finished  # subtask 1 of 3 owns stride 1 only, already done
    assert reader.position() == {"done": [1]}


# ---- lookup -----------------------------------------------------------------------------

DIM = cols("id INT", "region STRING", "name STRING")


def test_lookup_batches_keys_and_caches_them(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("dim")
    tables.append(t)
    create(pg_dsn, t, DIM, key=("id", "region"))
    execute(pg_dsn, f"INSERT INTO \"{t}\" VALUES (1, 'eu', 'one'), (2, 'eu', 'two'), (2, 'us', 'two-us')")
    spec = source_spec(
        pg_dsn, t, DIM,
        **{"lookup.cache": "PARTIAL", "lookup.partial-cache.max-rows": "100",
           "lookup.partial-cache.expire-after-write": "1 h"},
    )  # fmt: skip

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, list[dict[str, Any]]]:
        lk = PostgresLookup(spec, ["id", "region"])
        await lk.open()
        keys = pa.record_batch(
            [pa.array([2, 9, 1, 2, None, 2], pa.int64()), pa.array(["eu", "eu", "eu", "eu", "eu", "us"])],
            names=["a", "b"],
        )
        first = (await lk.lookup(keys)).to_pylist()
        second = (await lk.lookup(keys)).to_pylist()
        queries = lk.queries
        execute(pg_dsn, f"UPDATE \"{t}\" SET name = 'changed' WHERE id = 1")
        third = (await lk.lookup(keys.slice(2, 1))).to_pylist()  # cached: the old name
        await lk.close()
        return first, second, queries, third

    first, second, queries, third = asyncio.run(run())
    assert first == [
        {LOOKUP_ROW_COLUMN: 0, "id": 2, "region": "eu", "name": "two"},
        {LOOKUP_ROW_COLUMN: 2, "id": 1, "region": "eu", "name": "one"},
        {LOOKUP_ROW_COLUMN: 3, "id": 2, "region": "eu", "name": "two"},
        {LOOKUP_ROW_COLUMN: 5, "id": 2, "region": "us", "name": "two-us"},
    ]
    assert second == first and queries == 1  # every key (also the missing ones) came from the cache
    assert third == [{LOOKUP_ROW_COLUMN: 0, "id": 1, "region": "eu", "name": "one"}]


def test_lookup_without_cache_queries_every_batch(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("dim")
    tables.append(t)
    create(pg_dsn, t, DIM)
    execute(pg_dsn, f"INSERT INTO \"{t}\" VALUES (1, 'eu', 'a'), (1, 'us', 'b')")

    async def run() -> tuple[list[dict[str, Any]], int]:
        lk = PostgresLookup(source_spec(pg_dsn, t, DIM), ["id"])
        await lk.open()
        keys = pa.record_batch([pa.array([1, 3], pa.int32())], names=["id"])
        await lk.lookup(keys)
        rows = (await lk.lookup(keys)).to_pylist()
        await lk.close()
        return rows, lk.queries

    rows, queries = asyncio.run(run())
    assert sorted(r["region"] for r in rows) == ["eu", "us"] and queries == 2  # a key with two rows


# ---- errors -----------------------------------------------------------------------------


def test_bad_credentials_name_the_server_not_the_password(pg_dsn: str, pg_url: str) -> None:
    opts = {
        "connector": "jdbc",
        "url": pg_url,
        "username": "sqlstream",
        "password": "Wr0ngSecret",
        "table-name": "x",
    }
    sink = PostgresSink(SinkSpec("x", "jdbc", opts, ORDERS), ctx())
    with pytest.raises(PostgresError) as e:
        asyncio.run(sink.open())
    text = str(e.value)
    assert (
        "Wr0ngSecret" not in text and "Wr0ngSecret" not in repr(sink) and "Wr0ngSecret" not in repr(sink.cfg)
    )
    info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
    assert f"{info['host']}:{info['port']}/{info['dbname']}" in text
    assert "rejected the credentials" in text and "'password'" in text


def test_unreachable_server_says_where_and_what_to_check() -> None:
    opts = {
        "connector": "jdbc",
        "url": "jdbc:postgresql://127.0.0.1:1/shop",
        "password": "s3cret",
        "table-name": "x",
    }
    with pytest.raises(PostgresError) as e:
        asyncio.run(PostgresSource(SourceSpec("x", "jdbc", opts, ORDERS), ctx()).open())
    text = str(e.value)
    assert "cannot reach PostgreSQL at 127.0.0.1:1/shop" in text and "is the server running" in text
    assert "s3cret" not in text


def test_missing_table_suggests_create_table(pg_dsn: str) -> None:
    t = unique_table("missing")
    sink = PostgresSink(sink_spec(pg_dsn, f"public.{t}", ORDERS, key=("id",)), ctx())
    with pytest.raises(PostgresError) as e:
        asyncio.run(sink.open())
    text = str(e.value)
    assert f'"public"."{t}" does not exist' in text
    assert (
        f"CREATE TABLE public.{t} (id int8 NOT NULL, item text, amount numeric(10,2), PRIMARY KEY (id))"
        in text
    )


def test_mismatched_columns_and_missing_key_are_refused_at_open(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("mismatch")
    tables.append(t)
    execute(pg_dsn, f'CREATE TABLE "{t}" (id text, item text)')
    with pytest.raises(PostgresError) as e:
        asyncio.run(PostgresSink(sink_spec(pg_dsn, t, ORDERS), ctx()).open())
    assert "column 'id' is BIGINT in the table definition but text in PostgreSQL" in str(e.value)
    assert "column 'amount' does not exist" in str(e.value)
    same = cols("id STRING", "item STRING")
    with pytest.raises(PostgresError, match="need a primary key or unique index on \\(id\\)"):
        asyncio.run(PostgresSink(sink_spec(pg_dsn, t, same, key=("id",)), ctx()).open())


def test_lookup_reconnects_after_a_lost_connection(pg_dsn: str, tables: list[str]) -> None:
    t = unique_table("dim")
    tables.append(t)
    create(pg_dsn, t, DIM)
    execute(pg_dsn, f"INSERT INTO \"{t}\" VALUES (1, 'eu', 'a')")

    async def run(retries: str) -> list[dict[str, Any]]:
        lk = PostgresLookup(source_spec(pg_dsn, t, DIM, **{"lookup.max-retries": retries}), ["id"])
        await lk.open()
        assert lk._conn is not None
        execute(pg_dsn, "SELECT pg_terminate_backend(%s)", [lk._conn.info.backend_pid])
        try:
            return (await lk.lookup(pa.record_batch([pa.array([1], pa.int32())], names=["id"]))).to_pylist()
        finally:
            await lk.close()

    assert [r["name"] for r in asyncio.run(run("2"))] == ["a"]
    with pytest.raises(PostgresError, match="looking up"):
        asyncio.run(run("0"))
