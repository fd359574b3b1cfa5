"""Proof by killing, on Kafka: Kafka -> tumbling-window aggregation -> Kafka with
``'sink.delivery-guarantee' = 'exactly-once'``, parallelism 2, checkpoints every 300 ms.

The input (``{"v": 1..N}``, event time ``v * 10`` ms, alternating over two partitions) is
written to a fresh source topic first, and the job reads it as a bounded scan
(``scan.bounded.mode`` = latest-offset), so it finishes. It is SIGKILLed at random moments
and at every crash point of ``runtime/faults.py``, restarted until it finishes, and then a
``read_committed`` consumer of the output topic must see each window result of DuckDB's
batch answer exactly once.

    source <(scripts/services up kafka)
    .venv/bin/pytest tests/crash/test_kafka_exactly_once.py -q                  # short (CI)
    SQLSTREAM_CRASH_KILLS=50 .venv/bin/pytest tests/crash/test_kafka_exactly_once.py -m slow -q

At-least-once (``execution.checkpointing.mode`` = AT_LEAST_ONCE): nothing lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import threading
import time
import uuid
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sqlstream.verify.targets import settled_end_offsets
from tests.crash.harness import CRASH_POINTS, CrashReport, crash_until_done, kill_at_each, long_run, missed

pytestmark = pytest.mark.kafka

WINDOW_MS = 1000
PARTITIONS = 2


def bootstrap() -> str:
    value = os.environ.get("SQLSTREAM_KAFKA_BOOTSTRAP", "").strip()
    if not value:
        pytest.fail(
            "SQLSTREAM_KAFKA_BOOTSTRAP is not set: start the broker with "
            "`source <(scripts/services up kafka)` (or run scripts/test)",
            pytrace=False,
        )
    return value


# ---- topics, input, output ----------------------------------------------------------------


async def create_topics(servers: str, *topics: str, partitions: int = PARTITIONS) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        await admin.close()


def _partition_values(rows: int, partitions: int, p: int) -> range:
    return range(p if p else partitions, rows + 1, partitions)


def stop_offsets(rows: int, partitions: int = PARTITIONS) -> str:
    """``scan.bounded.specific-offsets`` at the end of the input (offsets are dense: the
    producer is idempotent and not transactional)."""
    return ";".join(
        f"partition:{p},offset:{len(_partition_values(rows, partitions, p))}" for p in range(partitions)
    )


async def input_producer(servers: str) -> Any:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    return producer


async def send_rows(
    producer: Any, topic: str, first: int, last: int, partitions: int = PARTITIONS, timestamps: bool = False
) -> None:
    """``{"v": i}`` for i in first..last, row i to partition i % partitions, in whole
    producer batches (a send per record would take longer than the job). With
    ``timestamps`` each record carries the wall clock as its timestamp."""
    futures = []
    for p in range(partitions):
        batch = producer.create_batch()
        for v in _partition_values(last, partitions, p):
            if v < first:
                continue
            value = b'{"v":%d}' % v
            ts = int(time.time() * 1000) if timestamps else None
            if batch.append(key=None, value=value, timestamp=ts) is None:
                futures.append(await producer.send_batch(batch, topic, partition=p))
                batch = producer.create_batch()
                batch.append(key=None, value=value, timestamp=ts)
        if batch.record_count():
            futures.append(await producer.send_batch(batch, topic, partition=p))
    await asyncio.gather(*futures)


async def write_input(servers: str, topic: str, rows: int) -> None:
    producer = await input_producer(servers)
    try:
        await send_rows(producer, topic, 1, rows)
    finally:
        await producer.stop()


class Feeder:
    """Writes rows ``1..rows`` to the source topic at ``rate`` rows/s from a thread, so
    the job (bounded at the final offsets) runs long enough for every kill to land in a
    running job, as the filesystem test's rate-limited datagen does."""

    def __init__(self, servers: str, topic: str, rows: int, rate: int, hold_at: int | None = None) -> None:
        self.servers, self.topic, self.rows, self.rate = servers, topic, rows, rate
        self.error: BaseException | None = None
        self.hold_at = hold_at  # stop there until release()
        self.holding = threading.Event()
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)

    def release(self) -> None:
        self._released.set()

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._feed())
        except BaseException as e:
            self.error = e

    async def _feed(self) -> None:
        producer = await input_producer(self.servers)
        try:
            t0, done, step = time.monotonic(), 0, max(1, self.rate // 10)
            while done < self.rows:
                if self.hold_at is not None and done >= self.hold_at and not self._released.is_set():
                    self.holding.set()
                    while not self._released.wait(0.05):
                        await asyncio.sleep(0)
                    t0 = time.monotonic() - done / self.rate
                upto = min(self.rows, done + step)
                if self.hold_at is not None and done < self.hold_at:
                    upto = min(upto, self.hold_at)
                await send_rows(producer, self.topic, done + 1, upto)
                done = upto
                pause = t0 + done / self.rate - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
        finally:
            await producer.stop()

    def join(self) -> None:
        self._thread.join(timeout=120)
        if self.error is not None:
            raise self.error


async def read_committed(
    servers: str, topic: str, partitions: int = PARTITIONS, limit_s: float = 60
) -> list[Any]:
    """Every record a read_committed consumer sees in the topic, up to its end once the
    transactions committed have become visible (the last stable offset: an open
    transaction left behind would stop it there)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends, still_open = await settled_end_offsets(consumer, {"bootstrap_servers": servers}, tps)
        for tp, (stable, high) in still_open.items():  # shown with a failed comparison
            print(f"{topic} partition {tp.partition}: a transaction is still open ({stable} < {high})")
        out: list[Any] = []
        deadline = time.monotonic() + limit_s
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"reading {topic} took longer than {limit_s} s"
            got = await consumer.getmany(*tps, timeout_ms=200, max_records=10000)
            for records in got.values():
                out += records
        return out
    finally:
        await consumer.stop()


def window_row(value: bytes) -> tuple[int, int, int, int]:
    r = json.loads(value)
    start = dt.datetime.fromisoformat(r["window_start"]).replace(tzinfo=dt.UTC)
    return (int(r["k"]), int(start.timestamp() * 1000), int(r["c"]), int(r["s"]))


def expected(rows: int) -> list[Hashable]:
    """The no-crash answer: DuckDB's batch query over the same rows."""
    got = duckdb.sql(
        f"SELECT v % 7, (v * 10) // {WINDOW_MS} * {WINDOW_MS}, count(*), sum(v) "
        f"FROM range(1, {rows + 1}) t(v) GROUP BY ALL"
    ).fetchall()
    return [tuple(int(x) for x in r) for r in got]


def script(
    tmp: Path,
    servers: str,
    src: str,
    dst: str,
    mode: str,
    name: str,
    rows: int,
    interval_ms: int = 300,
    restart_strategy: str | None = None,
) -> Path:
    path = tmp / "job.sql"
    restart = f"SET 'restart-strategy.type' = '{restart_strategy}';" if restart_strategy else ""
    path.write_text(
        f"""{restart}
SET 'execution.checkpointing.interval' = '{interval_ms} ms';
SET 'execution.checkpointing.timeout' = '20 s';
SET 'execution.checkpointing.mode' = '{mode}';
SET 'pipeline.name' = '{name}';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
SET 'parallelism.default' = '2';
CREATE TABLE src (v BIGINT, k AS v % 7, ts AS TO_TIMESTAMP_LTZ(v * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = '{src}', 'properties.bootstrap.servers' = '{servers}',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'specific-offsets',
  'scan.bounded.specific-offsets' = '{stop_offsets(rows)}', 'format' = 'json');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH (
  'connector' = 'kafka', 'topic' = '{dst}', 'properties.bootstrap.servers' = '{servers}',
  'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = '{name}', 'properties.transaction.timeout.ms' = '120000');
INSERT INTO out SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY k, window_start, window_end;
"""
    )
    return path


def run(
    tmp: Path, mode: str, kills: int, seed: int, rows: int, rate: int, points: Sequence[str] = ()
) -> tuple[CrashReport, list[tuple[int, int, int, int]]]:
    """Crash the job until it finishes; the report and the rows the output topic holds.
    With ``points``: one kill at each of them in turn (``kill_at_each``); otherwise
    ``kills`` at random moments."""
    servers = bootstrap()
    tag = uuid.uuid4().hex[:8]
    src, dst = f"crash-src-{tag}", f"crash-dst-{tag}"
    name = f"crash-kafka-{mode.lower()}-{tag}"
    asyncio.run(create_topics(servers, src, dst))
    feeder = Feeder(servers, src, rows, rate).start()
    path = script(tmp, servers, src, dst, mode, name, rows)
    marker = tmp / "checkpoints" / name / "_finished"
    got: list[tuple[int, int, int, int]] = []

    def read_sink() -> list[Hashable]:
        got.extend(window_row(r.value) for r in asyncio.run(read_committed(servers, dst)))
        return list(got)

    try:
        if points:
            report = kill_at_each(path, read_sink, expected(rows), points, marker.exists, seed)
        else:
            report = crash_until_done(
                path,
                read_sink,
                expected(rows),
                kills=kills,
                seed=seed,
                max_kill_delay=3.0,
                timeout=300,
                finished=marker.exists,
            )
    finally:
        feeder.join()
    print(report.summary())
    return report, got


def test_kafka_exactly_once_survives_kills(tmp_path: Path) -> None:
    """One kill at every crash point of the runtime and one at a random moment; none is
    missed (the job does not finish before a point is reached)."""
    points = (*CRASH_POINTS, "timer")
    report, _ = run(tmp_path, "EXACTLY_ONCE", kills=0, seed=5, rows=20000, rate=4000, points=points)
    assert not missed(report), report.summary()
    assert report.kills == len(points), report.summary()
    assert report.exact, report.summary()
    assert not list((tmp_path / "checkpoints").glob("*/chk-*"))  # a finished job keeps none


def test_kafka_at_least_once_loses_nothing(tmp_path: Path) -> None:
    """Nothing lost: every (key, window) of the answer is there, counting at least its
    true count. Without alignment a snapshot may hold rows the restored sources replay,
    so a window may also count a row twice (and come out more than once): at-least-once."""
    rows = 16000
    points = ("processing", "pre_commit", "timer")
    report, got = run(tmp_path, "AT_LEAST_ONCE", kills=0, seed=1, rows=rows, rate=4000, points=points)
    assert not missed(report) and report.kills == len(points), report.summary()
    want = {(r[0], r[1]): r[2] for r in expected(rows) if isinstance(r, tuple)}
    best: dict[tuple[int, int], int] = {}
    for k, w, c, _ in got:
        best[(k, w)] = max(best.get((k, w), 0), c)
    lost = sorted(kw for kw, c in want.items() if best.get(kw, 0) < c)
    assert lost == [], f"{len(lost)} windows lost or short, e.g. {lost[:5]}; {report.summary()}"
    assert set(best) <= set(want), sorted(set(best) - set(want))[:5]


@long_run
def test_kafka_exactly_once_many_kills(tmp_path: Path) -> None:
    kills = int(os.environ["SQLSTREAM_CRASH_KILLS"])
    rate = int(os.environ.get("SQLSTREAM_CRASH_RATE", "2000"))
    rows = int(os.environ.get("SQLSTREAM_CRASH_ROWS", str(kills * 3 * rate)))  # ~3 s a kill
    seed = int(os.environ.get("SQLSTREAM_CRASH_SEED0", "7"))
    report, _ = run(tmp_path, "EXACTLY_ONCE", kills=kills, seed=seed, rows=rows, rate=rate)
    print(f"Kafka long run: {rows} rows at {rate} rows/s, seed {seed}: {report.summary()}")
    assert report.kills >= kills, f"only {report.kills} of the {kills} kills landed: {report.summary()}"
    assert report.exact, report.summary()
