"""Counters per operator subtask, and their roll-up per operator and per job.

Subtasks only bump plain integers (no locks: one event loop). ``JobMetrics.snapshot``
turns them into a JSON-able dict::

    {"job_id", "name", "status", "elapsed_s",
     "rows_read", "rows_written", "rows_per_second", "late_rows_dropped", "udf_errors",
     "operators": [{"id", "name", "kind", "parallelism", "rows_in", "rows_out",
                    "rows_in_per_s", "rows_out_per_s", "late_rows_dropped",
                    "watermark_ms", "watermark_lag_ms", "queue_fill", "busy_ms", "state_rows",
                    "state_bytes", "state_rows_expired", "versions_dropped", "pending_records",
                    "null_rows_dropped", "commits", "commit_ms_last",
                    "subtasks": [{"subtask", "rows_in", "rows_out", ...,
                                  "partitions": {"topic-0": {"offset", "pending"}}}]}, ...]}

``rows_read`` counts rows out of the sources, ``rows_written`` rows into sinks and collect
nodes, less those a sink's not-null enforcer dropped (``null_rows_dropped``,
'table.exec.sink.not-null-enforcer' = 'DROP'); ``rows_per_second`` is ``rows_read`` over
the elapsed time. ``busy_ms`` is the time a subtask spent in its operator
(``process_batch``; a source's reader polls that returned rows), summed over the subtasks,
as Flink's ``accumulatedBusyTime``: its growth per second of wall time says how close the
operator is to being the bottleneck. ``watermark_lag_ms`` is how far the watermark is
behind the wall clock now (None without a watermark). ``partitions`` (a source) is each
split's next offset and how many records wait behind it (Kafka: the log end seen by the
last fetch minus the position); ``pending_records`` sums them. ``commits`` /
``commit_ms_*`` (a sink) time its commits of checkpointed transactions, the last step of
two-phase commit. ``state_rows_expired`` counts the stored rows the state TTL dropped
(``table.exec.state.ttl``, STATE_TTL); ``versions_dropped`` the versions an event-time
temporal join could not keep (no key or no version time: an upsert-kafka tombstone whose
time is a value column).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from runtime.channels import InputGate
from runtime.messages import MAX_WATERMARK

NO_WATERMARK = -(2**63)


@dataclass
class OperatorMetrics:
    """One subtask of one operator."""

    node_id: int
    subtask: int
    rows_in: int = 0
    rows_out: int = 0
    batches_in: int = 0
    batches_out: int = 0
    late_rows_dropped: int = 0
    udf_errors: int = 0  # input rows a Python function raised on: in the udf-errors table, or dropped
    watermark_ms: int = NO_WATERMARK
    state_rows: int = 0
    state_bytes: int = 0
    state_rows_expired: int = 0  # stored rows dropped by the state TTL
    # a temporal join's versions without key or time (a tombstone whose time is in the value)
    versions_dropped: int = 0
    # a sink: rows with a NULL in a NOT NULL column, dropped ('not-null-enforcer' = 'DROP')
    null_rows_dropped: int = 0
    busy_ms: float = 0.0
    # rows per state table where an operator keeps several (a join: left_rows, right_rows)
    state_tables: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    gate: InputGate | None = None
    # a source: split -> (next offset, records behind it); updated by the reader
    partitions: dict[str, tuple[int, int]] = field(default_factory=dict)
    # a sink: commits of checkpointed transactions and how long they took
    commits: int = 0
    commit_ms_total: float = 0.0
    commit_ms_last: float | None = None

    def commit_took(self, ms: float) -> None:
        self.commits += 1
        self.commit_ms_total += ms
        self.commit_ms_last = ms

    @property
    def queue_fill(self) -> float:
        return self.gate.fill if self.gate is not None else 0.0

    def elapsed(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return max(end - self.started, 1e-9)

    def as_dict(self) -> dict[str, Any]:
        secs = self.elapsed()
        watermark = (
            None if self.watermark_ms in (NO_WATERMARK, MAX_WATERMARK) else self.watermark_ms
        )
        partitions = dict(self.partitions)
        return {
            "subtask": self.subtask,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_in_per_s": self.rows_in / secs,
            "rows_out_per_s": self.rows_out / secs,
            "batches_in": self.batches_in,
            "batches_out": self.batches_out,
            "late_rows_dropped": self.late_rows_dropped,
            "udf_errors": self.udf_errors,
            # None before the first watermark and after the final one (end of input)
            "watermark_ms": watermark,
            "watermark_lag_ms": None if watermark is None else int(time.time() * 1000) - watermark,
            "queue_fill": self.queue_fill,
            "busy_ms": self.busy_ms,
            "state_rows": self.state_rows,
            "state_bytes": self.state_bytes,
            "state_rows_expired": self.state_rows_expired,
            "versions_dropped": self.versions_dropped,
            "null_rows_dropped": self.null_rows_dropped,
            "partitions": {k: {"offset": o, "pending": p} for k, (o, p) in sorted(partitions.items())},
            "pending_records": sum(p for _, p in partitions.values()),
            "commits": self.commits,
            "commit_ms_total": self.commit_ms_total,
            "commit_ms_last": self.commit_ms_last,
            "state_tables": dict(self.state_tables),
        }


@dataclass
class NodeInfo:
    id: int
    name: str
    kind: str
    parallelism: int


class JobMetrics:
    """Every subtask's counters of one job."""

    def __init__(self, job_id: str, name: str) -> None:
        self.job_id = job_id
        self.name = name
        self.started = time.monotonic()
        self.finished: float | None = None
        self.nodes: list[NodeInfo] = []
        self.subtasks: dict[int, list[OperatorMetrics]] = {}

    def add_node(self, info: NodeInfo) -> list[OperatorMetrics]:
        subs = [OperatorMetrics(info.id, i) for i in range(info.parallelism)]
        self.subtasks[info.id] = subs
        self.nodes.append(info)  # last: a snapshot taken from another thread meanwhile skips it
        return subs

    def snapshot(self, status: str = "") -> dict[str, Any]:
        end = self.finished if self.finished is not None else time.monotonic()
        secs = max(end - self.started, 1e-9)
        operators = []
        rows_read = rows_written = late = udf_errors = 0
        for info in self.nodes:
            subs = [m.as_dict() for m in self.subtasks[info.id]]
            rows_in = sum(s["rows_in"] for s in subs)
            rows_out = sum(s["rows_out"] for s in subs)
            wms = [s["watermark_ms"] for s in subs]
            watermark = min((w for w in wms if w is not None), default=None)
            lasts = [s["commit_ms_last"] for s in subs if s["commit_ms_last"] is not None]
            op = {
                "id": info.id,
                "name": info.name,
                "kind": info.kind,
                "parallelism": info.parallelism,
                "rows_in": rows_in,
                "rows_out": rows_out,
                "rows_in_per_s": rows_in / secs,
                "rows_out_per_s": rows_out / secs,
                "late_rows_dropped": sum(s["late_rows_dropped"] for s in subs),
                "udf_errors": sum(s["udf_errors"] for s in subs),
                "watermark_ms": watermark,
                "watermark_lag_ms": None if watermark is None else int(time.time() * 1000) - watermark,
                "queue_fill": max((s["queue_fill"] for s in subs), default=0.0),
                "busy_ms": sum(s["busy_ms"] for s in subs),
                "state_rows": sum(s["state_rows"] for s in subs),
                "state_bytes": sum(s["state_bytes"] for s in subs),
                "state_rows_expired": sum(s["state_rows_expired"] for s in subs),
                "versions_dropped": sum(s["versions_dropped"] for s in subs),
                "null_rows_dropped": sum(s["null_rows_dropped"] for s in subs),
                "pending_records": sum(s["pending_records"] for s in subs),
                "commits": sum(s["commits"] for s in subs),
                "commit_ms_last": max(lasts, default=None),
                "state_tables": _sum_tables(s["state_tables"] for s in subs),
                "subtasks": subs,
            }
            operators.append(op)
            late += op["late_rows_dropped"]
            udf_errors += op["udf_errors"]
            if info.kind == "source":
                rows_read += rows_out
            if info.kind in ("sink", "collect"):
                rows_written += rows_in - op["null_rows_dropped"]
        return {
            "job_id": self.job_id,
            "name": self.name,
            "status": status,
            "elapsed_s": secs,
            "rows_read": rows_read,
            "rows_written": rows_written,
            "rows_per_second": rows_read / secs,
            "late_rows_dropped": late,
            "udf_errors": udf_errors,
            "operators": operators,
        }


def _sum_tables(per_subtask: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for tables in per_subtask:
        for name, n in tables.items():
            total[name] = total.get(name, 0) + n
    return total
