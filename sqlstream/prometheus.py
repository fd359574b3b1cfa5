"""A Prometheus endpoint for the jobs of a session: ``metrics.reporter.prom.port``.

As in Flink, setting the key (``SET 'metrics.reporter.prom.port' = '9249'`` or
``-D metrics.reporter.prom.port=9249``; a range ``9250-9260`` takes the first free port,
``0`` any free port) serves ``http://host:port/metrics`` once the first job starts.

Names and labels are those of Flink's ``PrometheusReporter``, so that the dashboards and
alerts of a Flink user work unchanged: ``flink_jobmanager_job_<metric>`` for the job
(labels ``job_id``, ``job_name``) and ``flink_taskmanager_job_task_operator_<metric>``
for each operator subtask (plus ``task_name``, ``operator_id``, ``operator_name``,
``subtask_index``), and like Flink's reporter every value is a gauge (a Flink counter
too, hence no ``_total`` suffix). Flink's own metric names are used where Flink has the
metric (``numRecordsIn``, ``numRecordsOutPerSecond``, ``currentInputWatermark``,
``numLateRecordsDropped``, ``pendingRecords``, ``lastCheckpointDuration``,
``buffers_inPoolUsage``, ``accumulatedBusyTime``, ``busyTimeMsPerSecond``, the Kafka
reader's ``KafkaSourceReader_topic_partition_currentOffset``
...); what Flink lacks gets a name of the same shape in the same scope (``watermarkLag``,
``stateRows``, ``stateBytes``, ``sinkCommitDuration``, ``lastCheckpointAlignmentTime``),
so one selector ``{job_name="billing"}`` finds everything about a job.

Values are read at scrape time from the jobs' own counters (``runtime/metrics.py``): the
hot path does nothing for Prometheus. Rates (``...PerSecond``) are over the last minute,
like Flink's meters, from the samples of earlier scrapes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from catalog.config import PROMETHEUS_PORT
from catalog.errors import SqlStreamError

JOB = "flink_jobmanager_job_"
OPERATOR = "flink_taskmanager_job_task_operator_"
TASK = "flink_taskmanager_job_task_"
RATE_WINDOW_S = 60.0
SUBTASK_LABELS = ("job_id", "job_name", "task_name", "operator_id", "operator_name", "subtask_index")

Jobs = Callable[[], list[tuple[dict[str, Any], int]]]  # (metrics snapshot, restarts) per job


class Meter:
    """Per-second rate of a growing count over the last minute (Flink's MeterView)."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def rate(self, now: float, count: int, lifetime_s: float) -> float:
        samples = self.samples
        if samples and count < samples[-1][1]:
            samples.clear()  # the job restarted from a checkpoint: its counters start over
        samples.append((now, count))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW_S:
            samples.popleft()
        first_t, first_c = samples[0]
        if now - first_t < 1.0:  # one scrape so far: the average since the start
            return count / max(lifetime_s, 1e-9)
        return (count - first_c) / (now - first_t)


@dataclass
class _Family:
    name: str
    doc: str
    labels: tuple[str, ...]
    samples: list[tuple[tuple[str, ...], float]]


class JobsCollector:
    """A prometheus_client collector over the jobs ``jobs()`` returns at each scrape."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs
        self._meters: dict[tuple[str, ...], Meter] = {}
        self._seen: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()  # two scrapes at once share the meters

    def families(self) -> list[_Family]:
        with self._lock:
            return self._families()

    def _families(self) -> list[_Family]:
        now = time.monotonic()
        fams: dict[str, _Family] = {}

        def put(name: str, doc: str, labels: tuple[str, ...], values: tuple[str, ...], v: Any) -> None:
            if v is None:
                return
            fam = fams.get(name)
            if fam is None:
                fam = fams[name] = _Family(name, doc, labels, [])
            fam.samples.append((values, float(v)))

        job_labels = ("job_id", "job_name")
        for snap, restarts in self.jobs():
            jl = (str(snap["job_id"]), str(snap["name"]))
            put(JOB + "uptime", "Milliseconds the job has run.", job_labels, jl, snap["elapsed_s"] * 1000)
            put(JOB + "numRestarts", "Restarts from a checkpoint after a failure.", job_labels, jl, restarts)
            self._checkpoints(put, job_labels, jl, snap.get("checkpoints"))
            for op in snap["operators"]:
                for sub in op["subtasks"]:
                    labels = (*jl, op["name"], str(op["id"]), op["name"], str(sub["subtask"]))
                    self._subtask(put, labels, op["kind"], sub, now, snap["elapsed_s"])
        for key in [k for k in self._meters if k not in self._seen]:
            del self._meters[key]  # a job no longer listed: its meters go with it
        self._seen.clear()
        return list(fams.values())

    def _checkpoints(self, put: Any, labels: tuple[str, ...], values: tuple[str, ...], ck: Any) -> None:
        if not ck:
            return
        put(JOB + "numberOfCompletedCheckpoints", "Completed checkpoints.", labels, values, ck["completed"])
        put(JOB + "numberOfFailedCheckpoints", "Failed checkpoints.", labels, values, ck["failed"])
        put(JOB + "numberOfInProgressCheckpoints", "Checkpoints in flight.", labels, values,
            ck["in_progress"])  # fmt: skip
        last = ck.get("last")
        if last:
            put(JOB + "lastCheckpointDuration", "Milliseconds the last completed checkpoint took.",
                labels, values, last["duration_ms"])  # fmt: skip
            put(JOB + "lastCheckpointSize", "Bytes of state the last completed checkpoint wrote.",
                labels, values, last["bytes"])  # fmt: skip
            put(JOB + "lastCheckpointAlignmentTime",
                "Milliseconds the slowest subtask spent aligning barriers in the last checkpoint.",
                labels, values, last["alignment_ms"])  # fmt: skip
            put(JOB + "lastCheckpointSyncDuration",
                "Milliseconds of the synchronous part of the slowest snapshot (processing stops).",
                labels, values, last["sync_ms"])  # fmt: skip
            put(JOB + "lastCompletedCheckpointId", "Id of the last completed checkpoint.",
                labels, values, last["checkpoint_id"])  # fmt: skip

    def _subtask(
        self, put: Any, labels: tuple[str, ...], kind: str, sub: dict[str, Any], now: float, elapsed: float
    ) -> None:
        lifetime = elapsed

        def rate(name: str, count: int) -> float:
            key = (name, *labels)
            self._seen.add(key)
            return self._meters.setdefault(key, Meter()).rate(now, count, lifetime)

        for name, count in (("numRecordsIn", sub["rows_in"]), ("numRecordsOut", sub["rows_out"])):
            put(OPERATOR + name, f"Rows {'into' if name.endswith('In') else 'out of'} the operator subtask.",
                SUBTASK_LABELS, labels, count)  # fmt: skip
            put(OPERATOR + name + "PerSecond", "Rows per second over the last minute.", SUBTASK_LABELS,
                labels, rate(name, count))  # fmt: skip
        busy = int(sub["busy_ms"])
        put(TASK + "accumulatedBusyTime", "Milliseconds the subtask spent in its operator.",
            SUBTASK_LABELS, labels, busy)  # fmt: skip
        put(TASK + "busyTimeMsPerSecond",
            "Milliseconds per second busy over the last minute (1000: the bottleneck).",
            SUBTASK_LABELS, labels, min(rate("busyTime", busy), 1000.0))  # fmt: skip
        put(OPERATOR + "currentInputWatermark", "The subtask's watermark (epoch milliseconds).",
            SUBTASK_LABELS, labels, sub["watermark_ms"])  # fmt: skip
        put(OPERATOR + "watermarkLag", "Milliseconds the watermark is behind the wall clock.",
            SUBTASK_LABELS, labels, sub["watermark_lag_ms"])  # fmt: skip
        put(TASK + "buffers_inPoolUsage",
            "Fill of the fullest input channel, 0..1 (1: the producers are back-pressured).",
            SUBTASK_LABELS, labels, sub["queue_fill"])  # fmt: skip
        put(OPERATOR + "numLateRecordsDropped", "Rows dropped as late (behind the watermark).",
            SUBTASK_LABELS, labels, sub["late_rows_dropped"])  # fmt: skip
        put(OPERATOR + "stateRows", "Rows kept in the subtask's keyed state.", SUBTASK_LABELS, labels,
            sub["state_rows"])  # fmt: skip
        put(OPERATOR + "stateBytes", "Bytes of the subtask's keyed state (estimate).", SUBTASK_LABELS,
            labels, sub["state_bytes"])  # fmt: skip
        if kind == "source":
            put(OPERATOR + "pendingRecords", "Records in the source's splits not read yet.",
                SUBTASK_LABELS, labels, sub["pending_records"])  # fmt: skip
            part_labels = (*SUBTASK_LABELS, "topic", "partition")
            for key, p in sub["partitions"].items():
                topic, _, partition = key.rpartition(":")
                pl = (*labels, topic, partition)
                put(OPERATOR + "KafkaSourceReader_topic_partition_currentOffset",
                    "Next offset to read.", part_labels, pl, p["offset"])  # fmt: skip
                put(OPERATOR + "KafkaSourceReader_topic_partition_pendingRecords",
                    "Consumer lag: records between the offset and the log end (last stable offset).",
                    part_labels, pl, p["pending"])  # fmt: skip
        if kind == "sink":
            put(OPERATOR + "numSinkCommits", "Checkpointed transactions the sink committed.",
                SUBTASK_LABELS, labels, sub["commits"])  # fmt: skip
            put(OPERATOR + "sinkCommitDuration", "Milliseconds the last commit took.", SUBTASK_LABELS,
                labels, sub["commit_ms_last"])  # fmt: skip

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        for fam in self.families():
            g = GaugeMetricFamily(fam.name, fam.doc, labels=list(fam.labels))
            for values, v in fam.samples:
                g.add_metric(list(values), v)
            yield g


class MetricsServer:
    """The HTTP endpoint; ``close`` stops it."""

    def __init__(self, ports: Sequence[int], jobs: Jobs, host: str = "0.0.0.0") -> None:
        """Serves on the first of ``ports`` that is free (``PROMETHEUS_PORT.get(config)``)."""
        try:
            from prometheus_client import CollectorRegistry, start_http_server
        except ImportError:  # pragma: no cover - a dependency of the package
            raise SqlStreamError(
                f"'{PROMETHEUS_PORT.name}' needs the prometheus_client package",
                hint="pip install prometheus-client",
            ) from None
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = JobsCollector(jobs)
        self.registry.register(self.collector)
        errors: list[str] = []
        for port in ports:
            try:
                self._server, self._thread = start_http_server(port, host, self.registry)
            except OSError as e:
                errors.append(f"{port}: {e.strerror}")
                continue
            self.port = int(self._server.server_port)
            self.host = host
            return
        raise SqlStreamError(
            f"cannot serve metrics on '{PROMETHEUS_PORT.name}' = '{_ports_text(ports)}': "
            f"{'; '.join(errors[:3])}",
            hint="choose a free port, or a range such as '9250-9260'",
        )

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _ports_text(ports: Sequence[int]) -> str:
    return str(ports[0]) if len(ports) == 1 else f"{ports[0]}-{ports[-1]}"
