"""End to end on one JSON file of bids (issue #14): ``sqlstream run`` as a whole process
against DuckDB's single-thread batch and Apache Flink 2.3.

    .venv/bin/python benchmarks/compare.py --rows 2000000 --repeat 3 --flink

The file is generated deterministically (seeded) and kept in ``.cache/compare/`` so that
reruns read the same bytes: row ``i`` has auction uniform in 1000-1999, bidder in
1-100000, price in 1-10000, channel one of five, and ts = 2024-01-01 00:00:10.000 + i ms
written as ``yyyy-MM-dd HH:mm:ss.SSS``, with 10% of the rows moved back by up to 1999 ms
(out of order within the watermark's 2 s). Each query runs as ``sqlstream run FILE.sql``
(filesystem source with ``WATERMARK FOR ts AS ts - INTERVAL '2' SECOND`` -> blackhole), timed
over the whole process, start-up included; DuckDB runs the same query with one thread over
the same file, reading it with ``read_json``. ``--flink`` runs the same script on Flink 2.3
(``benchmarks/flink.py``: PyFlink in an environment of its own under ``.cache/``, filesystem
source, JSON format, blackhole sink, parallelism 1), one fresh process per repeat: its whole
process (start-up and first job) and its second job in the warm JVM. Printed: rows/s of the
input and the ratios (sqlstream / DuckDB, sqlstream / Flink).

On a shared machine the wall time of a run moves 2-3x with the load; the CPU seconds the
``sqlstream run`` process used (all its threads, start-up included) move far less, so they
are printed too (``cpu s``; Flink's include its JVM), with the load average at the end of
each query's runs. ``cores`` is sqlstream's CPU seconds over its wall seconds (medians): how
many cores the process kept busy on average, start-up included (what parallelism 2 can gain
on a machine of two cores is bounded by 2 over the ``cores`` of parallelism 1).
``--tree DIR`` runs the sqlstream of another source tree (``git archive`` of an older
commit, given its bytecode first: ``prepare_tree``) with this checkout's environment, for
before/after figures taken back to back;
``-p N`` sets ``parallelism.default``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import flink  # benchmarks/flink.py (this folder is on sys.path)
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ["Google", "Facebook", "Baidu", "Apple", "channel-5"]
T0 = np.datetime64("2024-01-01T00:00:10.000", "ms")

WINDOW_SINK = (
    "auction BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), cnt BIGINT, top BIGINT, total BIGINT"
)

# name: (the SELECT over `bids`, the sink's columns, DuckDB's query over `bids`)
QUERIES: dict[str, tuple[str, str, str]] = {
    "projection": (
        "SELECT auction, bidder, price * 0.908 AS price, channel, ts FROM bids",
        "auction BIGINT, bidder BIGINT, price DECIMAL(15, 3), channel STRING, ts TIMESTAMP(3)",
        "SELECT auction, bidder, price * 0.908 AS price, channel, ts FROM bids",
    ),
    "filter": (
        "SELECT auction, bidder, price, channel, ts FROM bids WHERE MOD(auction, 123) = 0",
        "auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, ts TIMESTAMP(3)",
        "SELECT auction, bidder, price, channel, ts FROM bids WHERE auction % 123 = 0",
    ),
    "tumble": (
        "SELECT auction, window_start, window_end, COUNT(*) AS cnt, MAX(price) AS top, "
        "SUM(price) AS total FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) "
        "GROUP BY auction, window_start, window_end",
        WINDOW_SINK,
        "SELECT auction, time_bucket(INTERVAL 10 SECOND, ts) AS w, count(*), max(price), sum(price) "
        "FROM bids GROUP BY ALL",
    ),
    "hop": (
        "SELECT auction, window_start, window_end, COUNT(*) AS cnt, MAX(price) AS top, "
        "SUM(price) AS total FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '2' SECOND, "
        "INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end",
        WINDOW_SINK,
        "SELECT auction, w, count(*), max(price), sum(price) FROM ("
        "  SELECT auction, price, time_bucket(INTERVAL 2 SECOND, ts) - to_seconds(2 * i) AS w"
        "  FROM bids, range(5) r(i)) GROUP BY ALL",
    ),
    "group": (
        "SELECT channel, COUNT(*) AS cnt, MAX(price) AS top, SUM(price) AS total FROM bids GROUP BY channel",
        "channel STRING, cnt BIGINT, top BIGINT, total BIGINT, PRIMARY KEY (channel) NOT ENFORCED",
        "SELECT channel, count(*), max(price), sum(price) FROM bids GROUP BY channel",
    ),
}


def letters(rng: np.random.Generator, rows: int, low: int, high: int) -> pa.Array:
    """``rows`` random lower-case words of ``low`` to ``high`` - 1 letters."""
    lengths = rng.integers(low, high, rows)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    data = rng.integers(97, 123, int(offsets[-1]), dtype=np.uint8)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))


def generate(path: Path, rows: int, seed: int = 14, wide: bool = False) -> None:
    """Write the bids file: the same bytes for the same ``rows``, ``seed`` and ``wide``.
    Wide rows carry Nexmark's two long strings of a bid as well: ``url``
    (``https://www.nexmark.com/<word>/<word>/item.htm?query=1&channel_id=<n>``) and
    ``extra`` (40-160 letters), ~250 bytes a line instead of ~95."""
    rng = np.random.default_rng(seed)
    auction = rng.integers(1000, 2000, rows)
    bidder = rng.integers(1, 100_001, rows)
    price = rng.integers(1, 10_001, rows)
    channel = np.array(CHANNELS)[rng.integers(0, len(CHANNELS), rows)]
    shift = np.where(rng.random(rows) < 0.1, rng.integers(0, 2000, rows), 0)
    ts = T0 + np.arange(rows, dtype=np.int64).astype("timedelta64[ms]") - shift.astype("timedelta64[ms]")
    text = pc.strftime(pa.array(ts, pa.timestamp("ms")), format="%Y-%m-%d %H:%M:%S")  # %S keeps .SSS
    parts = [
        '{"auction":',
        pa.array(auction).cast(pa.string()),
        ',"bidder":',
        pa.array(bidder).cast(pa.string()),
        ',"price":',
        pa.array(price).cast(pa.string()),
        ',"channel":"',
        pa.array(channel),
        '","ts":"',
        text,
        '"}\n',
    ]
    if wide:
        channel_id = pa.array(rng.integers(0, 10_000, rows)).cast(pa.string())
        url = pc.binary_join_element_wise(
            "https://www.nexmark.com/",
            letters(rng, rows, 4, 10),
            "/",
            letters(rng, rows, 4, 10),
            "/item.htm?query=1&channel_id=",
            channel_id,
            "",
        )
        parts[-1:] = ['","url":"', url, '","extra":"', letters(rng, rows, 40, 160), '"}\n']
    lines = pc.binary_join_element_wise(*parts, "")
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        for start in range(0, rows, 1 << 20):
            chunk = lines.slice(start, 1 << 20)
            f.write(b"".join(chunk.cast(pa.binary()).to_pylist()))
    tmp.rename(path)


def source_with(data: Path, fmt: str) -> str:
    """The WITH clause of the bids table: the file in ``fmt``, or a topic (``kafka:<topic>``)."""
    if fmt.startswith("kafka:"):
        servers = os.environ.get("SQLSTREAM_KAFKA_BOOTSTRAP", "localhost:19092")
        return (
            f"'connector' = 'kafka', 'topic' = '{fmt[6:]}', 'properties.bootstrap.servers' = '{servers}', "
            "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', "
            "'format' = 'json'"
        )
    return f"'connector' = 'filesystem', 'path' = '{data}', 'format' = '{fmt}'"


def sqlstream_script(
    data: Path, query: str, parallelism: int = 1, wide: bool = False, fmt: str = "json", checkpoints: str = ""
) -> str:
    select, sink_columns, _ = QUERIES[query]
    extra = "url STRING, extra STRING, " if wide else ""
    checkpointing = (
        f"SET 'execution.checkpointing.interval' = '1 s';\nSET 'state.checkpoints.dir' = '{checkpoints}';\n"
        if checkpoints
        else ""
    )
    return (
        f"SET 'parallelism.default' = '{parallelism}';\n{checkpointing}"
        "CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, ts TIMESTAMP(3), "
        f"{extra}"
        "WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) "
        f"WITH ({source_with(data, fmt)});\n"
        f"CREATE TABLE sink ({sink_columns}) WITH ('connector' = 'blackhole');\n"
        f"INSERT INTO sink {select};\n"
    )


def convert(json_file: Path, fmt: str) -> Path:
    """The bids file as CSV or Parquet (made once from the JSON file, beside it)."""
    path = json_file.with_suffix(f".{fmt}")
    if not path.exists():
        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT * FROM read_json('{json_file}', format = 'newline_delimited')) "
            f"TO '{path}' (FORMAT {fmt}{', HEADER false' if fmt == 'csv' else ''})"
        )
        con.close()
    return path


def load_kafka(json_file: Path, topic: str) -> None:
    """The bids file's lines as the records of a new topic (line i to partition i % 2), once."""
    import asyncio

    from kafka import PARTITIONS, create_topics, producer, send_records  # benchmarks/kafka.py

    servers = os.environ.get("SQLSTREAM_KAFKA_BOOTSTRAP", "localhost:19092")

    async def go() -> None:
        await create_topics(servers, topic)
        prod = await producer(servers)
        try:
            lines = json_file.read_bytes().splitlines()
            futures = []
            for part in range(PARTITIONS):
                futures += await send_records(prod, topic, part, ((v, None) for v in lines[part::PARTITIONS]))
            await asyncio.gather(*futures)
        finally:
            await prod.stop()

    asyncio.run(go())


def run_sqlstream(
    data: Path,
    query: str,
    workdir: Path,
    parallelism: int = 1,
    tree: Path | None = None,
    wide: bool = False,
    fmt: str = "json",
    checkpoint: bool = False,
) -> tuple[float, float]:
    """Wall and CPU seconds of the whole ``sqlstream run`` process (of ``tree``'s sources
    when given)."""
    script = workdir / f"{query}.sql"
    folder = workdir / f"checkpoints-{time.monotonic_ns()}" if checkpoint else ""
    script.write_text(sqlstream_script(data, query, parallelism, wide, fmt, str(folder)))
    return run_script(script, tree)


_PREPARED: set[Path] = set()


def prepare_tree(tree: Path) -> None:
    """Give another source tree what ``./scripts/bootstrap`` gives this one: bytecode, and
    the dataclass methods' code (``sqlstream/dataclass_code.py``). This machine sets
    ``PYTHONDONTWRITEBYTECODE``, so a ``git archive`` tree without them compiles what it
    loads in every run (~65 ms for the dataclass methods alone, 8-18 ms for a big module),
    and loses to this tree for no reason of its code."""
    if tree in _PREPARED:
        return
    python = str(ROOT / ".venv" / "bin" / "python")
    packages = [str(tree / d) for d in ("sqlstream", "runtime", "planner", "catalog") if (tree / d).is_dir()]
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", *packages], check=True, capture_output=True)
    if (tree / "sqlstream" / "dataclass_code.py").exists():
        env = dict(os.environ, PYTHONPATH=str(tree))
        methods = [python, "-m", "sqlstream.dataclass_code"]
        subprocess.run(methods, cwd=tree, env=env, check=True, capture_output=True)
    _PREPARED.add(tree)


def run_script(script: Path, tree: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of ``sqlstream run SCRIPT`` as a whole process."""
    env = dict(os.environ)
    if tree is None:
        command = [str(ROOT / ".venv" / "bin" / "sqlstream"), "run", str(script)]
    else:
        prepare_tree(tree)
        command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "sqlstream", "run", str(script)]
        env["PYTHONPATH"] = str(tree)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=script.parent, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"sqlstream run {script} failed:\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


WIDE_DUCKDB = ", url: 'VARCHAR', extra: 'VARCHAR'"


def run_duckdb(data: Path, query: str, wide: bool = False) -> float:
    """Seconds for DuckDB, one thread, reading the file and computing the whole result."""
    con = duckdb.connect()
    con.execute("SET threads = 1")
    started = time.perf_counter()
    con.execute(
        f"CREATE TEMP VIEW bids AS SELECT * FROM read_json('{data}', format = 'newline_delimited', "
        "columns = {auction: 'BIGINT', bidder: 'BIGINT', price: 'BIGINT', channel: 'VARCHAR', "
        f"ts: 'TIMESTAMP'{WIDE_DUCKDB if wide else ''}}}, "
        "timestampformat = '%Y-%m-%d %H:%M:%S.%g')"
    )
    con.sql(QUERIES[query][2]).to_arrow_table()
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("queries", nargs="*", metavar="QUERY", help=f"some of {', '.join(QUERIES)} (default: all)")
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--repeat", type=int, default=1, help="runs per engine and query; medians are printed")
    p.add_argument("--flink", action="store_true", help="run Apache Flink 2.3 too (installed into .cache/)")
    p.add_argument("-p", "--parallelism", type=int, default=1, help="the job's parallelism.default")
    p.add_argument("--tree", type=Path, help="run the sqlstream of this source tree (before/after figures)")
    p.add_argument("--wide", action="store_true", help="bids with Nexmark's url and extra strings too")
    p.add_argument("--no-duckdb", action="store_true", help="skip DuckDB's runs (share is not printed)")
    p.add_argument(
        "--format",
        choices=["json", "csv", "parquet", "kafka"],
        default="json",
        help="read the bids as JSON, CSV or Parquet files, or from a Kafka topic (JSON records, two "
        "partitions, loaded once; the broker at $SQLSTREAM_KAFKA_BOOTSTRAP)",
    )
    p.add_argument("--checkpoint", action="store_true", help="exactly-once checkpoints every second")
    args = p.parse_args()
    queries = args.queries or list(QUERIES)
    if unknown := [q for q in queries if q not in QUERIES]:
        p.error(f"unknown queries {unknown}; choose from {list(QUERIES)}")
    cache = ROOT / ".cache" / "compare"
    cache.mkdir(parents=True, exist_ok=True)
    data = cache / f"bids-{'wide-' if args.wide else ''}{args.rows}.json"
    if not data.exists():
        print(f"generating {data} ...", file=sys.stderr)
        generate(data, args.rows, wide=args.wide)
    if args.flink and (args.format != "json" or args.checkpoint):
        raise SystemExit("--flink runs the JSON file without checkpoints: drop --format/--checkpoint")
    fmt, source = args.format, data  # DuckDB reads the JSON file whatever sqlstream reads
    if fmt in ("csv", "parquet"):
        source = convert(data, fmt)
    elif fmt == "kafka":
        fmt = f"kafka:bids-{args.rows}-{os.getpid()}-{time.time_ns()}"
        started = time.perf_counter()
        load_kafka(data, fmt[6:])
        print(f"loaded topic {fmt[6:]} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    head = f"{'query':<11} {'sqlstream':>10} {'cpu s':>6} {'cores':>5} {'duckdb 1T':>10} {'share':>6}"
    if args.flink:
        for what in ("warm", "proc"):
            head += f" {'flink ' + what:>10} {'cpu s':>6} {'x ' + what:>6}"
    head += f" {'load':>5}"
    tree = f", sources of {args.tree}" if args.tree else ""
    print(
        f"{args.rows:,} rows, {source.stat().st_size / 1e6:.0f} MB of {args.format}; "
        f"parallelism {args.parallelism}"
        f"{', checkpoints every 1 s' if args.checkpoint else ''}{tree}; "
        f"rows/s, medians of {args.repeat}"
    )
    print(head)
    with tempfile.TemporaryDirectory() as tmp:
        for q in queries:
            ours, cpu, duck = [], [], []
            warm: list[tuple[float, float]] = []
            whole: list[tuple[float, float]] = []
            for _ in range(args.repeat):  # interleaved, so that load on the machine hits all alike
                wall, used = run_sqlstream(
                    source, q, Path(tmp), args.parallelism, args.tree, args.wide, fmt, args.checkpoint
                )
                ours.append(wall)
                cpu.append(used)
                if not args.no_duckdb:
                    duck.append(run_duckdb(data, q, args.wide))
                if args.flink:
                    process = flink.run([Path(tmp) / f"{q}.sql"])
                    run = process.warm(f"{q}.sql")
                    if run is None:
                        raise SystemExit(f"Flink failed on {q}: {process.errors}")
                    warm.append((run.wall, run.cpu))
                    whole.append(process.whole())
            r_ours = args.rows / statistics.median(ours)
            line = f"{q:<11} {r_ours:>10,.0f} {statistics.median(cpu):>6.2f}"
            line += f" {statistics.median(cpu) / statistics.median(ours):>5.2f}"
            if duck:
                r_duck = args.rows / statistics.median(duck)
                line += f" {r_duck:>10,.0f} {r_ours / r_duck:>6.0%}"
            else:
                line += f" {'-':>10} {'-':>6}"
            for figures in (warm, whole) if args.flink else ():
                r_flink = args.rows / statistics.median(w for w, _ in figures)
                line += f" {r_flink:>10,.0f} {statistics.median(c for _, c in figures):>6.2f}"
                line += f" {r_ours / r_flink:>5.1f}x"
            line += f" {os.getloadavg()[0]:>5.1f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
