"""Interval joins as a user runs them: a Nexmark-style query (bids in the first seconds of
their auction, and auctions without one) from files into a file sink at parallelism 2,
equal to DuckDB's answer; and rows behind the watermark kept in the late-rows table."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

import sqlstream

EARLY_BIDS = """
SELECT A.id AS auction, A.seller, B.bidder, B.price, B.date_time
FROM auction AS A LEFT JOIN bid AS B ON A.id = B.auction
AND B.date_time BETWEEN A.date_time AND A.date_time + INTERVAL '10' SECOND
WHERE A.category <> 3
"""


def write_json(folder: Path, rows: list[dict[str, object]], parts: int = 2) -> None:
    folder.mkdir()
    for p in range(parts):
        (folder / f"part-{p}.json").write_text(
            "".join(json.dumps(r, default=str) + "\n" for r in rows[p::parts])
        )


def test_nexmark_style_early_bids_end_to_end(tmp_path: Path) -> None:
    rnd = random.Random(12)
    start = datetime(2024, 1, 1)
    auctions = [
        {"id": i, "seller": rnd.randint(1, 50), "category": rnd.randint(1, 5),
         "date_time": start + timedelta(milliseconds=250 * i)}
        for i in range(800)
    ]  # fmt: skip
    bids = []
    for n in range(6000):
        t = start + timedelta(milliseconds=35 * n)
        bids.append({"auction": max(0, (35 * n) // 250 - rnd.randint(0, 60)), "bidder": rnd.randint(1, 99),
                     "price": rnd.randint(1, 500), "date_time": t})  # fmt: skip
    write_json(tmp_path / "auction", auctions)
    write_json(tmp_path / "bid", bids)
    out = tmp_path / "out"
    config = {
        "parallelism.default": "2",
        "sqlstream.runtime.batch-size": "113",
        "sqlstream.runtime.linger": "0 ms",
    }
    with sqlstream.connect(config=config) as s:
        s.execute_script(f"""
            CREATE TABLE auction (id BIGINT, seller BIGINT, category INT, date_time TIMESTAMP(3),
              WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "auction"}', 'format' = 'json');
            CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3),
              WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "bid"}', 'format' = 'json');
            CREATE TABLE early (auction BIGINT, seller BIGINT, bidder BIGINT, price BIGINT,
              date_time TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
        """)
        job = s.execute(f"INSERT INTO early {EARLY_BIDS}").job
        assert job is not None and job.wait(timeout=120)
        assert job.error is None, job.error
        assert job.metrics()["late_rows_dropped"] == 0
    written = Counter(
        (*row[:4], row[4] and datetime.fromisoformat(row[4]))
        for f in sorted(out.glob("part-*"))
        for line in f.read_text().splitlines()
        for row in [list(json.loads(line).values())]
    )
    con = duckdb.connect()
    for name, columns in (
        ("auction", "{id: 'BIGINT', seller: 'BIGINT', category: 'INT', date_time: 'TIMESTAMP'}"),
        ("bid", "{auction: 'BIGINT', bidder: 'BIGINT', price: 'BIGINT', date_time: 'TIMESTAMP'}"),
    ):
        path = str(tmp_path / name / "*.json")
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_json(?, columns = {columns})", [path])
    expected = Counter(con.sql(EARLY_BIDS).fetchall())
    assert sum(expected.values()) > 1000 and any(r[2] is None for r in expected)  # matches and padded rows
    assert written == expected


def test_rows_behind_the_watermark_go_to_the_late_rows_table(tmp_path: Path) -> None:
    """Every impression is in the output (joined or padded) or in the late-rows table,
    never both, none lost."""
    rows = 3000
    config = {
        "execution.checkpointing.interval": "200 ms",
        "state.checkpoints.dir": str(tmp_path / "ck"),
        "table.exec.late-rows.sink": "late",
        # a watermark after every small batch: rows up to 3 s old fall behind it, whatever the load
        "pipeline.auto-watermark-interval": "0 ms",
        "sqlstream.runtime.batch-size": "50",
        "sqlstream.runtime.linger": "0 ms",
    }
    with sqlstream.connect(config=config) as s:
        s.execute_script(f"""
            CREATE TABLE impressions (id BIGINT, ad INT, ts TIMESTAMP(3),
                                      WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
            WITH ('connector' = 'datagen', 'rows-per-second' = '3000', 'number-of-rows' = '{rows}',
                  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{rows}',
                  'fields.ad.min' = '1', 'fields.ad.max' = '20', 'fields.ts.max-past' = '3 s');
            CREATE TABLE clicks (ad INT, cts TIMESTAMP(3), WATERMARK FOR cts AS cts - INTERVAL '1' SECOND)
            WITH ('connector' = 'datagen', 'rows-per-second' = '3000', 'number-of-rows' = '{rows}',
                  'fields.ad.min' = '1', 'fields.ad.max' = '20', 'fields.cts.max-past' = '3 s');
            CREATE TABLE joined (id BIGINT, cts TIMESTAMP(3)) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "out"}', 'format' = 'json');
            CREATE TABLE late (operator STRING, event_time TIMESTAMP(3), row_json STRING) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "late"}', 'format' = 'json');
        """)
        job = s.execute(
            "INSERT INTO joined SELECT i.id, c.cts FROM impressions i LEFT JOIN clicks c ON i.ad = c.ad "
            "AND c.cts BETWEEN i.ts AND i.ts + INTERVAL '2' SECOND"
        ).job
        assert job is not None and job.wait(120)
        assert job.error is None, job.error
        dropped = job.metrics()["late_rows_dropped"]
    out = {json.loads(line)["id"] for f in (tmp_path / "out").rglob("*") if f.is_file()
           for line in f.read_text().splitlines()}  # fmt: skip
    late = [json.loads(line) for f in sorted((tmp_path / "late").rglob("*")) if f.is_file()
            for line in f.read_text().splitlines()]  # fmt: skip
    assert dropped > 0 and len(late) == dropped
    assert all(r["operator"].startswith("IntervalJoin#") for r in late)
    late_impressions = {json.loads(r["row_json"])["id"] for r in late if "id" in json.loads(r["row_json"])}
    assert late_impressions and not late_impressions & out
    assert out | late_impressions == set(range(1, rows + 1))
