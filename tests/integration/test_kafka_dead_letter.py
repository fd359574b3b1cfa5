"""The Kafka source's dead-letter topic for change records: a bad debezium-json record is
skipped, counted and written to ``sqlstream.dead-letter.topic`` as it was (key, value,
headers), with where it came from, while the good records' rows (-U and +U of an update
included) go on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.integration.test_kafka_source import (
    COLS,
    create_topic,
    drain,
    produce,
    read_records,
    source,
    unique,
)

pytestmark = pytest.mark.kafka


def test_a_bad_change_record_is_skipped_counted_and_dead_lettered_as_it_was(kafka_bootstrap: str) -> None:
    topic, dlq = unique("src-cdc-bad"), unique("dlq-cdc")
    values = [
        json.dumps({"before": None, "after": {"id": 1, "name": "a"}, "op": "c"}).encode(),
        b'{"before": null, "after": {"id": 2,',
        json.dumps({"before": {"id": 1, "name": "a"}, "after": {"id": 1, "name": "b"}, "op": "u"}).encode(),
    ]

    async def scenario() -> tuple[list[Any], int, list[Any]]:
        await create_topic(kafka_bootstrap, topic)
        await create_topic(kafka_bootstrap, dlq)
        await produce(kafka_bootstrap, topic, values, keys=[b"k1", b"k2", b"k3"], headers=[("h", b"v")])
        reader = source(
            kafka_bootstrap,
            {
                "topic": topic,
                "format": "debezium-json",
                "debezium-json.ignore-parse-errors": "true",
                "sqlstream.dead-letter.topic": dlq,
                "scan.startup.mode": "earliest-offset",
                "scan.bounded.mode": "latest-offset",
            },
            COLS,
        )
        t = await drain(reader)
        skipped = reader.metrics.bad_records_skipped
        assert reader.position()["offsets"][f"{topic}:0"] == 3
        await reader.close()
        return t.to_pylist(), skipped, await read_records(kafka_bootstrap, dlq)

    rows, skipped, dead = asyncio.run(scenario())
    assert [(r["id"], r["name"]) for r in rows] == [(1, "a"), (1, "a"), (1, "b")]
    assert skipped == 1
    assert len(dead) == 1
    assert dead[0].value == values[1] and dead[0].key == b"k2"
    headers = dict(dead[0].headers)
    assert headers["h"] == b"v"
    assert headers["sqlstream.source"] == f"{topic}:0:1".encode()
    assert f"topic '{topic}', partition 0, offset 1" in headers["sqlstream.error"].decode()
