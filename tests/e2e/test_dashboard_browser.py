"""The dashboard page in a real browser (headless Chromium from Debian's packages) while
``sqlstream run --web 0`` runs an unbounded datagen -> window -> blackhole job: the graph
and the numbers in the DOM, a screenshot kept under ``.cache/artifacts/``, and a stop with
a savepoint from the page's own button."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtime.checkpoint.storage import load
from tests.e2e.chromium import ROOT, Browser
from tests.e2e.dashboard import INSERT, SOURCE_DDL, get, wait_until

BINARY = Path(sys.executable).parent / "sqlstream"
ARTIFACTS = ROOT / ".cache" / "artifacts"


@dataclass
class Running:
    proc: subprocess.Popen[str]
    url: str
    job_id: str
    checkpoints: Path
    log: Path

    def stderr(self) -> str:
        return self.log.read_text()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    assert BINARY.exists(), f"{BINARY} is missing: install the project into the venv (pip install -e .)"
    script = tmp_path / "job.sql"
    checkpoints = tmp_path / "checkpoints"
    script.write_text(
        "SET 'parallelism.default' = '2';\n"
        "SET 'execution.checkpointing.interval' = '500 ms';\n"
        f"SET 'state.checkpoints.dir' = '{checkpoints}';\n"
        "SET 'pipeline.name' = 'dashboard-demo';\n" + SOURCE_DDL + INSERT + ";\n"
    )
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen([str(BINARY), "run", "--fresh", "--web", "0", str(script)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=err, text=True)  # fmt: skip
    try:
        said = wait_until("the dashboard's address and the job id on stderr", lambda: (
            re.search(r"\[INFO\] Dashboard at (http://127\.0\.0\.1:\d+/)", log.read_text()),
            re.search(r"Job '(\w+)' submitted", log.read_text()),
        ) if "submitted" in log.read_text() or proc.poll() is not None else None)  # fmt: skip
        assert said[0] and said[1], log.read_text()
        run = Running(proc, said[0].group(1), said[1].group(1), checkpoints, log)
        wait_until("a checkpoint and rows through every operator", lambda: _warm(run))
        yield run
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def _warm(run: Running) -> bool:
    job = get(f"{run.url}jobs/{run.job_id}")
    ck = get(f"{run.url}jobs/{run.job_id}/checkpoints")
    return ck["counts"]["completed"] >= 1 and all(
        v["metrics"]["read-records"] > 0 for v in job["vertices"] if v["sqlstream"]["kind"] != "source"
    )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


DOM_FACTS = """(() => {
  const cells = (tr) => Object.fromEntries([...tr.querySelectorAll("td[data-metric]")]
      .map((td) => [td.dataset.metric, td.dataset.metric === "name" ? td.textContent : td.dataset.value]));
  return {
    vertices: [...document.querySelectorAll("#graph g.vertex")].map((g) => ({
      id: g.dataset.vertexId, parallelism: g.dataset.parallelism, text: g.textContent,
      busy: Number(g.dataset.busy), backpressure: Number(g.dataset.backpressure),
      fill: g.querySelector("rect.box").getAttribute("fill")})),
    edges: [...document.querySelectorAll("#graph g.edge")].map((e) => ({
      from: e.dataset.from, to: e.dataset.to, label: e.textContent})),
    operators: [...document.querySelectorAll("#operators tbody tr")].map((tr) => ({
      id: tr.dataset.vertexId, sparklines: tr.querySelectorAll("svg.spark polyline").length, ...cells(tr)})),
    rowsRead: document.querySelector('[data-figure="rows-read"] .value').textContent,
    checkpoints: [...document.querySelectorAll("#checkpoints tbody tr")].map((tr) => ({
      id: Number(tr.dataset.checkpointId), status: tr.dataset.status})),
    exceptions: document.querySelector("#exceptions tbody").textContent,
    state: document.querySelector("#job-state").textContent,
    stopEnabled: !document.querySelector("#stop").disabled,
  };
})()"""


def _polls(browser: Browser) -> int:
    return int(browser.js("Number(document.body.dataset.polls || 0)"))


def test_the_page_shows_the_running_job(running: Running, browser: Browser) -> None:
    browser.goto(f"{running.url}#/job/{running.job_id}")
    browser.wait_for("three polls of the API", "Number(document.body.dataset.polls || 0) >= 3")
    before = get(f"{running.url}jobs/{running.job_id}")
    seen = _polls(browser)
    browser.wait_for("a poll after the API snapshot", f"Number(document.body.dataset.polls) > {seen}")
    facts: dict[str, Any] = browser.js(DOM_FACTS)
    after = get(f"{running.url}jobs/{running.job_id}")
    checkpoints = get(f"{running.url}jobs/{running.job_id}/checkpoints")
    shot = browser.screenshot(ARTIFACTS / "dashboard-running.png")

    assert facts["state"] == "RUNNING" and facts["stopEnabled"]
    vertices = after["vertices"]
    # the graph: one box per operator with its parallelism, one arrow per edge with its partitioning
    assert [v["id"] for v in facts["vertices"]] == [v["id"] for v in vertices]
    for box, v in zip(facts["vertices"], vertices):
        assert box["parallelism"] == "2" and "parallelism 2" in box["text"]
        assert v["name"][:20] in box["text"]
        assert 0 <= box["busy"] <= 1 and 0 <= box["backpressure"] <= 1 and box["fill"].startswith("hsl(")
    plan_edges = {(i["id"], n["id"], i["ship_strategy"]) for n in after["plan"]["nodes"] for i in n["inputs"]}
    assert {(e["from"], e["to"], e["label"].split("[")[0]) for e in facts["edges"]} == plan_edges
    assert any(e["label"] == "HASH[k]" for e in facts["edges"])

    # the numbers: what the API said around the page's last poll
    read = int(facts["rowsRead"].replace(",", ""))
    assert before["sqlstream"]["rows_read"] <= read <= after["sqlstream"]["rows_read"]
    rows = {r["id"]: r for r in facts["operators"]}
    for v1 in vertices:
        row = rows[v1["id"]]
        assert row["name"] == v1["name"] and row["sparklines"] == 2
        assert float(row["rows-out-per-s"]) >= 0 and float(row["rows-in-per-s"]) >= 0
        if v1["sqlstream"]["kind"] != "window_aggregate":  # only the aggregate keeps rows
            assert int(row["state-rows"]) == int(row["state-bytes"]) == 0
        assert int(row["late-rows"]) == v1["sqlstream"]["late_rows_dropped"] == 0  # watermark 1 s behind
    agg = next(v for v in vertices if v["sqlstream"]["kind"] == "window_aggregate")
    agg0 = next(v for v in before["vertices"] if v["id"] == agg["id"])
    assert float(rows[agg["id"]]["rows-in-per-s"]) > 0
    assert int(rows[agg["id"]]["state-rows"]) > 0 and int(rows[agg["id"]]["state-bytes"]) > 0  # open windows
    assert (
        agg0["sqlstream"]["watermark_ms"]
        <= int(rows[agg["id"]]["watermark"])
        <= agg["sqlstream"]["watermark_ms"]
    )
    assert float(rows[agg["id"]]["watermark-lag"]) >= 1000
    source = next(v for v in vertices if v["sqlstream"]["kind"] == "source")
    assert float(rows[source["id"]]["rows-out-per-s"]) > 0
    # checkpoints and exceptions
    api_ids = {h["id"] for h in checkpoints["history"]}
    assert facts["checkpoints"] and {c["id"] for c in facts["checkpoints"]} <= api_ids | {min(api_ids) - 1}
    assert all(c["status"] == "COMPLETED" for c in facts["checkpoints"])
    assert "No exceptions." in facts["exceptions"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    # a click on an operator's box lists its subtasks
    browser.js(f"document.querySelector('#graph g.vertex[data-vertex-id=\"{agg['id']}\"]')"
               ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")  # fmt: skip
    subtasks = browser.wait_for(
        "the operator's subtasks",
        "!document.querySelector('#vertex').hidden && "
        "[...document.querySelectorAll('#subtasks tbody tr')].map((tr) => tr.dataset.subtask)",
    )
    assert subtasks == ["0", "1"]
    assert browser.js("document.querySelector('#vertex-name').textContent").startswith(agg["name"])


def test_the_stop_button_stops_the_job_with_a_savepoint(running: Running, browser: Browser) -> None:
    browser.goto(f"{running.url}#/job/{running.job_id}")
    browser.wait_for(
        "the stop button enabled after a poll",
        "Number(document.body.dataset.polls) >= 1 && !document.querySelector('#stop').disabled",
    )
    browser.js("document.querySelector('#stop').click()")  # asks first ...
    assert browser.js("document.querySelector('#stop').textContent") == "Click again to stop"
    assert running.proc.poll() is None
    browser.js("document.querySelector('#stop').click()")  # ... then stops
    said = browser.wait_for(
        "the savepoint's path or an error",
        "(r => r.dataset.savepoint || "
        "(r.dataset.error && 'error: ' + r.dataset.error))(document.querySelector('#stop-result'))",
    )
    assert not said.startswith("error: "), said
    location = said
    browser.screenshot(ARTIFACTS / "dashboard-stopped.png")
    assert running.proc.wait(timeout=60) == 0, running.stderr()
    path = Path(location)
    assert path.parent == running.checkpoints / "dashboard-demo" and path.name.startswith("savepoint-")
    meta, _ = load(path)
    assert meta.savepoint
    err = running.stderr()
    assert f"Job '{running.job_id}' (dashboard-demo) stopped" in err
    assert browser.js("document.querySelector('#stop').textContent") == "Stopped"
