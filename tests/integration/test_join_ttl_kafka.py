"""State TTL as a user sees it: a regular join of two Kafka topics with
``SET 'table.exec.state.ttl' = '2 s'``. An order and its customer join; once both have
been idle longer than the TTL, a new order of that customer finds nobody (its customer
row was dropped), while a customer and an order that are fresh still join."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import sqlstream
from tests.integration.test_kafka_source import create_topic, produce, unique

TTL_S = 2


def test_a_key_idle_past_the_ttl_no_longer_matches(kafka_bootstrap: str) -> None:
    orders, customers = unique("ttl_orders"), unique("ttl_customers")

    def send(topic: str, *rows: dict[str, Any]) -> None:
        asyncio.run(produce(kafka_bootstrap, topic, [json.dumps(r).encode() for r in rows]))

    async def topics() -> None:
        await create_topic(kafka_bootstrap, orders)
        await create_topic(kafka_bootstrap, customers)

    asyncio.run(topics())
    with sqlstream.connect() as s:
        s.execute(f"SET 'table.exec.state.ttl' = '{TTL_S} s'")
        for name, topic, cols in (
            ("orders", orders, "id BIGINT, cid BIGINT"),
            ("customers", customers, "id BIGINT, name STRING"),
        ):
            s.execute(
                f"CREATE TABLE {name} ({cols}) WITH ('connector' = 'kafka', 'topic' = '{topic}', "
                f"'properties.bootstrap.servers' = '{kafka_bootstrap}', 'format' = 'json', "
                "'scan.startup.mode' = 'earliest-offset')"
            )
        handle = s.sql("SELECT o.id, c.name FROM orders o JOIN customers c ON o.cid = c.id")
        stop = threading.Event()
        guard = threading.Timer(120, stop.set)  # a failing join ends the test, not the run
        guard.start()
        try:
            rows = handle.changelog(stop)
            send(customers, {"id": 1, "name": "ann"})
            send(orders, {"id": 1, "cid": 1})
            assert next(rows) == (0, (1, "ann"))
            time.sleep(TTL_S + 1)  # both rows were written before the match came out
            send(customers, {"id": 9, "name": "zed"})
            # one partition, parallelism 1: order 2 is processed before order 3
            send(orders, {"id": 2, "cid": 1}, {"id": 3, "cid": 9})
            assert next(rows) == (0, (3, "zed")), "order 2 joined a customer that had expired"
            assert not stop.is_set()
            metrics = handle.job.metrics()
        finally:
            guard.cancel()
            handle.close()
    join = next(op for op in metrics["operators"] if op["kind"] == "join")
    assert join["state_rows_expired"] >= 2
