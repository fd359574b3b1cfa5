"""The Kafka source's dead-letter topic for change records: a bad debezium-json record is
skipped, counted and written to ``sqlstream.dead-letter.topic`` as it was (key, value,
headers), with where it came from, while the good records' rows (-U and +U of an update
included) go on."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_kafka_source import read_dead_lettered

pytestmark = pytest.mark.kafka


def test_a_bad_change_record_is_skipped_counted_and_dead_lettered_as_it_was(kafka_bootstrap: str) -> None:
    values = [
        json.dumps({"before": None, "after": {"id": 1, "name": "a"}, "op": "c"}).encode(),
        b'{"before": null, "after": {"id": 2,',
        json.dumps({"before": {"id": 1, "name": "a"}, "after": {"id": 1, "name": "b"}, "op": "u"}).encode(),
    ]

    topic, table, skipped, dead = read_dead_lettered(kafka_bootstrap, "debezium-json", values, [("h", b"v")])
    rows = table.to_pylist()
    assert [(r["id"], r["name"]) for r in rows] == [(1, "a"), (1, "a"), (1, "b")]
    assert skipped == 1
    assert len(dead) == 1
    assert dead[0].value == values[1] and dead[0].key == b"k2"
    headers = dict(dead[0].headers)
    assert headers["h"] == b"v"
    assert headers["sqlstream.source"] == f"{topic}:0:1".encode()
    assert f"topic '{topic}', partition 0, offset 1" in headers["sqlstream.error"].decode()
