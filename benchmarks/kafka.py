"""Kafka -> 1 s tumbling window -> Kafka: rows/s and end-to-end latency, exactly-once
against at-least-once, with a checkpoint every second.

    source <(scripts/services up kafka)
    .venv/bin/python benchmarks/kafka.py                      # both figures
    .venv/bin/python benchmarks/kafka.py throughput --rows 2000000 --repeats 3
    .venv/bin/python benchmarks/kafka.py latency --rate 20000 --seconds 20
    .venv/bin/python benchmarks/kafka.py source --rows 2000000 --repeats 3   # the source alone, CPU s
    .venv/bin/python benchmarks/kafka.py source --bids --rows 1000000        # wide records, 2 fields read

The job is what a user would write (planner, runtime, parallelism 2, two partitions per
topic): ``{"v": i}`` records, key ``k = v % 1000``, event time from the record's
timestamp (``METADATA FROM 'timestamp'``), ``COUNT(*)`` and ``SUM(v)`` per key and 1 s
window, written as JSON to an output topic. The two modes:

- exactly-once: ``execution.checkpointing.mode`` = EXACTLY_ONCE and
  ``'sink.delivery-guarantee' = 'exactly-once'`` (a Kafka transaction per checkpoint, committed
  when the checkpoint completes);
- at-least-once: AT_LEAST_ONCE checkpoints and ``'sink.delivery-guarantee' = 'at-least-once'``
  (an idempotent producer, flushed at each barrier).

throughput: N rows are written to the source topic first (event time advancing 10 ms every
1,000 rows: 100 windows of 1,000 keys for 10M rows), then each mode reads them as a bounded
scan (``scan.bounded.mode`` = latest-offset) into a fresh output topic; rows/s over the
job's wall time, in process, modes alternating, the median of the repeats.

latency: a producer writes ``--rate`` rows/s for ``--seconds`` s, each record stamped with
the wall clock, while the job runs and a ``read_committed`` consumer of the output topic
notes when each window result arrives. Latency = arrival - window end (the timestamp of
the newest record the window can hold): what a reader of the output waits for a window
result after its window closed. It includes the watermark (event time from the records,
no delay) and, in exactly-once mode, the wait for the checkpoint that commits the result.
Windows closed by the end of input are left out.

source: the Kafka source's own cost. N rows are written once (or ``--topic`` names a topic
written before: compare two checkouts on the same records), then read as a bounded scan
into a blackhole sink at parallelism ``-p`` (``SELECT v, ts``: the value decoded, the
timestamp metadata column; ``--sink`` at-least-once or exactly-once: into a Kafka topic
instead, 1 s checkpoints), in process; CPU seconds of the process over the job
(``time.process_time``, every thread) and per record, the median of the repeats. Before and
after a change: copy this file into the other checkout and run it there with ``--topic``.
``--bids``: the records are the Nexmark bids among ``--rows`` events (``benchmarks/nexmark.py``'s
JSON, 7 fields with a URL and a long ``extra``) and the query reads two of them
(``SELECT auction, price``): what projection push-down saves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import planner
from catalog import Catalog
from runtime.job import Job

PARTITIONS = 2
T0_MS = 1_700_000_000_000
MODES = ("exactly-once", "at-least-once")


def guarantee(mode: str, name: str) -> str:
    """The sink's WITH options of a delivery mode."""
    out = f"'sink.delivery-guarantee' = '{mode}'"
    if mode == "exactly-once":
        out += f", 'sink.transactional-id-prefix' = '{name}', 'properties.transaction.timeout.ms' = '60000'"
    return out


def ddl(servers: str, src: str, dst: str, mode: str, name: str, bounded: str) -> str:
    return f"""
CREATE TABLE src (v BIGINT, k AS v % 1000,
  ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  WATERMARK FOR ts AS ts
) WITH ('connector' = 'kafka', 'topic' = '{src}', 'properties.bootstrap.servers' = '{servers}',
  'scan.startup.mode' = 'earliest-offset', {bounded}, 'format' = 'json');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH (
  'connector' = 'kafka', 'topic' = '{dst}', 'properties.bootstrap.servers' = '{servers}',
  'format' = 'json', {guarantee(mode, name)});
"""


QUERY = (
    "INSERT INTO out SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s "
    "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end"
)


def config(mode: str, name: str, folder: Path) -> dict[str, str]:
    return {
        "execution.checkpointing.interval": "1 s",
        "execution.checkpointing.timeout": "30 s",
        "execution.checkpointing.mode": "EXACTLY_ONCE" if mode == "exactly-once" else "AT_LEAST_ONCE",
        "state.checkpoints.dir": str(folder),
        "pipeline.name": name,
        "parallelism.default": "2",
    }


def plan(ddl_text: str, cfg: dict[str, str]) -> Any:
    cat = Catalog()
    for stmt in planner.parse(ddl_text):
        cat.create(planner.create_table(stmt, cat))
    return planner.plan(QUERY, cat, cfg)


# ---- Kafka helpers --------------------------------------------------------------------------


async def create_topics(servers: str, *topics: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        # no retention: the records' timestamps (T0_MS) are years old, and the broker would
        # delete them at its next retention check
        keep = {"retention.ms": "-1"}
        await admin.create_topics([NewTopic(t, PARTITIONS, 1, topic_configs=keep) for t in topics])
    finally:
        await admin.close()


async def producer(servers: str) -> Any:
    from aiokafka import AIOKafkaProducer

    p = AIOKafkaProducer(
        bootstrap_servers=servers, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=262144
    )
    await p.start()
    return p


async def send_records(
    prod: Any, topic: str, partition: int, records: Iterable[tuple[bytes, Any]]
) -> list[Any]:
    """(value, timestamp) records to one partition as whole producer batches (~20x faster
    than a send a record); the futures of the sends."""
    futures = []
    batch = prod.create_batch()
    for value, ts in records:
        if batch.append(key=None, value=value, timestamp=ts) is None:
            futures.append(await prod.send_batch(batch, topic, partition=partition))
            batch = prod.create_batch()
            if batch.append(key=None, value=value, timestamp=ts) is None:
                raise ValueError(f"a record of {len(value)} bytes does not fit in a producer batch")
    if batch.record_count():
        futures.append(await prod.send_batch(batch, topic, partition=partition))
    return futures


async def send(prod: Any, topic: str, first: int, last: int, stamp: Any) -> None:
    """Rows first..last (row i to partition i % 2) as whole producer batches."""
    futures = []
    for part in range(PARTITIONS):
        start = first + (part - first) % PARTITIONS
        rows = range(start, last + 1, PARTITIONS)
        futures += await send_records(prod, topic, part, ((b'{"v":%d}' % v, stamp(v)) for v in rows))
    await asyncio.gather(*futures)


async def write_rows(servers: str, topic: str, rows: int) -> None:
    """A new topic of rows 1..rows, event time advancing 10 ms every 1,000 rows."""
    await create_topics(servers, topic)
    prod = await producer(servers)
    try:
        for first in range(1, rows + 1, 200_000):
            await send(prod, topic, first, min(rows, first + 199_999), lambda v: T0_MS + v // 100)
    finally:
        await prod.stop()


def end_offsets(rows: int) -> str:
    counts = [len(range(p if p else PARTITIONS, rows + 1, PARTITIONS)) for p in range(PARTITIONS)]
    return ";".join(f"partition:{p},offset:{n}" for p, n in enumerate(counts))


async def count_committed(servers: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    c = AIOKafkaConsumer(
        bootstrap_servers=servers, isolation_level="read_committed", enable_auto_commit=False
    )
    await c.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        ends = await c.end_offsets(tps)
        n = 0
        while [tp for tp in tps if await c.position(tp) < ends[tp]]:
            got = await c.getmany(*tps, timeout_ms=200, max_records=50000)
            n += sum(len(r) for r in got.values())
        return n
    finally:
        await c.stop()


# ---- throughput -----------------------------------------------------------------------------


async def run_job(p: Any) -> tuple[float, dict[str, Any]]:
    job = Job(p)
    t0 = time.perf_counter()
    await job.run()
    return time.perf_counter() - t0, job.metrics()


def throughput(servers: str, rows: int, repeats: int, folder: Path) -> dict[str, list[float]]:
    tag = uuid.uuid4().hex[:8]
    src = f"bench-src-{tag}"

    t0 = time.perf_counter()
    asyncio.run(write_rows(servers, src, rows))
    secs = time.perf_counter() - t0
    print(f"## throughput: {rows:,} rows in {src} (written in {secs:.1f} s), 1 s checkpoints, parallelism 2")
    results: dict[str, list[float]] = {m: [] for m in MODES}
    for i in range(repeats):
        for mode in MODES if i % 2 == 0 else MODES[::-1]:
            name = f"bench-{mode}-{tag}-{i}"
            dst = f"bench-dst-{mode}-{tag}-{i}"
            asyncio.run(create_topics(servers, dst))
            bounded = "'scan.bounded.mode' = 'latest-offset'"
            p = plan(ddl(servers, src, dst, mode, name, bounded), config(mode, name, folder))
            c0 = time.process_time()
            secs, metrics = asyncio.run(run_job(p))
            cpu = time.process_time() - c0
            out = asyncio.run(count_committed(servers, dst))
            chk = metrics.get("checkpoints", {})
            results[mode].append(rows / secs)
            print(
                f"{mode}: {rows / secs:,.0f} rows/s ({secs:.2f} s, CPU {cpu:.2f} s, {chk.get('completed')} "
                f"checkpoints, {out:,} results read_committed, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    eo, alo = (statistics.median(results[m]) for m in MODES)
    print(f"median exactly-once {eo:,.0f} rows/s, at-least-once {alo:,.0f} rows/s: {100 * eo / alo:.0f}%")
    return results


# ---- the source alone ----------------------------------------------------------------------


SOURCE_DDL = """
CREATE TABLE src (v BIGINT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp')
WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{servers}',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE out (v BIGINT, ts TIMESTAMP_LTZ(3)) WITH ({sink});
"""
SOURCE_QUERY = "INSERT INTO out SELECT v, ts FROM src"

# --bids: Nexmark bids (7 fields, a URL and a long 'extra'), of which the query reads two
BIDS_DDL = """
CREATE TABLE src (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
  `dateTime` TIMESTAMP(3), extra STRING)
WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{servers}',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE out (auction BIGINT, price BIGINT) WITH ({sink});
"""
BIDS_QUERY = "INSERT INTO out SELECT auction, price FROM src"


async def write_bids(servers: str, topic: str, events: int) -> None:
    """A new topic of the bids among ``events`` Nexmark events (``benchmarks/nexmark.py``'s
    files, generated once), a JSON record each, partition i % 2."""
    from nexmark import events_files  # benchmarks/nexmark.py (this folder is on sys.path)

    lines = events_files(events)["bid"].read_bytes().splitlines()
    await create_topics(servers, topic)
    prod = await producer(servers)
    try:
        for first in range(0, len(lines), 200_000):
            futures = []
            for part in range(PARTITIONS):
                picked = range(first + part, min(len(lines), first + 200_000), PARTITIONS)
                futures += await send_records(prod, topic, part, ((lines[i], T0_MS + i) for i in picked))
            await asyncio.gather(*futures)
    finally:
        await prod.stop()


async def topic_rows(servers: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    c = AIOKafkaConsumer(bootstrap_servers=servers)
    await c.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        if not tps:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        begin, end = await c.beginning_offsets(tps), await c.end_offsets(tps)
        return sum(end[tp] - begin[tp] for tp in tps)
    finally:
        await c.stop()


def source_cost(
    servers: str,
    rows: int,
    repeats: int,
    parallelism: int,
    topic: str | None,
    sink: str,
    folder: Path,
    bids: bool = False,
) -> list[float]:
    """CPU s of Kafka -> ``sink`` (blackhole, or a Kafka topic in a delivery mode) over the
    same records, ``repeats`` times; ``bids``: Nexmark bids of ``rows`` events."""
    if topic is None:
        topic = f"bench-{'bids' if bids else 'source'}-{uuid.uuid4().hex[:8]}"
        asyncio.run((write_bids if bids else write_rows)(servers, topic, rows))
    rows = asyncio.run(topic_rows(servers, topic))
    source_ddl, query = (BIDS_DDL, BIDS_QUERY) if bids else (SOURCE_DDL, SOURCE_QUERY)
    print(f"## source: {rows:,} records of {topic} -> {sink}, parallelism {parallelism}: {query}")
    cpus: list[float] = []
    for i in range(repeats):
        cfg = {"parallelism.default": str(parallelism)}
        with_sink = "'connector' = 'blackhole'"
        if sink != "blackhole":
            name = f"bench-sink-{uuid.uuid4().hex[:8]}-{i}"
            asyncio.run(create_topics(servers, name))
            with_sink = (
                f"'connector' = 'kafka', 'topic' = '{name}', 'properties.bootstrap.servers' = '{servers}', "
            )
            with_sink += "'format' = 'json', " + guarantee(sink, name)
            cfg = {**config(sink, name, folder), **cfg}
        cat = Catalog()
        for stmt in planner.parse(source_ddl.format(topic=topic, servers=servers, sink=with_sink)):
            cat.create(planner.create_table(stmt, cat))
        p = planner.plan(query, cat, cfg)
        c0 = time.process_time()
        secs, _metrics = asyncio.run(run_job(p))
        cpu = time.process_time() - c0
        cpus.append(cpu)
        load1 = os.getloadavg()[0]
        print(
            f"{rows / secs:,.0f} rows/s ({secs:.2f} s), CPU {cpu:.2f} s = {1e6 * cpu / rows:.2f} us a record "
            f"(load {load1:.1f})",
            flush=True,
        )
    cpu = statistics.median(cpus)
    print(f"median CPU {cpu:.2f} s, {1e6 * cpu / rows:.2f} us a record")
    return cpus


# ---- latency --------------------------------------------------------------------------------


class Arrivals:
    """A read_committed consumer (in a thread) noting when each output record arrives."""

    def __init__(self, servers: str, topic: str) -> None:
        self.servers, self.topic = servers, topic
        self.seen: list[tuple[int, int]] = []  # (window end ms, arrival ms)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        c = AIOKafkaConsumer(
            bootstrap_servers=self.servers,
            isolation_level="read_committed",
            enable_auto_commit=False,
            fetch_max_wait_ms=10,
        )
        await c.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            while not self.stop.is_set():
                got = await c.getmany(*tps, timeout_ms=20)
                now = int(time.time() * 1000)
                for records in got.values():
                    for r in records:
                        start = json.loads(r.value)["window_start"]
                        self.seen.append((_epoch_ms(start) + 1000, now))
        finally:
            await c.stop()


def _epoch_ms(text: str) -> int:
    import datetime as dt

    d = dt.datetime.fromisoformat(text)
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    return int(d.timestamp() * 1000)


async def feed(servers: str, src: str, rows: int, rate: int, fed: dict[str, int]) -> None:
    """Rows 1..rows at ``rate`` rows/s, each stamped with the wall clock when sent."""
    prod = await producer(servers)
    try:
        t0, done, step = time.monotonic(), 0, max(1, rate // 50)
        while done < rows:
            upto = min(rows, done + step)
            await send(prod, src, done + 1, upto, lambda _v: int(time.time() * 1000))
            done = upto
            pause = t0 + done / rate - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
        fed["end_ms"] = int(time.time() * 1000)
    finally:
        await prod.stop()


def latency(servers: str, rate: int, seconds: float, folder: Path) -> dict[str, tuple[float, float, int]]:
    rows = int(rate * seconds)
    print(f"## latency: {rate:,} rows/s for {seconds:.0f} s, 1 s checkpoints, parallelism 2")
    out: dict[str, tuple[float, float, int]] = {}
    for mode in MODES:
        tag = uuid.uuid4().hex[:8]
        src, dst, name = f"lat-src-{tag}", f"lat-dst-{tag}", f"lat-{mode}-{tag}"
        asyncio.run(create_topics(servers, src, dst))
        bounded = (
            "'scan.bounded.mode' = 'specific-offsets', "
            f"'scan.bounded.specific-offsets' = '{end_offsets(rows)}'"
        )
        p = plan(ddl(servers, src, dst, mode, name, bounded), config(mode, name, folder))
        arrivals = Arrivals(servers, dst)
        arrivals.thread.start()
        fed: dict[str, int] = {}
        feeder = threading.Thread(
            target=asyncio.run, args=(feed(servers, src, rows, rate, fed),), daemon=True
        )
        feeder.start()
        asyncio.run(run_job(p))
        feeder.join()
        time.sleep(1.0)
        arrivals.stop.set()
        arrivals.thread.join(timeout=10)
        lat = sorted(a - end for end, a in arrivals.seen if end <= fed["end_ms"])
        if not lat:
            print(f"{mode}: no window closed before the end of input")
            continue
        p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        out[mode] = (p50, p99, len(lat))
        print(f"{mode}: p50 {p50:,.0f} ms, p99 {p99:,.0f} ms over {len(lat):,} window results", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="all", choices=("all", "throughput", "latency", "source"))
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rate", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("-p", "--parallelism", type=int, default=1, help="source: the job's parallelism")
    ap.add_argument("--topic", help="source: read this topic (written before) instead of writing one")
    ap.add_argument("--sink", default="blackhole", choices=("blackhole", *MODES), help="source: into what")
    ap.add_argument(
        "--bids", action="store_true", help="source: Nexmark bids of --rows events, two of 7 fields read"
    )
    ap.add_argument("--bootstrap", default=os.environ.get("SQLSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    args = ap.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kafka-bench-") as tmp:
        if args.what == "source":
            source_cost(
                args.bootstrap,
                args.rows,
                args.repeats,
                args.parallelism,
                args.topic,
                args.sink,
                Path(tmp),
                args.bids,
            )
        if args.what in ("all", "throughput"):
            throughput(args.bootstrap, args.rows, args.repeats, Path(tmp))
        if args.what in ("all", "latency"):
            latency(args.bootstrap, args.rate, args.seconds, Path(tmp))


if __name__ == "__main__":
    main()
