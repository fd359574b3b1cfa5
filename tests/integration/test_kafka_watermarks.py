"""Per-partition watermarks from Kafka: each batch the source hands out holds one
partition's rows, tagged with it, so the watermark assigner keeps a maximum per partition
and the watermark is their minimum; a partition's position moves only when its rows are
handed out. ``scan.watermark.idle-timeout`` sets when a quiet partition stops holding the
watermark back."""

from __future__ import annotations

import asyncio
import json

import pytest

import planner
from catalog import Catalog
from planner.physical import WatermarkSpec
from runtime.batches import split_of
from tests.integration.test_kafka_source import create_topic, fields, produce, source, unique

pytestmark = pytest.mark.kafka


def test_batches_hold_one_partition_each_and_positions_follow_what_was_handed_out(
    kafka_bootstrap: str,
) -> None:
    topic = unique("wm")

    async def run() -> list[tuple[bytes | None, list[int]]]:
        await create_topic(kafka_bootstrap, topic, partitions=2)
        await produce(kafka_bootstrap, topic, [json.dumps({"v": i}).encode() for i in range(5)], partition=0)
        await produce(
            kafka_bootstrap, topic, [json.dumps({"v": 10 + i}).encode() for i in range(3)], partition=1
        )
        r = source(
            kafka_bootstrap,
            {"topic": topic, "format": "json", "scan.startup.mode": "earliest-offset",
             "scan.bounded.mode": "latest-offset"},
            fields("v BIGINT"),
        )  # fmt: skip
        await r.open()
        out = []
        try:
            while not r.finished:
                b = await r.poll(1000)
                if b is not None and b.num_rows:
                    out.append((split_of(b), b.column("v").to_pylist()))
                    offsets = r.position()["offsets"]
                    done = {p: sum(len(v) for s, v in out if s == f"{topic}:{p}".encode()) for p in (0, 1)}
                    assert offsets == {f"{topic}:{p}": done[p] for p in (0, 1)}  # no row ahead
        finally:
            await r.close()
        return out

    got = asyncio.run(run())
    by_split: dict[bytes | None, list[int]] = {}
    for split, values in got:
        by_split.setdefault(split, []).extend(values)
    assert by_split == {f"{topic}:0".encode(): [0, 1, 2, 3, 4], f"{topic}:1".encode(): [10, 11, 12]}


@pytest.mark.parametrize(("option", "config", "expected"), [
    ("'scan.watermark.idle-timeout' = '3 s', ", {"table.exec.source.idle-timeout": "10 s"}, 3000),
    ("", {"table.exec.source.idle-timeout": "10 s"}, 10000),
])  # fmt: skip
def test_scan_watermark_idle_timeout_is_the_tables_own(
    option: str, config: dict[str, str], expected: int
) -> None:
    cat = Catalog()
    ddl = (
        "CREATE TABLE t (v BIGINT, ts AS TO_TIMESTAMP_LTZ(v, 3), WATERMARK FOR ts AS ts) WITH ("
        f"'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'b:9092', {option}"
        "'scan.startup.mode' = 'earliest-offset', 'format' = 'json')"
    )
    for statement in planner.parse(ddl):
        cat.create(planner.create_table(statement, cat))
    plan = planner.plan("SELECT v FROM t", cat, config)
    (spec,) = [n.spec for n in plan.nodes if isinstance(n.spec, WatermarkSpec)]
    assert spec.idle_timeout_ms == expected
