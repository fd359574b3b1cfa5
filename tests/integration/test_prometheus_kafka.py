"""Consumer lag per partition and sink commit latency on the Prometheus endpoint, scraped
over HTTP while a job reads a real Kafka topic and writes exactly-once to another."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import sqlstream
from tests.integration.test_kafka_source import create_topic, produce, unique
from tests.unit.sqlstream.test_prometheus import OP, Samples, scrape_until

pytestmark = pytest.mark.kafka

PER_PARTITION = 20_000
LAG = OP + "KafkaSourceReader_topic_partition_pendingRecords"
OFFSET = OP + "KafkaSourceReader_topic_partition_currentOffset"


def partitions(got: Samples, name: str, topic: str) -> dict[str, float]:
    return {labels["partition"]: v for labels, v in got.get(name, []) if labels.get("topic") == topic}


def test_consumer_lag_per_partition_falls_to_zero_and_commits_are_timed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    src, dst = unique("prom-src"), unique("prom-dst")

    async def setup() -> None:
        await create_topic(kafka_bootstrap, src, partitions=2)
        await create_topic(kafka_bootstrap, dst)
        for p in (0, 1):
            await produce(kafka_bootstrap, src, [b"x"] * PER_PARTITION, partition=p)

    asyncio.run(setup())
    config = {
        "metrics.reporter.prom.port": "0",
        "execution.checkpointing.interval": "300 ms",
        "state.checkpoints.dir": str(tmp_path / "ck"),
        # small batches: the job reads slowly enough to be scraped while it is behind
        "sqlstream.runtime.batch-size": "20",
    }
    with sqlstream.connect(config=config) as s:
        s.execute(f"""
            CREATE TABLE lines (line STRING) WITH (
                'connector' = 'kafka', 'topic' = '{src}',
                'properties.bootstrap.servers' = '{kafka_bootstrap}',
                'scan.startup.mode' = 'earliest-offset', 'value.format' = 'raw')""")
        s.execute(f"""
            CREATE TABLE copies (line STRING) WITH (
                'connector' = 'kafka', 'topic' = '{dst}',
                'properties.bootstrap.servers' = '{kafka_bootstrap}', 'value.format' = 'raw',
                'sink.delivery-guarantee' = 'exactly-once',
                'sink.transactional-id-prefix' = '{dst}')""")
        result = s.execute("INSERT INTO copies SELECT line FROM lines")
        assert result.job is not None and s.jobs.metrics_server is not None
        url = s.jobs.metrics_server.url
        try:
            behind = scrape_until(url, lambda got: sum(partitions(got, LAG, src).values()) > 0)
            lag = partitions(behind, LAG, src)
            assert set(lag) == {"0", "1"}, lag
            assert 0 < sum(lag.values()) <= 2 * PER_PARTITION
            pending = [v for labels, v in behind.get(OP + "pendingRecords", [])]
            assert sum(pending) == sum(lag.values())

            def caught_up(got: Samples) -> bool:
                offsets = partitions(got, OFFSET, src)
                return offsets == {"0": PER_PARTITION, "1": PER_PARTITION} and any(
                    v > 0 for _, v in got.get(OP + "numSinkCommits", [])
                )

            done = scrape_until(url, caught_up, deadline_s=120)
            assert partitions(done, OFFSET, src) == {"0": PER_PARTITION, "1": PER_PARTITION}
            assert partitions(done, LAG, src) == {"0": 0.0, "1": 0.0}
            commit_ms = [v for labels, v in done.get(OP + "sinkCommitDuration", [])]
            assert commit_ms and all(v > 0 for v in commit_ms)  # an EndTxn round trip to the broker
        finally:
            result.job.cancel()
            result.job.wait(30)
