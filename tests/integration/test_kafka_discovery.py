"""Kafka partition discovery ('scan.topic-partition-discovery.interval'), and partitions
that have had no row holding the watermark back, as in Flink, on the real broker.

A partition added while the source runs is read from its earliest offset and is in the
position from then on, so a restore resumes it exactly. Every partition the reader starts
on is announced to the watermark assigner; one with no row yet keeps the watermark where
it is until it gets a row, or until 'scan.watermark.idle-timeout' passes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from planner.physical import Field, Node, PhysicalPlan, WatermarkSpec
from runtime.batches import is_announcement, split_of
from runtime.connectors.base import SourceReader, SubtaskContext
from runtime.messages import Message, Watermark
from runtime.metrics import OperatorMetrics
from runtime.operator import OperatorContext
from runtime.operators.watermark import WatermarkOp
from tests.integration.test_kafka_source import create_topic, fields, produce, source, unique

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]

COLS = fields("v BIGINT")
STAMPED = fields("v BIGINT", "ts TIMESTAMP(3)")


def stamped(*ms: int) -> list[bytes]:
    stamps = [f"1970-01-01 00:00:{m // 1000:02d}.{m % 1000:03d}" for m in ms]
    return [json.dumps({"v": m, "ts": ts}).encode() for m, ts in zip(ms, stamps)]


def wms(messages: list[Message]) -> list[int]:
    return [m.ts_ms for m in messages if isinstance(m, Watermark)]


async def add_partitions(bootstrap: str, topic: str, total: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(total_count=total)})
    finally:
        await admin.close()


def values(*vs: int) -> list[bytes]:
    return [json.dumps({"v": v}).encode() for v in vs]


def reader(bootstrap: str, topic: str, **options: str) -> SourceReader:
    opts = {"topic": topic, "format": "json", "scan.startup.mode": "earliest-offset", **options}
    return source(bootstrap, opts, COLS)


async def read_until(r: SourceReader, want: int, limit: int = 2000) -> tuple[list[int], list[bytes]]:
    """Rows (their v) and announced splits, polling until ``want`` rows came."""
    rows: list[int] = []
    announced: list[bytes] = []
    for _ in range(limit):
        b = await r.poll(1000)
        if b is not None and is_announcement(b):
            announced.append(split_of(b) or b"")
        elif b is not None and b.num_rows:
            rows += b.column("v").to_pylist()
        if len(rows) >= want:
            break
        await asyncio.sleep(0.01)
    return rows, announced


def test_new_partitions_are_read_from_earliest_and_checkpointed(kafka_bootstrap: str) -> None:
    topic = unique("discover")

    async def run() -> None:
        await create_topic(kafka_bootstrap, topic, partitions=1)
        await produce(kafka_bootstrap, topic, values(1, 2), partition=0)
        r = reader(kafka_bootstrap, topic, **{"scan.topic-partition-discovery.interval": "100 ms"})
        await r.open()
        try:
            rows, announced = await read_until(r, 2)
            assert rows == [1, 2] and announced == [f"{topic}:0".encode()]
            # the topic grows while the job runs: rows written before the source saw the new
            # partition are read too (earliest offset)
            await add_partitions(kafka_bootstrap, topic, 3)
            await produce(kafka_bootstrap, topic, values(10, 11), partition=1)
            await produce(kafka_bootstrap, topic, values(20), partition=2)
            rows, announced = await read_until(r, 3)
            assert sorted(rows) == [10, 11, 20]
            assert sorted(announced) == [f"{topic}:1".encode(), f"{topic}:2".encode()]
            position = r.position()
            assert position == {"offsets": {f"{topic}:0": 2, f"{topic}:1": 2, f"{topic}:2": 1}}
        finally:
            await r.close()
        await produce(kafka_bootstrap, topic, values(12), partition=1)
        # a restore resumes every partition where the checkpoint says: nothing twice
        again = reader(kafka_bootstrap, topic)
        again.restore(position)
        await again.open()
        try:
            rows, _ = await read_until(again, 1, limit=300)
            assert rows == [12]
        finally:
            await again.close()
        # a checkpoint taken before the discovery does not name the new partitions: they
        # start at their earliest offset again
        before = reader(kafka_bootstrap, topic)
        before.restore({"offsets": {f"{topic}:0": 2}})
        await before.open()
        try:
            rows, _ = await read_until(before, 4, limit=300)
            assert sorted(rows) == [10, 11, 12, 20]
        finally:
            await before.close()

    asyncio.run(run())


def test_discovery_zero_never_looks_and_bounded_scans_do_not(kafka_bootstrap: str) -> None:
    topic = unique("nodiscover")

    async def run() -> None:
        await create_topic(kafka_bootstrap, topic, partitions=1)
        r = reader(kafka_bootstrap, topic, **{"scan.topic-partition-discovery.interval": "0"})
        await r.open()
        try:
            await read_until(r, 0, limit=1)
            await add_partitions(kafka_bootstrap, topic, 2)
            await produce(kafka_bootstrap, topic, values(5), partition=1)
            rows, announced = await read_until(r, 1, limit=100)
            assert rows == [] and announced == []
            assert r.position() == {"offsets": {f"{topic}:0": 0}}
        finally:
            await r.close()

    asyncio.run(run())


def watermark_op(idle_timeout_ms: int) -> WatermarkOp:
    spec = WatermarkSpec("ts", '"ts"', idle_timeout_ms=idle_timeout_ms, emit_interval_ms=0)
    node = Node(2, "Watermark", spec, (), (Field("v", "BIGINT"), Field("ts", "TIMESTAMP(3)")))
    ctx = OperatorContext(
        SubtaskContext("t", 2, "Watermark", 0, 1), node, PhysicalPlan((node,)), OperatorMetrics(2, 0),
        ThreadPoolExecutor(1),
    )  # fmt: skip
    return WatermarkOp(ctx)


async def feed(r: SourceReader, op: WatermarkOp, want: int) -> list[int]:
    """The watermarks ``op`` emits while the reader's next ``want`` rows (and any
    announcement before them) go through it."""
    out: list[Message] = []
    rows = 0
    for _ in range(1000):
        b = await r.poll(1000)
        if b is not None:
            out += await op.process_batch(b, 0)
            rows += b.num_rows
        if rows >= want:
            break
        await asyncio.sleep(0.005)
    assert rows == want
    return wms(out)


@pytest.mark.parametrize("idle_timeout", ["", "200 ms"])
def test_a_partition_without_rows_holds_the_watermark_back_until_idle(
    kafka_bootstrap: str, idle_timeout: str
) -> None:
    """The watermark is the event time ``ts`` (``v`` ms after the epoch): partition 1 has
    no row, so the watermark does not move, as in Flink, unless partition 1 goes idle."""
    topic = unique("wm-empty")
    timeout = 2000 if idle_timeout else 0

    async def run() -> tuple[list[int], list[int], list[int]]:
        await create_topic(kafka_bootstrap, topic, partitions=2)
        await produce(kafka_bootstrap, topic, stamped(1000, 5000), partition=0)
        options = {"topic": topic, "format": "json", "scan.startup.mode": "earliest-offset"}
        r = source(kafka_bootstrap, options, STAMPED)
        op = watermark_op(timeout)
        await op.open()
        await r.open()
        try:
            held = await feed(r, op, 2)  # both rows of partition 0 went through
            assert op.split_max[f"{topic}:0".encode()] == 5000
            # the idle timeout after partition 1 was announced (partition 0 is not quiet then)
            at = op.split_seen[f"{topic}:1".encode()] + timeout
            later = wms(await op.on_timer(at)) if timeout else []
            await produce(kafka_bootstrap, topic, stamped(3000), partition=1)
            moved = await feed(r, op, 1)
        finally:
            await r.close()
            await op.close()
        return held, later, moved

    held, later, moved = asyncio.run(run())
    assert held == []  # partition 1 has had no row
    if idle_timeout:
        assert later == [5000]  # partition 1 is idle: partition 0 alone decides
        assert moved == []  # partition 1's row (3000) cannot move it back
    else:
        assert later == []
        assert moved == [3000]  # the minimum of 5000 and 3000


# ---- a job: new partitions picked up while it runs, their offsets in its checkpoints -----


def published(out: Path) -> list[int]:
    """The v of every row in the sink's visible (committed) files."""
    rows: list[int] = []
    for name in sorted(os.listdir(out)) if out.exists() else []:
        if not name.startswith((".", "_")):
            rows += [json.loads(line)["v"] for line in (out / name).read_text().splitlines()]
    return rows


class Job:
    """``sqlstream run`` of an unbounded script as a subprocess, killed with SIGKILL."""

    def __init__(self, script: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sqlstream", "run", str(script)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def wait_for(self, out: Path, rows: int) -> None:
        deadline = time.monotonic() + 120  # a generous bound on a loaded machine, not a speed test
        while len(published(out)) < rows:
            assert self.proc.poll() is None, f"the job stopped: {self.proc.communicate()[1][-3000:]}"
            assert time.monotonic() < deadline, f"only {len(published(out))} of {rows} rows arrived"
            time.sleep(0.1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=60)


def test_a_job_reads_partitions_added_while_it_runs_and_resumes_them_exactly(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic, out = unique("discover-job"), tmp_path / "out"
    script = tmp_path / "job.sql"
    script.write_text(f"""
        SET 'execution.checkpointing.interval' = '200 ms';
        SET 'pipeline.name' = 'discover';
        SET 'state.checkpoints.dir' = '{tmp_path / "checkpoints"}';
        CREATE TABLE src (v BIGINT) WITH ('connector' = 'kafka', 'topic' = '{topic}',
            'properties.bootstrap.servers' = '{kafka_bootstrap}', 'format' = 'json',
            'scan.startup.mode' = 'earliest-offset', 'scan.topic-partition-discovery.interval' = '200 ms');
        CREATE TABLE dst (v BIGINT) WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
        INSERT INTO dst SELECT v FROM src;
    """)
    asyncio.run(create_topic(kafka_bootstrap, topic, partitions=1))
    asyncio.run(produce(kafka_bootstrap, topic, values(*range(0, 50)), partition=0))
    job = Job(script)
    try:
        job.wait_for(out, 50)
        asyncio.run(add_partitions(kafka_bootstrap, topic, 2))  # while the job runs
        asyncio.run(produce(kafka_bootstrap, topic, values(*range(100, 150)), partition=1))
        job.wait_for(out, 100)  # discovered, read from its start, committed
    finally:
        job.kill()
    # more rows in both partitions while the job is down; the restart resumes each
    # partition at the offset of its newest checkpoint
    asyncio.run(produce(kafka_bootstrap, topic, values(*range(50, 60)), partition=0))
    asyncio.run(produce(kafka_bootstrap, topic, values(*range(150, 160)), partition=1))
    job = Job(script)
    try:
        job.wait_for(out, 120)
    finally:
        job.kill()
    assert sorted(published(out)) == [*range(0, 60), *range(100, 160)]  # each row once
