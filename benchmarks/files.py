"""Rows/s of the filesystem sink, unpartitioned and PARTITIONED BY (dt, hr), and of the
avro format's records (issue #18).

    .venv/bin/python benchmarks/files.py [--rows 1000000] [--format json] [--typed]

The sink part drives the ``filesystem`` writer as its task would (exactly-once: a
checkpoint, pre-commit and commit every 20 batches of 10,000 rows); the rows fall into
24 hours, 1,000 rows an hour in order, so a batch spans ten or eleven partitions. The
avro part encodes a batch into Kafka records and decodes them back. ``--typed`` writes
rows of DOUBLE, FLOAT, DECIMAL, TIMESTAMP and STRING columns instead (the values whose text
follows Java's: Double.toString, BigDecimal's, Jackson's CSV quoting), unpartitioned.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import decimal
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.connectors import Guarantee
from catalog.options import OptionBag
from planner.physical import Field, SinkSpec
from runtime.connectors.base import SubtaskContext
from runtime.connectors.filesystem.sink import FileSystemSink
from runtime.formats import create_decoder, create_encoder

COLS = (Field("v", "BIGINT"), Field("name", "STRING"), Field("dt", "STRING"), Field("hr", "INT"))
TYPED = (
    Field("v", "BIGINT"), Field("price", "DOUBLE"), Field("ratio", "FLOAT"),
    Field("amount", "DECIMAL(10, 2)"), Field("ts", "TIMESTAMP(3)"), Field("name", "STRING"),
)  # fmt: skip


def rows(n: int) -> pa.RecordBatch:
    v = np.arange(n)
    return pa.RecordBatch.from_arrays(
        [pa.array(v), pa.array([f"n{i % 1000}" for i in range(n)]), pa.array(["2024-05-01"] * n),
         pa.array((v // 1000 % 24).astype("int32"))],
        names=["v", "name", "dt", "hr"],
    )  # fmt: skip


def typed_rows(n: int) -> pa.RecordBatch:
    v = np.arange(n)
    rng = np.random.default_rng(7)
    price = rng.lognormal(3, 2, n)  # from 1e-3 to 1e7 and beyond: both of Java's layouts
    return pa.RecordBatch.from_arrays(
        [pa.array(v), pa.array(price), pa.array(rng.random(n), pa.float32()),
         pa.array([decimal.Decimal(int(c)).scaleb(-2) for c in v * 37 % 100_000], pa.decimal128(10, 2)),
         pa.array(v * 1000 + 1_700_000_000_000).cast(pa.timestamp("ms")),
         pa.array([f"name {i % 1000}" for i in range(n)])],
        names=[f.name for f in TYPED],
    )  # fmt: skip


def sink_rate(
    batch: pa.RecordBatch, fmt: str, keys: tuple[str, ...], cols: tuple[Field, ...] = COLS
) -> float:
    out = Path(tempfile.mkdtemp(prefix="sqlstream-files-"))
    options = {"connector": "filesystem", "path": str(out), "format": fmt}
    spec = SinkSpec("t", "filesystem", options, cols, guarantee=Guarantee.EXACTLY_ONCE, partition_keys=keys)
    sink = FileSystemSink(spec, SubtaskContext("bench", 1, "Sink", 0, 1))
    batches = [batch.slice(i, 10_000) for i in range(0, batch.num_rows, 10_000)]

    async def go() -> float:
        await sink.open()
        start = time.perf_counter()
        for i, b in enumerate(batches):
            await sink.write(b)
            if i % 20 == 19:
                await sink.commit(i, await sink.pre_commit(i))
        await sink.commit(len(batches), await sink.pre_commit(len(batches)))
        return time.perf_counter() - start

    try:
        return batch.num_rows / asyncio.run(go())
    finally:
        shutil.rmtree(out, ignore_errors=True)


def avro_rates(n: int) -> tuple[float, float]:
    names = (("id", "BIGINT"), ("name", "STRING"), ("price", "DOUBLE"), ("ts", "TIMESTAMP(3)"))
    cols = tuple(Field(name, t) for name, t in names)
    start = dt.datetime(2024, 1, 1)
    data = [
        {"id": i, "name": f"n{i}", "price": i * 0.5, "ts": start + dt.timedelta(seconds=i)} for i in range(n)
    ]
    decoder = create_decoder("avro", cols, OptionBag({}, "t"))
    encoder = create_encoder("avro", cols, OptionBag({}, "t"))
    batch = pa.RecordBatch.from_pylist(data, schema=decoder.schema)
    t = time.perf_counter()
    records = encoder.encode_records(batch)
    encode = n / (time.perf_counter() - t)
    t = time.perf_counter()
    decoder.decode(records)
    return encode, n / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", default="json")
    parser.add_argument("--typed", action="store_true", help="DOUBLE, FLOAT, DECIMAL, TIMESTAMP columns")
    args = parser.parse_args()
    if args.typed:
        batch = typed_rows(args.rows)
        cpu = time.process_time()
        rate = sink_rate(batch, args.format, (), TYPED)
        per_row = (time.process_time() - cpu) / args.rows * 1e6
        print(f"filesystem sink, {args.format}, typed columns: {rate:,.0f} rows/s, {per_row:.2f} CPU us/row")
        return
    batch = rows(args.rows)
    for keys in ((), ("dt", "hr")):
        label = "PARTITIONED BY (dt, hr)" if keys else "unpartitioned"
        print(f"filesystem sink, {args.format}, {label}: {sink_rate(batch, args.format, keys):,.0f} rows/s")
    encode, decode = avro_rates(min(args.rows, 100_000))
    print(f"avro records: encode {encode:,.0f} rows/s, decode {decode:,.0f} rows/s")


if __name__ == "__main__":
    main()
