"""The Kafka source reads only the columns a query uses (projection push-down), as Flink's
KafkaDynamicSource does: the rows of a narrowed scan are those of ``SELECT *`` projected
(key and value fields, metadata, computed columns, the watermark's column, JSON and CSV,
upsert-kafka's changes and tombstones), a bad value in a field nobody reads is no error
(as for files), a record that is no record at all still is, and a position taken by a
narrowed reader restores a full one and back (offsets are the state)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from planner.physical import SourceSpec
from tests.integration.test_kafka_source import (
    create_topic,
    fields,
    json_values,
    poll_rows,
    produce,
    source,
    unique,
)

pytestmark = pytest.mark.kafka

ROWS = 240
T0_MS = 1_700_000_000_000


def records(value_format: str, with_id: bool) -> tuple[list[bytes], list[bytes], list[int]]:
    """Values, keys and timestamps of ROWS bids (seeded): JSON values with a NULL now and
    then; CSV values without (an empty CSV field is not NULL for a STRING)."""
    rnd = random.Random(18)
    values, keys, stamps = [], [], []
    for i in range(ROWS):
        price = None if value_format == "json" and i % 17 == 0 else rnd.randint(1, 100)
        name = None if value_format == "json" and i % 23 == 0 else f"n{rnd.randint(0, 9)}"
        ts = f"2024-01-01 00:00:{i // 10:02d}.{i % 10 * 100:03d}"
        extra = "x" * rnd.randint(0, 30)
        row: dict[str, Any] = {"id": i} if with_id else {}
        row.update(name=name, price=price, extra=extra, ts=ts)
        if value_format == "json":
            values.append(json.dumps(row).encode())
        else:
            values.append(",".join("" if v is None else str(v) for v in row.values()).encode())
        keys.append(json.dumps({"id": i}).encode())
        stamps.append(T0_MS + i)
    return values, keys, stamps


def kafka_table(name: str, topic: str, bootstrap: str, value_format: str, include: str) -> str:
    """A table over key and value (the key's column 'k_id' with EXCEPT_KEY, whose key
    fields need a prefix; 'id', in key and value, with ALL), metadata columns, a computed
    column and a watermark."""
    key = "id" if include == "ALL" else "k_id"
    prefix = "" if include == "ALL" else ", 'key.fields-prefix' = 'k_'"
    return f"""
        CREATE TABLE {name} (
            {key} BIGINT, name STRING, price BIGINT, extra STRING, ts TIMESTAMP(3),
            twice AS price * 2,
            off BIGINT METADATA FROM 'offset' VIRTUAL,
            part INT METADATA FROM 'partition' VIRTUAL,
            rec_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
            hdrs MAP<STRING, BYTES> METADATA FROM 'headers',
            WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
        ) WITH (
            'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'key.format' = 'json', 'key.fields' = '{key}', 'value.format' = '{value_format}',
            'value.fields-include' = '{include}'{prefix}
        )"""


def scan_of(handle: Any) -> SourceSpec:
    (spec,) = [n.spec for n in handle.plan.nodes if isinstance(n.spec, SourceSpec)]
    return spec


Row = dict[str, Any]
# (query, the columns its scan reads, its rows from those of SELECT *); {key} is the key column
CASES: list[tuple[str, list[str], Callable[[list[Row], str], list[tuple[Any, ...]]]]] = [
    (
        "SELECT name, price FROM t",
        ["name", "price"],  # not ts: nothing reads this bounded topic's watermark
        lambda rows, k: [(r["name"], r["price"]) for r in rows],
    ),
    ("SELECT {key} FROM t", ["{key}"], lambda rows, k: [(r[k],) for r in rows]),
    ("SELECT name, ts FROM t", ["name", "ts"], lambda rows, k: [(r["name"], r["ts"]) for r in rows]),
    (
        "SELECT off, part, hdrs FROM t",
        ["{key}", "off", "part", "hdrs"],  # a row count needs a column the records hold: the first
        lambda rows, k: [(r["off"], r["part"], r["hdrs"]) for r in rows],
    ),
    (
        "SELECT twice, name FROM t WHERE price > 50",
        ["name", "price"],
        lambda rows, k: [(r["twice"], r["name"]) for r in rows if r["price"] is not None and r["price"] > 50],
    ),
    (
        "SELECT rec_ts, extra, {key} FROM t",
        ["{key}", "extra", "rec_ts"],
        lambda rows, k: [(r["rec_ts"], r["extra"], r[k]) for r in rows],
    ),
]


@pytest.mark.parametrize("value_format", ["json", "csv"])
@pytest.mark.parametrize("include", ["ALL", "EXCEPT_KEY"])
def test_a_narrowed_scan_gives_the_rows_of_select_star_projected(
    kafka_bootstrap: str, value_format: str, include: str
) -> None:
    topic = unique(f"proj-{value_format}-{include.lower()}")
    values, keys, stamps = records(value_format, with_id=include == "ALL")

    async def setup() -> None:
        await create_topic(kafka_bootstrap, topic, partitions=2)
        for p in range(2):
            picked = range(p, ROWS, 2)
            await produce(
                kafka_bootstrap,
                topic,
                [values[i] for i in picked],
                keys=[keys[i] for i in picked],
                partition=p,
                headers=[("h", f"p{p}".encode())],
                timestamps=[stamps[i] for i in picked],
            )

    asyncio.run(setup())
    key = "id" if include == "ALL" else "k_id"
    with sqlstream.connect() as s:
        s.execute(kafka_table("t", topic, kafka_bootstrap, value_format, include))
        star = s.sql("SELECT * FROM t")
        assert scan_of(star).projection is None
        everything = [dict(zip(star.columns, r)) for r in star.fetchall()]
        assert sorted(r[key] for r in everything) == list(range(ROWS))
        assert any(r["price"] is None for r in everything) == (value_format == "json")
        for query, reads, expected in CASES:
            query = query.format(key=key)
            handle = s.sql(query)
            spec = scan_of(handle)
            assert sorted(f.name for f in spec.produced) == sorted(c.format(key=key) for c in reads), query
            assert spec.projection is not None, query
            got = handle.fetchall()
            assert sorted(got, key=repr) == sorted(expected(everything, key), key=repr), query
        assert s.sql("SELECT COUNT(*) FROM t").fetchall() == [(ROWS,)]


def plain_table(topic: str, bootstrap: str, value_format: str, **extra: str) -> str:
    more = "".join(f", '{k}' = '{v}'" for k, v in extra.items())
    return f"""
        CREATE TABLE p (id BIGINT, name STRING, price BIGINT, off BIGINT METADATA FROM 'offset' VIRTUAL)
        WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'value.format' = '{value_format}'{more})"""


@pytest.mark.parametrize(
    ("value_format", "bad"),
    [("json", b'{"id": 2, "name": "b", "price": "lots"}'), ("csv", b"2,b,lots")],
)
def test_a_bad_value_in_a_field_nobody_reads_is_no_error(
    kafka_bootstrap: str, value_format: str, bad: bytes
) -> None:
    """As for files (and Flink, whose formats convert only the projected fields): the
    query that reads the bad field fails naming the record; the one that does not, reads it."""
    topic = unique(f"proj-bad-{value_format}")
    good = [b'{"id": 1, "name": "a", "price": 10}', b'{"id": 3, "name": "c", "price": 30}']
    if value_format == "csv":
        good = [b"1,a,10", b"3,c,30"]

    async def setup() -> None:
        await create_topic(kafka_bootstrap, topic)
        await produce(kafka_bootstrap, topic, [good[0], bad, good[1]])

    asyncio.run(setup())
    with sqlstream.connect() as s:
        s.execute(plain_table(topic, kafka_bootstrap, value_format))
        assert s.sql("SELECT name, off FROM p").fetchall() == [("a", 0), ("b", 1), ("c", 2)]
        with pytest.raises(SqlStreamError, match=f"topic '{topic}', partition 0, offset 1"):
            s.sql("SELECT name, price FROM p").fetchall()


@pytest.mark.parametrize("bad", ["key", "value"])
def test_a_record_that_does_not_decode_fails_a_narrowed_scan_too(kafka_bootstrap: str, bad: str) -> None:
    """A value that is no JSON object, or a key that is no JSON, is a bad record whatever
    the query reads (Flink deserializes the key and the value of every record); skipped
    and counted under 'ignore-parse-errors' whatever the query reads."""
    topic = unique(f"proj-malformed-{bad}")
    values = [b'{"id": 1, "name": "a", "price": 1}', b'{"id": 2, "name": "b", "price": 2}', b'{"id": 3}']
    keys = [b'{"k": 1}', b'{"k": 2}', b'{"k": 3}']
    (values if bad == "value" else keys)[1] = b"{not json"

    async def setup() -> None:
        await create_topic(kafka_bootstrap, topic)
        await produce(kafka_bootstrap, topic, values, keys=keys)

    def table(name: str, **extra: str) -> str:
        return (
            plain_table(topic, kafka_bootstrap, "json", **extra)
            .replace("CREATE TABLE p", f"CREATE TABLE {name}")
            .replace("id BIGINT,", "k BIGINT, id BIGINT,")
            .replace("'value.format'", "'key.format' = 'json', 'key.fields' = 'k', 'value.format'")
        )

    asyncio.run(setup())
    with sqlstream.connect() as s:
        s.execute(table("p"))
        s.execute(table("q", **{"value.json.ignore-parse-errors": "true"}))
        for query in ("SELECT name FROM {t}", "SELECT k FROM {t}", "SELECT off FROM {t}"):
            handle = s.sql(query.format(t="p"))
            assert scan_of(handle).projection is not None
            with pytest.raises(SqlStreamError, match=f"topic '{topic}', partition 0, offset 1"):
                handle.fetchall()
            assert len(s.sql(query.format(t="q")).fetchall()) == 2, query


@pytest.mark.parametrize("include", ["ALL", "EXCEPT_KEY"])
def test_upsert_kafka_keeps_its_key_and_its_tombstones(kafka_bootstrap: str, include: str) -> None:
    """A narrowed upsert scan still reads the primary key (a delete carries only the key,
    and ChangelogNormalize keeps rows by it): each query's result is the table's last row
    per key, tombstones applied, projected."""
    topic = unique(f"proj-upsert-{include.lower()}")
    rnd = random.Random(7)
    values: list[bytes | None] = []
    keys: list[bytes | None] = []
    final: dict[int, dict[str, Any]] = {}
    for i in range(120):
        k = rnd.randint(0, 9)
        keys.append(json.dumps({"id": k}).encode())
        if rnd.random() < 0.2:
            values.append(None)
            final.pop(k, None)
            continue
        row: dict[str, Any] = {"id": k} if include == "ALL" else {}
        row.update(name=f"n{i}", v=rnd.randint(0, 99), note="z" * rnd.randint(0, 20))
        values.append(json.dumps(row).encode())
        final[k] = {**row, "id": k}

    async def setup() -> None:
        await create_topic(kafka_bootstrap, topic)
        await produce(kafka_bootstrap, topic, values, keys=keys)

    asyncio.run(setup())
    with sqlstream.connect() as s:
        s.execute(f"""
            CREATE TABLE u (id BIGINT, name STRING, v BIGINT, note STRING, PRIMARY KEY (id) NOT ENFORCED)
            WITH ('connector' = 'upsert-kafka', 'topic' = '{topic}',
                'properties.bootstrap.servers' = '{kafka_bootstrap}', 'scan.bounded.mode' = 'latest-offset',
                'key.format' = 'json', 'value.format' = 'json', 'value.fields-include' = '{include}')""")
        for query, cols in (
            ("SELECT * FROM u", ["id", "name", "v", "note"]),
            ("SELECT v FROM u", ["v"]),
            ("SELECT name, id FROM u", ["name", "id"]),
        ):
            handle = s.sql(query)
            assert [f.name for f in scan_of(handle).produced] == sorted(
                {"id", *cols}, key=["id", "name", "v", "note"].index
            )
            want = sorted(tuple(r[c] for c in cols) for r in final.values())
            assert sorted(handle.fetchall()) == want, query


def test_a_position_of_a_narrowed_reader_restores_a_full_one_and_back(kafka_bootstrap: str) -> None:
    """The source's state is its offsets, whatever it decodes: a checkpoint taken before a
    query was narrowed (or after) resumes with no gap and no duplicate."""
    topic = unique("proj-restore")
    cols = fields("id BIGINT", "name STRING", "price BIGINT")
    opts = {"topic": topic, "format": "json", "scan.startup.mode": "earliest-offset"}

    async def scenario() -> list[int]:
        await create_topic(kafka_bootstrap, topic, partitions=2)
        for p in range(2):
            rows = ({"id": p * 1000 + i, "name": f"n{i}", "price": i} for i in range(60))
            await produce(kafka_bootstrap, topic, json_values(*rows), partition=p)
        seen: list[int] = []
        position: dict[str, Any] | None = None
        steps: list[tuple[str, ...] | None] = [None, ("id",), None, ("id",)]
        for step, projection in enumerate(steps):
            reader = source(kafka_bootstrap, opts, cols, projection=projection)
            if position is not None:
                reader.restore(position)
            await reader.open()
            got = await poll_rows(reader, 30, max_rows=7)
            assert got.column_names == list(projection or ("id", "name", "price"))
            seen += got.column("id").to_pylist()
            position = json.loads(json.dumps(reader.position()))
            assert sum(position["offsets"].values()) == 30 * (step + 1)
            if step < len(steps) - 1:
                await poll_rows(reader, 3)  # read on past the checkpoint, then "crash"
            else:
                assert await reader.poll(1000) is None
            await reader.close()
        return seen

    seen = asyncio.run(scenario())
    assert sorted(seen) == sorted([i for i in range(60)] + [1000 + i for i in range(60)])


@pytest.mark.parametrize(("key_format", "value_format"), [("avro", "avro"), ("raw", "json"), ("csv", "raw")])
def test_formats_decoded_whole_give_the_projected_rows_too(
    kafka_bootstrap: str, key_format: str, value_format: str
) -> None:
    """An Avro record is decoded whole by its schema and a raw value is one field: the scan
    is narrowed all the same, its rows those of SELECT * projected."""
    topic = unique(f"proj-{key_format}-{value_format}")
    asyncio.run(create_topic(kafka_bootstrap, topic, partitions=2))
    one_value = value_format == "raw"
    key, cols = ("k", "k STRING, id BIGINT, name STRING, price BIGINT")
    if one_value:
        key, cols = ("k", "k STRING, line STRING")
    elif key_format == "avro":
        key, cols = ("id", "id BIGINT, name STRING, price BIGINT")
    with sqlstream.connect() as s:
        s.execute(f"""
            CREATE TABLE w ({cols}, off BIGINT METADATA FROM 'offset' VIRTUAL) WITH (
                'connector' = 'kafka', 'topic' = '{topic}',
                'properties.bootstrap.servers' = '{kafka_bootstrap}',
                'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
                'key.format' = '{key_format}', 'key.fields' = '{key}', 'value.format' = '{value_format}',
                'value.fields-include' = 'EXCEPT_KEY', 'sink.delivery-guarantee' = 'at-least-once')""")
        names = [c.split()[0] for c in cols.split(", ")]
        rows = [
            ", ".join(
                f"'k{i % 7}'"
                if n in ("k", "line")
                else str(i)
                if n == "id"
                else f"'n{i}'"
                if n == "name"
                else str(i * 3)
                for n in names
            )
            for i in range(50)
        ]
        job = s.execute(f"INSERT INTO w ({', '.join(names)}) VALUES ({'), ('.join(rows)})").job
        assert job is not None and job.wait(30) and job.error is None
        star = s.sql("SELECT * FROM w")
        everything = [dict(zip(star.columns, r)) for r in star.fetchall()]
        assert len(everything) == 50
        for picked in ([names[-1]], [names[0], "off"], ["off"]):
            handle = s.sql(f"SELECT {', '.join(picked)} FROM w")
            assert scan_of(handle).projection is not None
            want = [tuple(r[c] for c in picked) for r in everything]
            assert sorted(handle.fetchall(), key=repr) == sorted(want, key=repr), picked
