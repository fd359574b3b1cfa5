"""An event-time temporal join as a user runs it: orders (a file) joined with currency
rates kept as a versioned table in an upsert-kafka topic (keyed by currency: updates and
a tombstone; the version time is the record's timestamp, which a tombstone has too),
both read to their end, into a file sink. Each order gets the rate valid at
its time, as Flink's documented example explains it; an order after its currency was
deleted, or before its first rate, gets none (LEFT JOIN) or is left out (JOIN)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

import sqlstream
from tests.integration.test_kafka_source import create_topic, produce, unique

RATES = [  # (currency, rate, time) in topic order; None: a tombstone at that time
    ("EUR", 114, "09:00:00"),
    ("USD", 100, "09:00:00"),
    ("EUR", 116, "10:45:00"),
    ("USD", None, "10:50:00"),
    ("EUR", 119, "11:15:00"),
]
ORDERS = [  # (id, currency, amount, time)
    (1, "EUR", 2, "08:59:59"),  # before the first EUR rate: none
    (2, "EUR", 2, "10:15:00"),  # 114
    (3, "USD", 3, "10:30:00"),  # 100
    (4, "EUR", 1, "10:45:00"),  # 116: a version is valid from its own time on
    (5, "USD", 3, "10:52:00"),  # USD deleted at 10:50: none
    (6, "EUR", 4, "11:20:00"),  # 119
    (7, "GBP", 1, "10:00:00"),  # never had a rate
]


def epoch_ms(clock: str) -> int:
    return int(dt.datetime.fromisoformat(f"2024-01-01T{clock}+00:00").timestamp() * 1000)


@pytest.mark.parametrize(("kind", "expected"), [
    ("LEFT JOIN", {1: None, 2: 228, 3: 300, 4: 116, 5: None, 6: 476, 7: None}),
    ("JOIN", {2: 228, 3: 300, 4: 116, 6: 476}),
])  # fmt: skip
def test_each_order_gets_the_rate_valid_at_its_time(
    kafka_bootstrap: str, tmp_path: Path, kind: str, expected: dict[int, int | None]
) -> None:
    topic = unique("rates")

    async def publish() -> None:
        await create_topic(kafka_bootstrap, topic)
        await produce(
            kafka_bootstrap,
            topic,
            [None if r is None else json.dumps({"cur": c, "rate": r}).encode() for c, r, _ in RATES],
            keys=[json.dumps({"cur": c}).encode() for c, _, _ in RATES],
            timestamps=[epoch_ms(t) for _, _, t in RATES],
        )

    asyncio.run(publish())
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "o.json").write_text(
        "".join(
            json.dumps({"id": i, "cur": c, "amount": a, "ms": epoch_ms(t)}) + "\n"
            for i, c, a, t in sorted(ORDERS, key=lambda o: o[3])
        )
    )
    with sqlstream.connect(config={"parallelism.default": "2"}) as s:
        s.execute_script(f"""
            CREATE TABLE rates (cur STRING, rate BIGINT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
              PRIMARY KEY (cur) NOT ENFORCED, WATERMARK FOR ts AS ts) WITH (
              'connector' = 'upsert-kafka', 'topic' = '{topic}',
              'properties.bootstrap.servers' = '{kafka_bootstrap}', 'key.format' = 'json',
              'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset');
            CREATE TABLE orders (id BIGINT, cur STRING, amount BIGINT, ms BIGINT,
              ts AS TO_TIMESTAMP_LTZ(ms, 3), WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "orders"}', 'format' = 'json');
            CREATE TABLE priced (id BIGINT, price BIGINT) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "out"}', 'format' = 'json');
        """)
        job = s.execute(
            f"INSERT INTO priced SELECT o.id, o.amount * r.rate FROM orders o {kind} rates "
            "FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur"
        ).job
        assert job is not None and job.wait(120), "the bounded job did not finish"
        assert job.error is None, job.error
    got = {
        row["id"]: row["price"]
        for f in (tmp_path / "out").rglob("*")
        if f.is_file()
        for row in map(json.loads, f.read_text().splitlines())
    }
    assert got == expected


def test_a_tombstone_without_a_time_is_counted_in_the_joins_metrics(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The version time in the value: a tombstone has none, so its deletion cannot be
    placed in time. The order after it still gets the old rate (Flink does not see the
    deletion either), and the join's ``versions_dropped`` metric says one was missed."""
    topic = unique("rates_value_time")

    async def publish() -> None:
        await create_topic(kafka_bootstrap, topic)
        await produce(
            kafka_bootstrap,
            topic,
            [json.dumps({"cur": "EUR", "rate": 114, "ms": epoch_ms("09:00:00")}).encode(), None],
            keys=[json.dumps({"cur": "EUR"}).encode()] * 2,
        )

    asyncio.run(publish())
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "o.json").write_text(
        json.dumps({"id": 1, "cur": "EUR", "amount": 2, "ms": epoch_ms("10:00:00")}) + "\n"
    )
    with sqlstream.connect() as s:
        s.execute_script(f"""
            CREATE TABLE rates (cur STRING, rate BIGINT, ms BIGINT, ts AS TO_TIMESTAMP_LTZ(ms, 3),
              PRIMARY KEY (cur) NOT ENFORCED, WATERMARK FOR ts AS ts) WITH (
              'connector' = 'upsert-kafka', 'topic' = '{topic}',
              'properties.bootstrap.servers' = '{kafka_bootstrap}', 'key.format' = 'json',
              'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset');
            CREATE TABLE orders (id BIGINT, cur STRING, amount BIGINT, ms BIGINT,
              ts AS TO_TIMESTAMP_LTZ(ms, 3), WATERMARK FOR ts AS ts) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "orders"}', 'format' = 'json');
            CREATE TABLE priced (id BIGINT, price BIGINT) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "out"}', 'format' = 'json');
        """)
        job = s.execute(
            "INSERT INTO priced SELECT o.id, o.amount * r.rate FROM orders o JOIN rates "
            "FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur"
        ).job
        assert job is not None and job.wait(120), "the bounded job did not finish"
        assert job.error is None, job.error
        join = next(op for op in job.metrics()["operators"] if op["kind"] == "temporal_join")
    assert join["versions_dropped"] == 1
    got = [
        json.loads(line)
        for f in (tmp_path / "out").rglob("*")
        if f.is_file()
        for line in f.read_text().splitlines()
    ]
    assert got == [{"id": 1, "price": 228}]
