"""Queries over an upsert-kafka topic answer as over its final table (the last row of each
key, a tombstone deleting it), as Flink's ChangelogNormalize makes them: random sequences
of upserts and tombstones (repeated identical upserts, tombstones of keys never written)
on a topic of two partitions, read at parallelism 2 in batches of a few records or all
of them, against DuckDB over the last row per key."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sqlstream
from sqlstream.jobs import JobHandle
from tests.conftest import examples
from tests.integration import resumed_jobs
from tests.integration.test_kafka_source import create_topic, produce, read_records, unique
from tests.unit.checkpoint.test_runtime_checkpoints import config as checkpointing

pytestmark = pytest.mark.kafka

Record = tuple[str, tuple[str, int] | None]  # (key, (name, v)), or a tombstone

records = st.lists(
    st.tuples(
        st.sampled_from(["k0", "k1", "k2", "k3", "k4", "k5"]),
        st.one_of(st.none(), st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 3))),
    ),
    min_size=1,
    max_size=40,
)

QUERIES = {
    "select": ("SELECT id, name, v FROM u", "SELECT id, name, v FROM u"),
    "group by": (
        "SELECT name, SUM(v), COUNT(*) FROM u GROUP BY name",
        "SELECT name, SUM(v)::INT, COUNT(*) FROM u GROUP BY name",
    ),
    "filter": ("SELECT id, v FROM u WHERE v > 1", "SELECT id, v FROM u WHERE v > 1"),
    "top-n": (
        "SELECT id, name, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY name ORDER BY v DESC, id) AS r "
        "FROM u) WHERE r <= 1",
        "SELECT id, name, v FROM u QUALIFY row_number() OVER (PARTITION BY name ORDER BY v DESC, id) <= 1",
    ),
}


async def produce_records(bootstrap: str, topic: str, recs: list[Record]) -> None:
    """``recs`` into ``topic``, keyed by id (a tombstone for no value), partitioned by the
    key's hash as any producer: a key's records stay in order."""
    values = [None if v is None else json.dumps({"id": k, "name": v[0], "v": v[1]}).encode() for k, v in recs]
    keys = [json.dumps({"id": k}).encode() for k, _ in recs]
    await produce(bootstrap, topic, values, keys=keys, partition=None)


def final_table(recs: list[Record]) -> duckdb.DuckDBPyConnection:
    """The topic as a table: the last record of each key, without the deleted ones."""
    last: dict[str, tuple[str, int] | None] = {}
    for key, value in recs:
        last[key] = value
    con = duckdb.connect()
    con.execute("CREATE TABLE u (id VARCHAR, name VARCHAR, v INTEGER)")
    rows = [(k, *v) for k, v in last.items() if v is not None]
    if rows:
        con.executemany("INSERT INTO u VALUES (?, ?, ?)", rows)
    return con


@settings(max_examples=examples(8), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records, st.sampled_from(["1", "3", "1000"]))
@example(  # an update, a repeated identical upsert, a tombstone of a kept and of an absent key
    recs=[("k1", ("a", 3)), ("k2", ("a", 1)), ("k1", ("b", 2)), ("k2", ("a", 1)), ("k2", None), ("k5", None)],
    batch_size="1",
)
def test_queries_over_an_upsert_topic_answer_as_over_its_final_table(
    kafka_bootstrap: str, recs: list[Record], batch_size: str
) -> None:
    """Batches of one or a few records make a key's upsert and its later update or
    tombstone meet the operator apart, as on a live topic; a batch of all of them, at once."""
    topic = unique("upsert-normalize")

    async def publish() -> None:
        await create_topic(kafka_bootstrap, topic, partitions=2)
        await produce_records(kafka_bootstrap, topic, recs)

    asyncio.run(publish())
    oracle = final_table(recs)
    config = {"parallelism.default": "2", "sqlstream.runtime.batch-size": batch_size}
    with sqlstream.connect(config=config) as s:
        s.execute(f"""
            CREATE TABLE u (id STRING, name STRING, v INT, PRIMARY KEY (id) NOT ENFORCED) WITH (
              'connector' = 'upsert-kafka', 'topic' = '{topic}',
              'properties.bootstrap.servers' = '{kafka_bootstrap}', 'key.format' = 'json',
              'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset')""")
        for name, (ours, theirs) in QUERIES.items():
            got: list[Any] = sorted(s.sql(ours).fetchall())
            expected = sorted(oracle.execute(theirs).fetchall())
            assert got == expected, f"{name}: {ours}"


def published(bootstrap: str, topic: str) -> dict[str, tuple[Any, ...]]:
    """An upsert topic's final table: the last record of each key (a tombstone deletes)."""
    final: dict[str, tuple[Any, ...]] = {}
    for r in asyncio.run(read_records(bootstrap, topic, "read_uncommitted")):
        key = json.loads(r.key)["name"]
        if r.value is None:
            final.pop(key, None)
        else:
            final[key] = tuple(json.loads(r.value).values())
    return final


def grouped(recs: list[Record]) -> dict[str, tuple[Any, ...]]:
    return {
        name: (name, total, n)
        for name, total, n in final_table(recs).execute(QUERIES["group by"][1]).fetchall()
    }


def test_a_job_resumed_mid_stream_keeps_each_keys_last_row(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The normalizer's rows are in the checkpoint: after the restore, an update of a key
    read before it retracts the key's old row from its group, and its tombstone deletes
    it; without them the update would count twice and the tombstone be lost."""
    topic, out = unique("upsert-resume-in"), unique("upsert-resume-out")
    first: list[Record] = [("k0", ("a", 1)), ("k1", ("b", 2)), ("k2", ("a", 3)), ("k4", ("c", 1))]
    then: list[Record] = [("k0", ("b", 5)), ("k1", None), ("k2", ("a", 3)), ("k9", None), ("k3", ("c", 1))]

    def publish(recs: list[Record]) -> None:
        asyncio.run(produce_records(kafka_bootstrap, topic, recs))

    asyncio.run(create_topic(kafka_bootstrap, topic))
    asyncio.run(create_topic(kafka_bootstrap, out))
    publish(first)
    script = f"""
        CREATE TABLE u (id STRING, name STRING, v INT, PRIMARY KEY (id) NOT ENFORCED) WITH (
          'connector' = 'upsert-kafka', 'topic' = '{topic}',
          'properties.bootstrap.servers' = '{kafka_bootstrap}', 'key.format' = 'json',
          'value.format' = 'json');
        CREATE TABLE agg (name STRING, total INT, n BIGINT, PRIMARY KEY (name) NOT ENFORCED) WITH (
          'connector' = 'upsert-kafka', 'topic' = '{out}',
          'properties.bootstrap.servers' = '{kafka_bootstrap}', 'key.format' = 'json',
          'value.format' = 'json')"""
    query = "INSERT INTO agg SELECT name, SUM(v), COUNT(*) FROM u GROUP BY name"

    def run_until(expected: dict[str, tuple[Any, ...]], resume: bool) -> dict[str, Any]:
        """Run the job until the sink holds ``expected`` and two more checkpoints completed."""
        extra = {"sqlstream.checkpoint.resume": "latest"} if resume else {}

        def sink(job: JobHandle) -> dict[str, tuple[Any, ...]]:
            return published(kafka_bootstrap, out)

        config = checkpointing(tmp_path, 2, **extra)
        return resumed_jobs.run_until(config, script, query, lambda job: sink(job) == expected, sink)

    run_until(grouped(first), resume=False)
    publish(then)
    metrics = run_until(grouped(first + then), resume=True)
    assert metrics["checkpoints"]["restored_from"] is not None
    normalize = next(op for op in metrics["operators"] if op["kind"] == "changelog_normalize")
    assert normalize["state_tables"] == {"rows": len(final_table(first + then).execute("FROM u").fetchall())}


def test_a_group_that_having_filters_out_is_a_tombstone(kafka_bootstrap: str) -> None:
    """A group whose new row fails HAVING sends only its -U: upsert-kafka writes the key's
    tombstone, as Flink writes an UPDATE_BEFORE. Dropped, the topic kept the group's last
    row that passed; read back (normalized), the table must be the query's answer."""
    topic = unique("having-upsert")
    asyncio.run(create_topic(kafka_bootstrap, topic))
    with sqlstream.connect() as s:
        s.execute(
            "CREATE TABLE clicks (user_id INT, url STRING) WITH ('connector' = 'datagen', "
            "'number-of-rows' = '3000', 'sqlstream.seed' = '3', 'fields.user_id.min' = '1', "
            "'fields.user_id.max' = '40', 'fields.url.length' = '4')"
        )
        s.execute(f"""
            CREATE TABLE few (user_id INT, clicks BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
                'connector' = 'upsert-kafka', 'topic' = '{topic}',
                'properties.bootstrap.servers' = '{kafka_bootstrap}', 'scan.bounded.mode' = 'latest-offset',
                'key.format' = 'json', 'value.format' = 'json')""")
        job = s.execute(
            "INSERT INTO few SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id HAVING COUNT(*) < 75"
        ).job
        assert job is not None and job.wait(120) and job.error is None
        counts: dict[int, int] = {}
        for (user,) in s.sql("SELECT user_id FROM clicks").fetchall():
            counts[user] = counts.get(user, 0) + 1
        expected = sorted((u, n) for u, n in counts.items() if n < 75)
        assert 0 < len(expected) < 40
        assert sorted(s.sql("SELECT user_id, clicks FROM few").fetchall()) == expected


@settings(max_examples=examples(6), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records, st.sampled_from(["1", "3", "1000"]))
@example(  # k1 updated out of the filter, k2 into it and out again, k0 deleted while matching
    recs=[("k1", ("a", 3)), ("k2", ("a", 1)), ("k0", ("b", 2)), ("k1", ("b", 0)), ("k2", ("a", 2)),
          ("k2", ("c", 1)), ("k0", None)],
    batch_size="1",
)  # fmt: skip
def test_an_upsert_topic_filtered_and_rekeyed_into_upsert_sinks(
    kafka_bootstrap: str, recs: list[Record], batch_size: str
) -> None:
    """Written back into upsert-kafka tables, as Flink plans it: filtered into a table keyed
    as the topic (ChangelogNormalize, then the filter; a key updated out of the filter is
    deleted), the table is DuckDB's final table filtered; keyed by name instead (the
    SinkUpsertMaterializer after ChangelogNormalize), each name holds one of its live rows
    (the one that arrived last: which depends on the order the two partitions are read in)."""
    topic, kept, by_name = unique("upsert-in"), unique("upsert-filtered"), unique("upsert-by-name")

    async def publish() -> None:
        for t in (kept, by_name):
            await create_topic(kafka_bootstrap, t)
        await create_topic(kafka_bootstrap, topic, partitions=2)
        await produce_records(kafka_bootstrap, topic, recs)

    asyncio.run(publish())
    config = {
        "parallelism.default": "2",
        "sqlstream.runtime.batch-size": batch_size,
        "table.exec.sink.require-on-conflict": "false",
        "table.dml-sync": "true",
    }

    def table(name: str, topic: str, key: str) -> str:
        return (
            f"CREATE TABLE {name} (id STRING, name STRING, v INT, PRIMARY KEY ({key}) NOT ENFORCED) WITH ("
            f"'connector' = 'upsert-kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = "
            f"'{kafka_bootstrap}', 'key.format' = 'json', 'value.format' = 'json', "
            "'scan.bounded.mode' = 'latest-offset')"
        )

    with sqlstream.connect(config=config) as s:
        s.execute_script(
            ";".join([table("u", topic, "id"), table("kept", kept, "id"), table("names", by_name, "name")])
        )
        for insert in ("INSERT INTO kept SELECT * FROM u WHERE v > 1", "INSERT INTO names SELECT * FROM u"):
            job = s.execute(insert).job
            assert job is not None and job.error is None
    final = final_table(recs)
    expected = sorted(final.execute("SELECT id, name, v FROM u WHERE v > 1").fetchall())
    assert sorted(topic_table(kafka_bootstrap, kept, "id").values()) == expected
    live: dict[str, set[tuple[Any, ...]]] = {}
    for row in final.execute("SELECT id, name, v FROM u").fetchall():
        live.setdefault(row[1], set()).add(row)
    names = topic_table(kafka_bootstrap, by_name, "name")
    assert set(names) == set(live) and all(row in live[name] for name, row in names.items())


def topic_table(bootstrap: str, topic: str, key: str) -> dict[str, tuple[Any, ...]]:
    """An upsert topic read as upsert-kafka reads it: the last record of each key, a
    tombstone deleting it; rows as (id, name, v)."""
    final: dict[str, tuple[Any, ...]] = {}
    for r in asyncio.run(read_records(bootstrap, topic, "read_uncommitted")):
        k = json.loads(r.key)[key]
        if r.value is None:
            final.pop(k, None)
        else:
            value = json.loads(r.value)
            final[k] = (value["id"], value["name"], value["v"])
    return final
