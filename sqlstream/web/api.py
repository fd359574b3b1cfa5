"""Flink's REST API shapes, from a job's plan and a snapshot of ``Job.metrics()``.

Pure functions (no I/O, no clock: the caller passes ``now_ms``), so that every document
the dashboard serves is unit-tested, and a tool written for Flink's REST API
(``/jobs/overview``, ``/jobs/:jid``, ``/jobs/:jid/vertices/:vid``,
``/jobs/:jid/checkpoints``, ``/jobs/:jid/exceptions``) reads ours. Numbers Flink has no
name for (rows per second since start, watermark lag, late rows, state rows and bytes,
input channel fill) sit under a ``"sqlstream"`` key of the vertex, next to Flink's own.

Vertex ids are the plan's node ids as strings. Back-pressure of a vertex is, as in Flink,
how blocked its output is: the fill of the input channels of the operators it sends to
(1.0 = full, the vertex waits). Busy time is Flink's ``accumulated-busy-time``: ms spent
in the operator, summed over subtasks; its growth per second of wall time, per subtask,
is the busy ratio the page colours by.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from planner.explain import describe
from planner.physical import Node, PhysicalPlan
from sqlstream.jobs import Failure

TASK_STATES = (
    "CREATED", "SCHEDULED", "DEPLOYING", "RUNNING", "FINISHED",
    "CANCELING", "CANCELED", "FAILED", "RECONCILING", "INITIALIZING",
)  # fmt: skip
FINAL_STATES = ("FINISHED", "CANCELED", "FAILED")


@dataclass(frozen=True)
class JobView:
    """What the API needs of one job at one moment."""

    id: str
    name: str
    plan: PhysicalPlan
    start_ms: int
    status: str
    metrics: Mapping[str, Any]  # of the current attempt (a restart starts them over, as Flink's)
    failures: Sequence[Failure] = field(default_factory=tuple)
    attempt_start_ms: int | None = None  # when the current attempt started; None: start_ms

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES

    def end_ms(self) -> int:
        if not self.final:
            return -1
        started = self.start_ms if self.attempt_start_ms is None else self.attempt_start_ms
        # rounded: a float of seconds (4.0 measured as 3.9999999996) is not truncated a ms short
        return started + round(float(self.metrics.get("elapsed_s", 0.0)) * 1000)

    def duration_ms(self, now_ms: int) -> int:
        end = self.end_ms()
        return max((end if end >= 0 else now_ms) - self.start_ms, 0)


def backpressure_level(ratio: float) -> str:
    """Flink's thresholds: up to 10% ok, up to 50% low, above high."""
    if ratio <= 0.10:
        return "ok"
    if ratio <= 0.5:
        return "low"
    return "high"


# ---- jobs -------------------------------------------------------------------------------
def jobs(views: Sequence[JobView]) -> dict[str, Any]:
    """``GET /jobs``."""
    return {"jobs": [{"id": v.id, "status": v.status} for v in views]}


def _task_counts(view: JobView, parallelism: int) -> dict[str, int]:
    counts = dict.fromkeys(TASK_STATES, 0)
    state = view.status if view.status in TASK_STATES else "CREATED"
    counts[state] = parallelism
    return counts


def _total_tasks(view: JobView) -> int:
    return sum(node_parallelism(n) for n in view.plan.nodes)


def jobs_overview(views: Sequence[JobView], now_ms: int) -> dict[str, Any]:
    """``GET /jobs/overview``."""
    out = []
    for v in views:
        counts = _task_counts(v, _total_tasks(v))
        out.append({
            "jid": v.id,
            "name": v.name,
            "state": v.status,
            "start-time": v.start_ms,
            "end-time": v.end_ms(),
            "duration": v.duration_ms(now_ms),
            "last-modification": v.end_ms() if v.final else v.start_ms,
            "tasks": {"total": _total_tasks(v), **{k.lower(): n for k, n in counts.items()}},
        })  # fmt: skip
    return {"jobs": out}


def overview(views: Sequence[JobView], version: str) -> dict[str, Any]:
    """``GET /overview``: the cluster is this process."""
    by_state = [v.status for v in views]
    return {
        "taskmanagers": 1,
        "slots-total": sum(_total_tasks(v) for v in views if not v.final),
        "slots-available": 0,
        "jobs-running": sum(1 for s in by_state if s not in FINAL_STATES),
        "jobs-finished": by_state.count("FINISHED"),
        "jobs-cancelled": by_state.count("CANCELED"),
        "jobs-failed": by_state.count("FAILED"),
        "flink-version": f"sqlstream {version}",
        "flink-commit": "",
    }


def node_parallelism(node: Node) -> int:
    """As the runtime runs it (``runtime.graph.parallelism``): a collect node runs once."""
    return 1 if node.kind == "collect" else max(node.parallelism, 1)


def _operators(view: JobView) -> dict[int, Mapping[str, Any]]:
    return {int(op["id"]): op for op in view.metrics.get("operators", [])}


def _consumers(plan: PhysicalPlan) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {n.id: [] for n in plan.nodes}
    for n in plan.nodes:
        for e in n.inputs:
            out[e.source].append(n.id)
    return out


def _backpressure(view: JobView, node_id: int) -> float:
    ops = _operators(view)
    fills = [float(ops[c].get("queue_fill", 0.0)) for c in _consumers(view.plan)[node_id] if c in ops]
    return max(fills, default=0.0)


def _io_metrics(op: Mapping[str, Any] | None, final: bool) -> dict[str, Any]:
    op = op or {}
    return {
        "read-bytes": 0,
        "read-bytes-complete": final,
        "write-bytes": 0,
        "write-bytes-complete": final,
        "read-records": int(op.get("rows_in", 0)),
        "read-records-complete": final,
        "write-records": int(op.get("rows_out", 0)),
        "write-records-complete": final,
        "accumulated-busy-time": float(op.get("busy_ms", 0.0)),
        "accumulated-backpressured-time": 0,
        "accumulated-idle-time": 0,
    }


def _extra(op: Mapping[str, Any] | None, node: Node, now_ms: int, backpressure: float) -> dict[str, Any]:
    """What Flink has no REST name for, as ``Job.metrics()`` names it."""
    op = op or {}
    wm = op.get("watermark_ms")
    return {
        "kind": node.kind,
        "rows_in_per_s": float(op.get("rows_in_per_s", 0.0)),
        "rows_out_per_s": float(op.get("rows_out_per_s", 0.0)),
        "watermark_ms": wm,
        "watermark_lag_ms": None if wm is None else now_ms - int(wm),
        "late_rows_dropped": int(op.get("late_rows_dropped", 0)),
        "state_rows": int(op.get("state_rows", 0)),
        "state_bytes": int(op.get("state_bytes", 0)),
        "input_fill": float(op.get("queue_fill", 0.0)),
        "backpressure": backpressure,
    }


def _plan_nodes(plan: PhysicalPlan) -> list[dict[str, Any]]:
    """Flink's ``plan.nodes``: each node with its inputs and their ship strategy."""
    return [
        {
            "id": str(n.id),
            "parallelism": node_parallelism(n),
            "operator": n.kind,
            "operator_strategy": "",
            "description": describe(n, plan),
            "inputs": [
                {
                    "num": i,
                    "id": str(e.source),
                    "ship_strategy": e.partitioning.value.upper(),
                    "keys": list(e.keys),
                    "exchange": "pipelined_bounded",
                }
                for i, e in enumerate(n.inputs)
            ],
            "optimizer_properties": {},
        }
        for n in plan.nodes
    ]


def job_plan(view: JobView) -> dict[str, Any]:
    """``GET /jobs/:jid/plan``."""
    return {"plan": {"jid": view.id, "name": view.name, "type": "STREAMING", "nodes": _plan_nodes(view.plan)}}


def job_details(view: JobView, now_ms: int) -> dict[str, Any]:
    """``GET /jobs/:jid``: the job, its vertices with their metrics, and its plan."""
    ops = _operators(view)
    vertices = []
    for n in view.plan.nodes:
        p = node_parallelism(n)
        op = ops.get(n.id)
        vertices.append({
            "id": str(n.id),
            "name": n.name,
            "maxParallelism": p,
            "parallelism": p,
            "status": view.status,
            "start-time": view.start_ms,
            "end-time": view.end_ms(),
            "duration": view.duration_ms(now_ms),
            "tasks": _task_counts(view, p),
            "metrics": _io_metrics(op, view.final),
            "sqlstream": _extra(op, n, now_ms, _backpressure(view, n.id)),
        })  # fmt: skip
    status_counts = dict.fromkeys(TASK_STATES, 0)
    status_counts[view.status if view.status in TASK_STATES else "CREATED"] = len(vertices)
    return {
        "jid": view.id,
        "name": view.name,
        "isStoppable": False,
        "state": view.status,
        "job-type": "STREAMING",
        "start-time": view.start_ms,
        "end-time": view.end_ms(),
        "duration": view.duration_ms(now_ms),
        "maxParallelism": max((node_parallelism(n) for n in view.plan.nodes), default=1),
        "now": now_ms,
        "timestamps": {view.status: view.end_ms() if view.final else view.start_ms, "CREATED": view.start_ms},
        "vertices": vertices,
        "status-counts": status_counts,
        "plan": job_plan(view)["plan"],
        "sqlstream": {
            "rows_read": int(view.metrics.get("rows_read", 0)),
            "rows_written": int(view.metrics.get("rows_written", 0)),
            "rows_per_second": float(view.metrics.get("rows_per_second", 0.0)),
            "late_rows_dropped": int(view.metrics.get("late_rows_dropped", 0)),
            "checkpointing": "checkpoints" in view.metrics,
        },
    }


def find_node(view: JobView, vertex_id: str) -> Node | None:
    for n in view.plan.nodes:
        if str(n.id) == vertex_id:
            return n
    return None


def vertex_details(view: JobView, node: Node, now_ms: int) -> dict[str, Any]:
    """``GET /jobs/:jid/vertices/:vid``: one operator and each of its subtasks."""
    op = _operators(view).get(node.id) or {}
    subtasks = []
    for s in op.get("subtasks", []):
        subtasks.append({
            "subtask": int(s["subtask"]),
            "status": view.status,
            "attempt": len(view.failures),
            "endpoint": "localhost",
            "start-time": view.start_ms,
            "end-time": view.end_ms(),
            "duration": view.duration_ms(now_ms),
            "metrics": _io_metrics(s, view.final),
            "sqlstream": _extra(s, node, now_ms, _backpressure(view, node.id)),
        })  # fmt: skip
    return {
        "id": str(node.id),
        "name": node.name,
        "parallelism": node_parallelism(node),
        "maxParallelism": node_parallelism(node),
        "now": now_ms,
        "subtasks": subtasks,
    }


def vertex_backpressure(view: JobView, node: Node, now_ms: int) -> dict[str, Any]:
    """``GET /jobs/:jid/vertices/:vid/backpressure`` (from channel fill, not sampling)."""
    ratio = _backpressure(view, node.id)
    level = backpressure_level(ratio)
    return {
        "status": "ok",
        "backpressureLevel": level,
        "end-timestamp": now_ms,
        "subtasks": [
            {"subtask": i, "attempt-number": 0, "backpressureLevel": level, "ratio": ratio,
             "idleRatio": 0.0, "busyRatio": 0.0}
            for i in range(node_parallelism(node))
        ],
    }  # fmt: skip


def vertex_watermarks(view: JobView, node: Node) -> list[dict[str, str]]:
    """``GET /jobs/:jid/vertices/:vid/watermarks``: Flink's metric list, per subtask."""
    op = _operators(view).get(node.id) or {}
    out = []
    for s in op.get("subtasks", []):
        wm = s.get("watermark_ms")
        out.append(
            {"id": f"{s['subtask']}.currentInputWatermark", "value": str(wm if wm is not None else -(2**63))}
        )
    return out


# ---- checkpoints ------------------------------------------------------------------------
def _checkpoint_entry(h: Mapping[str, Any], num_subtasks: int) -> dict[str, Any]:
    completed = h.get("status") == "completed"
    started = int(h.get("started_ms", 0))
    duration = round(float(h.get("duration_ms", 0.0)))
    entry: dict[str, Any] = {
        "className": "completed" if completed else "failed",
        "id": int(h["checkpoint_id"]),
        "status": "COMPLETED" if completed else "FAILED",
        "is_savepoint": bool(h.get("savepoint")),
        "checkpoint_type": "SAVEPOINT" if h.get("savepoint") else "CHECKPOINT",
        "trigger_timestamp": started,
        "latest_ack_timestamp": started + duration if completed else -1,
        "state_size": int(h.get("bytes", 0)),
        "checkpointed_size": int(h.get("bytes", 0)),
        "end_to_end_duration": duration,
        "alignment_buffered": 0,
        "processed_data": 0,
        "persisted_data": 0,
        "num_subtasks": num_subtasks,
        "num_acknowledged_subtasks": num_subtasks if completed else 0,
        # Flink reports these per subtask; here the slowest subtask's, per checkpoint
        "sync_duration": float(h.get("sync_ms", 0.0)),
        "async_duration": float(h.get("async_ms", 0.0)),
        "alignment_duration": float(h.get("alignment_ms", 0.0)),
    }
    if completed:
        entry["external_path"] = h.get("path", "")
        entry["discarded"] = False
    else:
        entry["failure_timestamp"] = started + duration
        entry["failure_message"] = h.get("reason", "")
    return entry


def _stats(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"min": 0, "max": 0, "avg": 0}
    return {"min": min(values), "max": max(values), "avg": sum(values) / len(values)}


def checkpoints(view: JobView) -> dict[str, Any]:
    """``GET /jobs/:jid/checkpoints``: counts, summary, latest and history (newest first;
    the runtime keeps the last 20). Without checkpointing every count is 0, as Flink's."""
    ck = view.metrics.get("checkpoints") or {}
    n = _total_tasks(view)
    history = [_checkpoint_entry(h, n) for h in reversed(ck.get("history", []))]
    done = [h for h in history if h["status"] == "COMPLETED"]
    restored = ck.get("restored_from")
    return {
        "counts": {
            "restored": 1 if restored else 0,
            "total": int(ck.get("completed", 0)) + int(ck.get("failed", 0)) + int(ck.get("in_progress", 0)),
            "in_progress": int(ck.get("in_progress", 0)),
            "completed": int(ck.get("completed", 0)),
            "failed": int(ck.get("failed", 0)),
        },
        "summary": {
            "state_size": _stats([h["state_size"] for h in done]),
            "checkpointed_size": _stats([h["checkpointed_size"] for h in done]),
            "end_to_end_duration": _stats([h["end_to_end_duration"] for h in done]),
            "alignment_buffered": _stats([]),
            "processed_data": _stats([]),
            "persisted_data": _stats([]),
        },
        "latest": {
            "completed": next((h for h in done if not h["is_savepoint"]), None),
            "savepoint": next((h for h in done if h["is_savepoint"]), None),
            "failed": next((h for h in history if h["status"] == "FAILED"), None),
            "restored": {"id": -1, "restore_timestamp": view.start_ms,
                         "is_savepoint": "savepoint" in restored, "external_path": restored}
            if restored else None,
        },
        "history": history,
    }  # fmt: skip


def checkpoint_config(view: JobView) -> dict[str, Any]:
    """``GET /jobs/:jid/checkpoints/config``."""
    ck = view.metrics.get("checkpoints")
    if not ck:
        return {"mode": "none", "interval": -1}
    return {"mode": str(ck.get("mode", "")).lower(), "interval": ck.get("interval_ms") or -1}


# ---- exceptions -------------------------------------------------------------------------
def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def _stacktrace(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)).rstrip("\n")


def exceptions(view: JobView) -> dict[str, Any]:
    """``GET /jobs/:jid/exceptions``: the failures, newest first, each with the restart
    that followed it (``"restart"``: the attempt and when it started; None when the
    failure ended the job)."""
    entries: list[dict[str, Any]] = []
    for f in reversed(view.failures):
        entries.append({
            "exceptionName": type(f.error).__name__,
            "message": str(f.error),
            "stacktrace": _stacktrace(f.error),
            "timestamp": _ms(f.time),
            "taskName": None,
            "location": None,
            "failureLabels": {},
            "concurrentExceptions": [],
            "restart": None if f.restart_attempt is None
            else {"attempt": f.restart_attempt, "timestamp": _ms(f.restart_time)},
        })  # fmt: skip
    last = entries[0] if entries else None
    return {
        "root-exception": last["stacktrace"] if last else None,
        "timestamp": last["timestamp"] if last else None,
        "all-exceptions": [],
        "truncated": False,
        "exceptionHistory": {"entries": entries, "truncated": False},
    }


# ---- savepoints -------------------------------------------------------------------------
def savepoint_status(done: bool, location: str | None, error: BaseException | None) -> dict[str, Any]:
    """``GET /jobs/:jid/savepoints/:triggerid`` (also what a stop-with-savepoint reports)."""
    if not done:
        return {"status": {"id": "IN_PROGRESS"}, "operation": None}
    if error is not None:
        return {
            "status": {"id": "COMPLETED"},
            "operation": {"failure-cause": {
                "class": type(error).__name__,
                "stack-trace": _stacktrace(error),
                "serialized-throwable": None,
            }},
        }  # fmt: skip
    return {"status": {"id": "COMPLETED"}, "operation": {"location": location}}


def error(message: str) -> dict[str, Any]:
    """Flink's error body."""
    return {"errors": [message]}
