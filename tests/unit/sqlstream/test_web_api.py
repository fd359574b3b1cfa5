"""The dashboard's REST documents (sqlstream/web/api.py) from a plan and a metrics snapshot:
Flink's field names and shapes, and the numbers of ``Job.metrics()`` in them."""

from __future__ import annotations

from typing import Any

import pytest

import planner
from catalog import Catalog
from planner.physical import PhysicalPlan
from runtime.checkpoint.storage import CheckpointError
from runtime.graph import parallelism
from runtime.metrics import JobMetrics, NodeInfo
from sqlstream.jobs import Failure
from sqlstream.web import api

NOW = 1_800_000_000_000


def window_plan() -> PhysicalPlan:
    cat = Catalog()
    ddl = (
        "CREATE TABLE src (k BIGINT, v BIGINT, ts AS LOCALTIMESTAMP, WATERMARK FOR ts AS ts) "
        "WITH ('connector' = 'datagen');"
        "CREATE TABLE out (k BIGINT, ws TIMESTAMP(3), c BIGINT) WITH ('connector' = 'blackhole')"
    )
    for s in planner.parse(ddl):
        cat.create(planner.create_table(s, cat))
    sql = (
        "INSERT INTO out SELECT k, window_start, COUNT(*) FROM "
        "TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k"
    )
    return planner.plan(sql, cat, {"parallelism.default": "2", "pipeline.name": "w"})


def metrics_of(plan: PhysicalPlan, status: str = "RUNNING") -> tuple[JobMetrics, dict[str, Any]]:
    """The runtime's own roll-up, with counters set as subtasks would bump them."""
    m = JobMetrics("j1", plan.name)
    for i, node in enumerate(plan.nodes):
        for s in m.add_node(NodeInfo(node.id, node.name, node.kind, parallelism(node))):
            s.rows_in, s.rows_out, s.busy_ms = 100 * (i + 1), 90 * (i + 1), 250.0 * s.subtask
            if node.kind == "window_aggregate":
                s.watermark_ms = NOW - 1500 - s.subtask
                s.late_rows_dropped = 3
                s.state_rows, s.state_bytes = 40, 4000
    return m, m.snapshot(status)


def view(plan: PhysicalPlan, metrics: dict[str, Any], status: str = "RUNNING", **kw: Any) -> api.JobView:
    return api.JobView("j1", plan.name, plan, NOW - 10_000, status, metrics, **kw)


def test_job_details_has_flinks_fields_and_the_metrics_numbers() -> None:
    plan = window_plan()
    _, m = metrics_of(plan)
    doc = api.job_details(view(plan, m), NOW)
    assert (doc["jid"], doc["name"], doc["state"], doc["end-time"]) == ("j1", "w", "RUNNING", -1)
    assert doc["duration"] == 10_000
    assert [v["id"] for v in doc["vertices"]] == [str(n.id) for n in plan.nodes]
    for v, op in zip(doc["vertices"], m["operators"]):
        assert v["name"] == op["name"] and v["parallelism"] == op["parallelism"] == 2
        assert v["metrics"]["read-records"] == op["rows_in"]
        assert v["metrics"]["write-records"] == op["rows_out"]
        assert v["metrics"]["accumulated-busy-time"] == op["busy_ms"] == 250.0  # subtasks: 0 + 250
        assert v["tasks"]["RUNNING"] == 2
        assert v["sqlstream"]["kind"] == op["kind"]
    agg = next(v for v in doc["vertices"] if v["sqlstream"]["kind"] == "window_aggregate")
    assert agg["sqlstream"]["watermark_ms"] == NOW - 1501  # the slowest subtask's
    assert agg["sqlstream"]["watermark_lag_ms"] == 1501
    assert (agg["sqlstream"]["late_rows_dropped"], agg["sqlstream"]["state_rows"]) == (6, 80)
    assert agg["sqlstream"]["state_bytes"] == 8000
    assert doc["sqlstream"]["rows_read"] == m["rows_read"]


def test_plan_edges_carry_the_partitioning() -> None:
    plan = window_plan()
    nodes = api.job_details(view(plan, metrics_of(plan)[1]), NOW)["plan"]["nodes"]
    strategies = {(i["id"], n["id"]): (i["ship_strategy"], i["keys"]) for n in nodes for i in n["inputs"]}
    agg = next(n for n in plan.nodes if n.kind == "window_aggregate")
    (edge,) = agg.inputs
    assert strategies[(str(edge.source), str(agg.id))] == ("HASH", ["k"])
    assert any(s == ("FORWARD", []) for s in strategies.values())
    assert all(n["description"] for n in nodes)  # EXPLAIN's line for the operator


def test_backpressure_is_the_fill_of_the_channels_a_vertex_writes_to() -> None:
    plan = window_plan()
    jm, _ = metrics_of(plan)
    agg = next(n for n in plan.nodes if n.kind == "window_aggregate")
    upstream = agg.inputs[0].source

    class Full:
        fill = 0.8

    jm.subtasks[agg.id][1].gate = Full()  # type: ignore[assignment]
    doc = api.job_details(view(plan, jm.snapshot("RUNNING")), NOW)
    bp = {v["id"]: v["sqlstream"]["backpressure"] for v in doc["vertices"]}
    assert bp[str(upstream)] == 0.8  # the one that waits on the aggregate
    assert bp[str(agg.id)] == 0.0
    node = plan.node(upstream)
    level = api.vertex_backpressure(view(plan, jm.snapshot("RUNNING")), node, NOW)
    assert level["backpressureLevel"] == "high" and len(level["subtasks"]) == 2
    assert [api.backpressure_level(r) for r in (0.05, 0.3, 0.9)] == ["ok", "low", "high"]


def test_vertex_details_lists_each_subtask() -> None:
    plan = window_plan()
    _, m = metrics_of(plan)
    agg = next(n for n in plan.nodes if n.kind == "window_aggregate")
    doc = api.vertex_details(view(plan, m), agg, NOW)
    op = next(o for o in m["operators"] if o["id"] == agg.id)
    assert [s["subtask"] for s in doc["subtasks"]] == [0, 1]
    for s, raw in zip(doc["subtasks"], op["subtasks"]):
        assert s["metrics"]["read-records"] == raw["rows_in"]
        assert s["sqlstream"]["watermark_ms"] == raw["watermark_ms"]
        assert s["status"] == "RUNNING"
    marks = api.vertex_watermarks(view(plan, m), agg)
    assert marks == [
        {"id": "0.currentInputWatermark", "value": str(NOW - 1500)},
        {"id": "1.currentInputWatermark", "value": str(NOW - 1501)},
    ]


def test_a_finished_job_has_an_end_time_and_complete_counts() -> None:
    plan = window_plan()
    jm, _ = metrics_of(plan)
    jm.finished = jm.started + 4.0
    doc = api.job_details(view(plan, jm.snapshot("FINISHED"), "FINISHED"), NOW)
    assert doc["end-time"] == NOW - 10_000 + 4_000 and doc["duration"] == 4_000
    assert doc["vertices"][0]["metrics"]["write-records-complete"] is True
    overview = api.jobs_overview([view(plan, jm.snapshot("FINISHED"), "FINISHED")], NOW)["jobs"][0]
    assert overview["tasks"]["finished"] == overview["tasks"]["total"] == 2 * len(plan.nodes)


def history_entry(n: int, status: str = "completed", **kw: Any) -> dict[str, Any]:
    return {"checkpoint_id": n, "savepoint": False, "status": status, "started_ms": NOW - 5000 + n * 1000,
            "duration_ms": 120.4, "sync_ms": 1.5, "async_ms": 80.0, "alignment_ms": 3.0, "bytes": 1000 * n,
            "reason": "", "path": f"/ck/chk-{n}", **kw}  # fmt: skip


def test_checkpoints_newest_first_with_durations_and_failures() -> None:
    plan = window_plan()
    _, m = metrics_of(plan)
    m["checkpoints"] = {
        "completed": 2, "failed": 1, "in_progress": 0, "restored_from": None, "mode": "EXACTLY_ONCE",
        "interval_ms": 1000,
        "history": [history_entry(1), history_entry(2, "aborted", reason="timed out after 10 ms"),
                    history_entry(3, savepoint=True)],
    }  # fmt: skip
    doc = api.checkpoints(view(plan, m))
    assert doc["counts"] == {"restored": 0, "total": 3, "in_progress": 0, "completed": 2, "failed": 1}
    assert [h["id"] for h in doc["history"]] == [3, 2, 1]
    newest, failed, first = doc["history"]
    assert (newest["checkpoint_type"], newest["status"], newest["external_path"]) == (
        "SAVEPOINT", "COMPLETED", "/ck/chk-3",
    )  # fmt: skip
    assert (first["end_to_end_duration"], first["state_size"]) == (120, 1000)
    assert (first["sync_duration"], first["async_duration"], first["alignment_duration"]) == (1.5, 80.0, 3.0)
    assert first["latest_ack_timestamp"] == first["trigger_timestamp"] + 120
    assert (failed["status"], failed["failure_message"]) == ("FAILED", "timed out after 10 ms")
    assert doc["latest"]["completed"]["id"] == 1 and doc["latest"]["savepoint"]["id"] == 3
    assert doc["latest"]["failed"]["id"] == 2
    assert doc["summary"]["state_size"] == {"min": 1000, "max": 3000, "avg": 2000}
    assert api.checkpoint_config(view(plan, m)) == {"mode": "exactly_once", "interval": 1000}


def test_no_checkpointing_counts_nothing() -> None:
    plan = window_plan()
    _, m = metrics_of(plan)
    doc = api.checkpoints(view(plan, m))
    assert doc["counts"]["total"] == 0 and doc["history"] == [] and doc["latest"]["completed"] is None
    assert api.checkpoint_config(view(plan, m))["mode"] == "none"


def test_exceptions_newest_first_with_the_restart_that_followed() -> None:
    plan = window_plan()
    _, m = metrics_of(plan, "FAILED")
    try:
        raise ValueError("bad row")
    except ValueError as e:
        first = e
    failures = [
        Failure((NOW - 3000) / 1000, first, restart_attempt=1, restart_time=(NOW - 2000) / 1000),
        Failure((NOW - 1000) / 1000, CheckpointError("disk full")),
    ]
    doc = api.exceptions(view(plan, m, "FAILED", failures=failures))
    newest, older = doc["exceptionHistory"]["entries"]
    assert (newest["exceptionName"], newest["timestamp"], newest["restart"]) == (
        "CheckpointError", NOW - 1000, None,
    )  # fmt: skip
    assert older["restart"] == {"attempt": 1, "timestamp": NOW - 2000}
    assert "bad row" in older["stacktrace"] and "Traceback" in older["stacktrace"]
    assert doc["timestamp"] == NOW - 1000 and "disk full" in doc["root-exception"]


def test_savepoint_status_shapes() -> None:
    assert api.savepoint_status(False, None, None)["status"] == {"id": "IN_PROGRESS"}
    done = api.savepoint_status(True, "/sp/savepoint-3", None)
    assert done == {"status": {"id": "COMPLETED"}, "operation": {"location": "/sp/savepoint-3"}}
    failed = api.savepoint_status(True, None, CheckpointError("checkpointing is off"))
    assert failed["operation"]["failure-cause"]["class"] == "CheckpointError"


@pytest.mark.parametrize("status", ["RUNNING", "CANCELED"])
def test_jobs_and_overview(status: str) -> None:
    plan = window_plan()
    _, m = metrics_of(plan, status)
    v = view(plan, m, status)
    assert api.jobs([v]) == {"jobs": [{"id": "j1", "status": status}]}
    ov = api.overview([v], "1.0")
    assert ov["jobs-running"] == (1 if status == "RUNNING" else 0)
    assert ov["jobs-cancelled"] == (1 if status == "CANCELED" else 0)
