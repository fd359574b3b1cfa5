"""The state of a real Kafka job, read back from its savepoint: the offsets per partition
and the aggregate over exactly the records before them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import sqlstream
from runtime.state.inspect import StateReader
from tests.integration.test_kafka_source import create_topic, produce, unique

pytestmark = pytest.mark.kafka


def test_a_savepoint_shows_kafka_offsets_and_the_state_they_count(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = unique("state-src")
    counts = {0: 700, 1: 300}

    async def setup() -> None:
        await create_topic(kafka_bootstrap, topic, partitions=2)
        for p, n in counts.items():
            await produce(kafka_bootstrap, topic, [b'{"k":%d}' % (i % 4) for i in range(n)], partition=p)

    asyncio.run(setup())
    config = {"execution.checkpointing.interval": "200 ms", "state.checkpoints.dir": str(tmp_path)}
    with sqlstream.connect(config=config) as s:
        s.execute(f"""CREATE TABLE events (k INT) WITH ('connector' = 'kafka', 'topic' = '{topic}',
            'properties.bootstrap.servers' = '{kafka_bootstrap}', 'scan.startup.mode' = 'earliest-offset',
            'format' = 'json')""")
        s.execute("CREATE TABLE per_key (k INT, n BIGINT) WITH ('connector' = 'blackhole')")
        job = s.execute("INSERT INTO per_key SELECT k, COUNT(*) AS n FROM events GROUP BY k").job
        assert job is not None
        deadline = time.monotonic() + 60
        while job.metrics()["rows_read"] < sum(counts.values()):
            assert time.monotonic() < deadline and not job.done, job.error
            time.sleep(0.1)
        path = s.execute(f"STOP JOB '{job.id}' WITH SAVEPOINT").rows[0][0]
    with StateReader.open(path) as reader:
        _, offsets = reader.sql('SELECT "partition", "offset" FROM source_positions ORDER BY 1')
        assert offsets == [(0, 700), (1, 300)]
        view = reader.operators()[0].view
        _, rows = reader.sql(f"SELECT k, n, row_count FROM {view} ORDER BY k")
        assert [r[0] for r in rows] == [0, 1, 2, 3]
        assert sum(r[1] for r in rows) == 1000 and all(r[1] == r[2] for r in rows)
