"""The dashboard's REST API over HTTP, against running jobs started through the Session API:
Flink's shapes, and the same numbers as ``Job.metrics()``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from runtime.checkpoint.storage import load
from sqlstream.jobs import JobHandle
from tests.e2e.dashboard import INSERT, SOURCE_DDL, call, get, wait_until


@pytest.fixture
def session(tmp_path: Path) -> Iterator[sqlstream.Session]:
    s = sqlstream.connect(config={
        "rest.port": "0",
        "parallelism.default": "2",
        "execution.checkpointing.interval": "300 ms",
        "state.checkpoints.dir": str(tmp_path / "checkpoints"),
    })  # fmt: skip
    s.execute(SOURCE_DDL)
    yield s
    s.close()


def start(session: sqlstream.Session) -> JobHandle:
    handle = session.execute(INSERT).job
    assert handle is not None
    wait_until(
        "two checkpoints and rows through every operator",
        lambda: (
            handle.metrics().get("checkpoints", {}).get("completed", 0) >= 2
            and all(op["rows_in"] or op["kind"] == "source" for op in handle.metrics()["operators"])
        ),
    )
    return handle


def test_the_api_shows_the_running_job_with_its_metrics(session: sqlstream.Session) -> None:
    dashboard = session.dashboard
    assert dashboard is not None and dashboard.url.startswith("http://127.0.0.1:")
    handle = start(session)
    base = dashboard.url

    assert {"id": handle.id, "status": "RUNNING"} in get(base + "jobs")["jobs"]
    (overview,) = get(base + "jobs/overview")["jobs"]
    assert (overview["jid"], overview["name"], overview["state"]) == (handle.id, handle.name, "RUNNING")

    before = handle.metrics()
    doc = get(f"{base}jobs/{handle.id}")
    after = handle.metrics()
    assert (doc["jid"], doc["state"], doc["end-time"]) == (handle.id, "RUNNING", -1)
    assert [v["id"] for v in doc["vertices"]] == [str(op["id"]) for op in after["operators"]]
    for v, op0, op1 in zip(doc["vertices"], before["operators"], after["operators"]):
        assert (v["name"], v["parallelism"]) == (op1["name"], op1["parallelism"])
        assert op0["rows_in"] <= v["metrics"]["read-records"] <= op1["rows_in"]
        assert op0["rows_out"] <= v["metrics"]["write-records"] <= op1["rows_out"]
        assert op0["busy_ms"] <= v["metrics"]["accumulated-busy-time"] <= op1["busy_ms"]
        assert op0["late_rows_dropped"] <= v["sqlstream"]["late_rows_dropped"] <= op1["late_rows_dropped"]
    assert before["rows_read"] <= doc["sqlstream"]["rows_read"] <= after["rows_read"]
    assert doc["sqlstream"]["rows_read"] > 0

    edges = {(i["id"], n["id"]): i["ship_strategy"] for n in doc["plan"]["nodes"] for i in n["inputs"]}
    assert "HASH" in edges.values() and "FORWARD" in edges.values()

    agg = next(v for v in doc["vertices"] if v["sqlstream"]["kind"] == "window_aggregate")
    assert agg["sqlstream"]["watermark_ms"] is not None and agg["sqlstream"]["watermark_lag_ms"] >= 1000
    before = handle.metrics()
    vertex = get(f"{base}jobs/{handle.id}/vertices/{agg['id']}")
    after = handle.metrics()
    assert [s["subtask"] for s in vertex["subtasks"]] == [0, 1]
    subs0 = next(op for op in before["operators"] if str(op["id"]) == agg["id"])["subtasks"]
    subs1 = next(op for op in after["operators"] if str(op["id"]) == agg["id"])["subtasks"]
    for s, s0, s1 in zip(vertex["subtasks"], subs0, subs1):
        assert s0["rows_in"] <= s["metrics"]["read-records"] <= s1["rows_in"]

    before = handle.metrics()["checkpoints"]
    ck = get(f"{base}jobs/{handle.id}/checkpoints")
    after = handle.metrics()["checkpoints"]
    assert before["completed"] <= ck["counts"]["completed"] <= after["completed"]
    newest = ck["history"][0]
    assert newest["id"] in {h["checkpoint_id"] for h in after["history"]}
    assert ck["latest"]["completed"]["status"] == "COMPLETED"
    assert ck["latest"]["completed"]["external_path"]
    assert get(f"{base}jobs/{handle.id}/checkpoints/config") == {"mode": "exactly_once", "interval": 300}
    assert get(f"{base}jobs/{handle.id}/exceptions")["exceptionHistory"]["entries"] == []

    status, missing = call(f"{base}jobs/nosuchjob")
    assert status == 404 and missing["errors"] == ["Job nosuchjob not found"]
    status, _ = call(f"{base}jobs/{handle.id}/vertices/999")
    assert status == 404

    shown = session.execute("SHOW JOBS")
    assert shown.columns[-1] == "dashboard"
    assert shown.rows[0][-1] == f"{base}#/job/{handle.id}"

    assert call(f"{base}jobs/{handle.id}?mode=cancel", "PATCH") == (202, {})  # Flink's cancel
    assert handle.wait(timeout=30) and handle.status == "CANCELED"
    assert get(f"{base}jobs/{handle.id}")["state"] == "CANCELED"


def test_stop_with_savepoint_over_http(session: sqlstream.Session, tmp_path: Path) -> None:
    handle = start(session)
    base = session.dashboard.url if session.dashboard else ""
    status, refused = call(f"{base}jobs/{handle.id}/stop", "POST", {"drain": True})
    assert status == 400 and "drain" in refused["errors"][0]
    assert handle.status == "RUNNING"

    target = tmp_path / "savepoints"
    status, accepted = call(
        f"{base}jobs/{handle.id}/stop", "POST", {"drain": False, "targetDirectory": str(target)}
    )
    assert status == 202
    trigger = accepted["request-id"]
    done = wait_until(
        "the savepoint",
        lambda: (
            (d := get(f"{base}jobs/{handle.id}/savepoints/{trigger}"))["status"]["id"] == "COMPLETED" and d
        ),
    )
    location = Path(done["operation"]["location"])
    assert location.parent == target and location.name.startswith("savepoint-")
    meta, _ = load(location)  # a complete, self-contained savepoint where it was asked
    assert meta.savepoint
    handle.wait(timeout=30)
    assert get(f"{base}jobs/{handle.id}")["state"] == "CANCELED"


def test_exceptions_with_the_restart_that_followed(session: sqlstream.Session) -> None:
    session.execute("""
        SET 'restart-strategy.fixed-delay.attempts' = '1';
        SET 'restart-strategy.fixed-delay.delay' = '100 ms';
        CREATE TABLE names (name STRING) WITH ('connector' = 'datagen', 'rows-per-second' = '100');
        CREATE TABLE nums (n INT) WITH ('connector' = 'blackhole');
    """)
    handle = session.execute("INSERT INTO nums SELECT CAST(name AS INT) FROM names").job
    assert handle is not None
    handle.wait(timeout=60)
    assert handle.status == "FAILED" and len(handle.restarts) == 1
    base = session.dashboard.url if session.dashboard else ""
    doc = get(f"{base}jobs/{handle.id}/exceptions")
    newest, first = doc["exceptionHistory"]["entries"]
    assert first["restart"]["attempt"] == 1 and first["restart"]["timestamp"] >= first["timestamp"]
    assert newest["restart"] is None and newest["timestamp"] >= first["restart"]["timestamp"]
    for entry in (newest, first):
        assert entry["exceptionName"] == "JobFailedError" and "AS INT" in entry["message"]
    assert doc["root-exception"] == newest["stacktrace"]
    job = get(f"{base}jobs/{handle.id}")
    assert job["state"] == "FAILED" and job["end-time"] >= newest["timestamp"] - 1  # the last attempt's end


def test_the_page_and_its_assets_are_served(session: sqlstream.Session) -> None:
    import urllib.request

    base = session.dashboard.url if session.dashboard else ""
    with urllib.request.urlopen(base) as r:
        html = r.read().decode()
        assert r.headers["Content-Type"].startswith("text/html")
    assert '<script src="app.js">' in html and "http" not in html.replace("http-equiv", "")
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        with urllib.request.urlopen(base + name) as r:
            assert r.headers["Content-Type"].startswith(kind) and r.read()
    assert call(base + "..%2Fserver.py")[0] == 404


def test_rest_port_set_reset_and_a_taken_port(tmp_path: Path) -> None:
    with sqlstream.connect() as s:
        assert s.dashboard is None
        result = s.execute("SET 'rest.port' = '0'")
        assert s.dashboard is not None and f"Dashboard at {s.dashboard.url}" in result.message
        first = s.dashboard
        s.execute("SET 'rest.port' = '0'")
        assert s.dashboard is first  # the same server: nothing restarted
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(SqlStreamError, match=f"cannot serve the dashboard on 127.0.0.1:{port}"):
                s.execute(f"SET 'rest.port' = '{port}'")
        assert s.dashboard is first and s.config["rest.port"] == "0"  # as before the SET
        moved = s.execute("SET 'rest.bind-address' = '127.0.0.2'").message
        assert s.dashboard is not first and s.dashboard is not None
        assert s.dashboard.url.startswith("http://127.0.0.2:") and s.dashboard.url in moved
        assert get(s.dashboard.url + "jobs") == {"jobs": []}
        with pytest.raises(OSError):
            call(first.url + "jobs")  # the old address is closed
        first = s.dashboard
        assert "Dashboard stopped." in s.execute("RESET 'rest.port'").message
        assert s.dashboard is None
        with pytest.raises(OSError):
            call(first.url + "jobs")  # nothing listens any more
