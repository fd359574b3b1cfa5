"""The Prometheus endpoint (``metrics.reporter.prom.port``), scraped over HTTP while a
datagen job runs: Flink's names and labels, rows and rates, watermark and its lag, state,
late rows, checkpoints and sink commits."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import sqlstream
from catalog.config import PROMETHEUS_PORT
from catalog.errors import SqlStreamError
from sqlstream.prometheus import JobsCollector

OP = "flink_taskmanager_job_task_operator_"
JOB = "flink_jobmanager_job_"
Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(url: str) -> Samples:
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def scrape_until(url: str, ok: Callable[[Samples], bool], deadline_s: float = 30) -> Samples:
    """Scrape until ``ok`` holds (the job needs a moment to produce what is checked)."""
    end = time.monotonic() + deadline_s
    while True:
        got = scrape(url)
        if ok(got) or time.monotonic() > end:
            return got
        time.sleep(0.2)


def value(samples: Samples, name: str, **labels: str) -> float | None:
    for got, v in samples.get(name, []):
        if all(got.get(k) == want for k, want in labels.items()):
            return v
    return None


def test_a_running_job_is_scraped_with_flink_names_and_labels(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = {
        "metrics.reporter.prom.port": "0",
        "execution.checkpointing.interval": "300 ms",
        "state.checkpoints.dir": str(tmp_path / "ck"),
        "pipeline.name": "prom-test",
    }
    with sqlstream.connect(config=config) as s:
        s.execute("""
            CREATE TABLE clicks (k INT, ts TIMESTAMP(3),
                WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
            ) WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
                    'fields.k.min' = '1', 'fields.k.max' = '50', 'fields.ts.max-past' = '5 s')""")
        s.execute(f"""
            CREATE TABLE per_key (k INT, n BIGINT, w TIMESTAMP(3)) WITH (
                'connector' = 'filesystem', 'path' = '{out}', 'format' = 'csv')""")
        result = s.execute("""
            INSERT INTO per_key SELECT k, COUNT(*), window_start
            FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
            GROUP BY k, window_start, window_end""")
        assert result.job is not None and s.jobs.metrics_server is not None
        url = s.jobs.metrics_server.url
        assert url in result.message  # the user is told where to scrape
        job_id = result.job.id

        def ready(got: Samples) -> bool:
            return (
                (value(got, JOB + "numberOfCompletedCheckpoints", job_id=job_id) or 0) >= 2
                and (value(got, OP + "numLateRecordsDropped", operator_name="WindowAggregate") or 0) > 0
                and any(v > 0 for _, v in got.get(OP + "numSinkCommits", []))
            )

        got = scrape_until(url, ready)
        assert ready(got), sorted(got)
        labels = {"job_id": job_id, "job_name": "prom-test"}
        assert value(got, JOB + "uptime", **labels) > 0  # type: ignore[operator]
        source = {"operator_name": "TableSourceScan(clicks)", "subtask_index": "0", **labels}
        rows_out = value(got, OP + "numRecordsOut", **source)
        assert rows_out and rows_out > 0
        # about the 2000 rows/s datagen is told to make, not the lifetime average of a sleepy start
        rate = value(got, OP + "numRecordsOutPerSecond", **source)
        assert rate is not None and 200 < rate < 4000
        window = {"operator_name": "WindowAggregate", **labels}
        assert value(got, OP + "numRecordsIn", **window) == pytest.approx(rows_out, rel=0.5)
        watermark = value(got, OP + "currentInputWatermark", **window)
        lag = value(got, OP + "watermarkLag", **window)
        assert watermark is not None and lag is not None
        now_ms = time.time() * 1000
        # the timestamps reach 5 s into the past and the watermark trails them by 1 s
        assert now_ms - 60_000 < watermark < now_ms and 0 < lag < 60_000
        assert (value(got, OP + "stateRows", **window) or 0) > 0
        assert (value(got, OP + "stateBytes", **window) or 0) > 0
        fill = value(got, "flink_taskmanager_job_task_buffers_inPoolUsage", **window)
        assert fill is not None and 0.0 <= fill <= 1.0
        busy = value(got, "flink_taskmanager_job_task_accumulatedBusyTime", **window)
        busy_rate = value(got, "flink_taskmanager_job_task_busyTimeMsPerSecond", **window)
        assert busy and busy > 0 and busy_rate is not None and 0 <= busy_rate <= 1000
        assert (value(got, JOB + "lastCheckpointSize", **labels) or 0) > 0
        assert value(got, JOB + "lastCheckpointDuration", **labels) is not None
        assert value(got, JOB + "lastCheckpointAlignmentTime", **labels) is not None
        assert value(got, OP + "sinkCommitDuration", operator_name="Sink(per_key)", **labels) is not None
        result.job.cancel()
        assert result.job.wait(30)
        # as in Flink, a job that ended leaves the endpoint
        assert value(scrape(url), OP + "numRecordsOut", job_id=job_id) is None


def test_the_port_key_is_checked_when_set() -> None:
    assert PROMETHEUS_PORT.get({PROMETHEUS_PORT.name: "9250-9252"}) == (9250, 9251, 9252)
    assert PROMETHEUS_PORT.get({}) is None
    with pytest.raises(SqlStreamError, match="not a port"):
        PROMETHEUS_PORT.get({PROMETHEUS_PORT.name: "prom"})
    with sqlstream.connect() as s, pytest.raises(SqlStreamError, match="not a port"):
        s.execute("SET 'metrics.reporter.prom.port' = '9300-9200'")


def test_a_busy_port_moves_on_to_the_next_of_the_range() -> None:
    from sqlstream.prometheus import MetricsServer

    first = MetricsServer((0,), list)
    try:
        second = MetricsServer(range(first.port, first.port + 21), list)
        try:
            assert second.port != first.port
        finally:
            second.close()
        with pytest.raises(SqlStreamError, match="cannot serve metrics"):
            MetricsServer((first.port,), list)
    finally:
        first.close()


def test_kafka_partitions_become_topic_and_partition_labels() -> None:
    snap = {
        "job_id": "j1", "name": "n", "elapsed_s": 2.0,
        "operators": [{"id": 1, "name": "TableSourceScan(t)", "kind": "source", "subtasks": [{
            "subtask": 0, "rows_in": 0, "rows_out": 10, "watermark_ms": None, "watermark_lag_ms": None,
            "queue_fill": 0.0, "busy_ms": 0.0, "late_rows_dropped": 0, "state_rows": 0, "state_bytes": 0,
            "partitions": {"orders.eu:0": {"offset": 7, "pending": 3},
                           "orders.eu:1": {"offset": 5, "pending": 0}},
            "pending_records": 3, "commits": 0, "commit_ms_last": None,
        }]}],
    }  # fmt: skip
    fams = {f.name: f for f in JobsCollector(lambda: [(snap, 0)]).families()}
    lag = fams[OP + "KafkaSourceReader_topic_partition_pendingRecords"]
    by_partition = {dict(zip(lag.labels, values))["partition"]: v for values, v in lag.samples}
    assert by_partition == {"0": 3.0, "1": 0.0}
    assert {dict(zip(lag.labels, values))["topic"] for values, _ in lag.samples} == {"orders.eu"}
    assert fams[OP + "pendingRecords"].samples[0][1] == 3.0


def test_rates_are_over_the_last_minute_and_start_over_with_a_restart() -> None:
    from sqlstream.prometheus import Meter

    m = Meter()
    assert m.rate(100.0, 500, lifetime_s=5.0) == 100.0  # one sample: the average so far
    assert m.rate(102.0, 900, lifetime_s=7.0) == 200.0  # since the last sample
    assert m.rate(200.0, 900, lifetime_s=105.0) == 0.0  # a quiet minute
    assert m.rate(201.0, 50, lifetime_s=1.0) == 50.0  # restarted: counters began again
