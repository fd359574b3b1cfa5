// The sqlstream dashboard: polls the REST API every second (Flink's shapes, see
// sqlstream/web/api.py) and draws the job. No library, nothing fetched from elsewhere.
"use strict";

const POLL_MS = 1000;
const HISTORY = 60;               // samples kept per sparkline (a minute)
const SVG = "http://www.w3.org/2000/svg";
const state = { jobId: null, samples: {}, selected: null, stopping: null, unconfirm: null };

// ---- small helpers -------------------------------------------------------------------
const $ = (sel) => document.querySelector(sel);
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
function fmtRate(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return fmtInt(n);
}
function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : fmtInt(n)) + " " + units[i];
}
function fmtMs(ms) {
  if (ms === null || ms === undefined) return "-";
  if (Math.abs(ms) < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + " ms";
  if (Math.abs(ms) < 120000) return (ms / 1000).toFixed(1) + " s";
  if (Math.abs(ms) < 7200000) return (ms / 60000).toFixed(1) + " min";
  return (ms / 3600000).toFixed(1) + " h";
}
const fmtTime = (ms) => (ms === null || ms === undefined || ms < 0) ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 23);
const pct = (r) => Math.round(Math.max(0, Math.min(1, r)) * 100) + "%";
function num(value, text) {   // a number cell: the raw value in data-value, for tests and tools
  return el("td", { class: "num", "data-value": String(value) }, text);
}
async function getJson(path, options) {
  const r = await fetch(path, options);
  const doc = await r.json();
  if (!r.ok) throw new Error((doc.errors || [r.statusText]).join("; "));
  return doc;
}

// ---- rates from successive samples ----------------------------------------------------
function sample(job) {
  // rows in/out per second and busy ratio per vertex, from the change since the last poll
  const prev = state.samples[job.jid];
  const now = job.now;
  const byId = {};
  for (const v of job.vertices) {
    const m = v.metrics;
    const old = prev && prev.byId[v.id];
    const secs = old ? (now - prev.now) / 1000 : 0;
    let inRate, outRate, busy;
    if (old && secs > 0) {
      inRate = (m["read-records"] - old.read) / secs;
      outRate = (m["write-records"] - old.write) / secs;
      busy = (m["accumulated-busy-time"] - old.busyMs) / (secs * 1000 * v.parallelism);
    } else {   // first sample: the averages since the job started
      inRate = v.sqlstream.rows_in_per_s;
      outRate = v.sqlstream.rows_out_per_s;
      busy = job.duration > 0 ? m["accumulated-busy-time"] / (job.duration * v.parallelism) : 0;
    }
    const series = old ? old.series : { in: [], out: [] };
    if (job.state === "RUNNING" || !old) {
      series.in = series.in.concat([Math.max(inRate, 0)]).slice(-HISTORY);
      series.out = series.out.concat([Math.max(outRate, 0)]).slice(-HISTORY);
    }
    byId[v.id] = {
      read: m["read-records"], write: m["write-records"], busyMs: m["accumulated-busy-time"],
      inRate: Math.max(inRate, 0), outRate: Math.max(outRate, 0),
      busy: Math.max(0, Math.min(1, busy)), series,
    };
  }
  state.samples[job.jid] = { now, byId };
  return byId;
}

function sparkline(values) {
  const w = 90, h = 22;
  const s = svg("svg", { class: "spark", width: w, height: h, viewBox: `0 0 ${w} ${h}` });
  const max = Math.max(1, ...values);
  const step = w / Math.max(HISTORY - 1, 1);
  const start = w - step * (values.length - 1);
  const pts = values.map((v, i) => `${(start + i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`);
  s.append(svg("polyline", { points: pts.join(" ") }));
  return s;
}

// ---- the job graph ---------------------------------------------------------------------
function layout(nodes) {
  // columns by longest path from a source, rows in plan order within a column
  const depth = {};
  for (const n of nodes) {
    depth[n.id] = Math.max(0, ...n.inputs.map((i) => (depth[i.id] ?? 0) + 1));
  }
  const rows = {};
  const pos = {};
  for (const n of nodes) {
    const d = depth[n.id];
    rows[d] = (rows[d] ?? -1) + 1;
    pos[n.id] = { col: d, row: rows[d] };
  }
  return pos;
}

function busyColour(r) {   // light blue (idle) to red (always busy), like Flink's graph
  const hue = 210 - 210 * r;
  return `hsl(${hue}, ${60 + 15 * r}%, ${92 - 30 * r}%)`;
}

function drawGraph(job, rates) {
  const g = $("#graph");
  const nodes = job.plan.nodes;
  const pos = layout(nodes);
  const W = 190, H = 78, GX = 90, GY = 28, PAD = 10;
  const cols = Math.max(...Object.values(pos).map((p) => p.col)) + 1;
  const rowsN = Math.max(...Object.values(pos).map((p) => p.row)) + 1;
  const width = PAD * 2 + cols * W + (cols - 1) * GX;
  const height = PAD * 2 + rowsN * H + (rowsN - 1) * GY;
  g.setAttribute("viewBox", `0 0 ${width} ${height}`);
  g.style.maxWidth = width + "px";
  g.style.height = height + "px";
  g.replaceChildren();
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#7a8296" }));
  defs.append(marker);
  g.append(defs);
  const xy = (id) => ({ x: PAD + pos[id].col * (W + GX), y: PAD + pos[id].row * (H + GY) });
  const vertices = Object.fromEntries(job.vertices.map((v) => [v.id, v]));
  for (const n of nodes) {
    for (const input of n.inputs) {
      const a = xy(input.id), b = xy(n.id);
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      const mx = (x1 + x2) / 2;
      const edge = svg("g", { class: "edge", "data-from": input.id, "data-to": n.id, "data-ship-strategy": input.ship_strategy });
      edge.append(svg("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)" }));
      const label = input.ship_strategy + (input.keys && input.keys.length ? `[${input.keys.join(", ")}]` : "");
      edge.append(svg("text", { x: mx, y: (y1 + y2) / 2 - 5, "text-anchor": "middle" }, label));
      g.append(edge);
    }
  }
  for (const n of nodes) {
    const v = vertices[n.id];
    const r = rates[n.id];
    const bp = v.sqlstream.backpressure;
    const { x, y } = xy(n.id);
    const box = svg("g", {
      class: "vertex" + (state.selected === n.id ? " selected" : ""),
      "data-vertex-id": n.id, "data-parallelism": n.parallelism,
      "data-busy": r.busy.toFixed(3), "data-backpressure": bp.toFixed(3),
    });
    box.append(svg("title", {}, n.description));
    box.append(svg("rect", { class: "box", x, y, width: W, height: H, rx: 6, fill: busyColour(r.busy) }));
    const name = v.name.length > 26 ? v.name.slice(0, 25) + "\u2026" : v.name;
    box.append(svg("text", { class: "name", x: x + 8, y: y + 17 }, name));
    box.append(svg("text", { class: "parallelism", x: x + 8, y: y + 33 }, `parallelism ${n.parallelism}`));
    box.append(svg("text", { x: x + 8, y: y + 49 }, `${fmtRate(r.outRate)} rows/s out \u00b7 busy ${pct(r.busy)}`));
    box.append(svg("rect", { class: "bp-back", x: x + 8, y: y + 58, width: W - 16, height: 8, rx: 2 }));
    box.append(svg("rect", { class: "bp", x: x + 8, y: y + 58, width: (W - 16) * Math.min(bp, 1), height: 8, rx: 2,
      fill: bp > 0.5 ? "#1d2330" : bp > 0.1 ? "#7a8296" : "#b8bfcc" }));
    box.append(svg("text", { x: x + W - 8, y: y + H - 2, "text-anchor": "end", "font-size": 10 }, `back-pressure ${pct(bp)}`));
    box.addEventListener("click", () => { state.selected = state.selected === n.id ? null : n.id; poll(); });
    g.append(box);
  }
}

// ---- tables ----------------------------------------------------------------------------
function figure(label, value, id) {
  return el("div", { class: "figure", "data-figure": id }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
}

function drawSummary(job) {
  const x = job.sqlstream;
  $("#summary").replaceChildren(
    figure("rows read", fmtInt(x.rows_read), "rows-read"),
    figure("rows written", fmtInt(x.rows_written), "rows-written"),
    figure("rows/s since start", fmtRate(x.rows_per_second), "rows-per-second"),
    figure("late rows dropped", fmtInt(x.late_rows_dropped), "late-rows"),
    figure(job.state === "RUNNING" ? "running for" : "ran for", fmtMs(job.duration), "duration"),
    figure("started", fmtTime(job["start-time"]), "started"),
  );
}

function drawOperators(job, rates) {
  const body = $("#operators tbody");
  body.replaceChildren(...job.vertices.map((v) => {
    const r = rates[v.id], x = v.sqlstream;
    const tr = el("tr", { "data-vertex-id": v.id, class: state.selected === v.id ? "selected" : "" },
      el("td", {}, v.name),
      num(v.parallelism, v.parallelism),
      el("td", { class: "num", "data-metric": "rows-in-per-s", "data-value": r.inRate.toFixed(1) }, sparkline(r.series.in), fmtRate(r.inRate)),
      el("td", { class: "num", "data-metric": "rows-out-per-s", "data-value": r.outRate.toFixed(1) }, sparkline(r.series.out), fmtRate(r.outRate)),
      num(r.busy.toFixed(3), pct(r.busy)),
      num(x.backpressure.toFixed(3), pct(x.backpressure)),
      el("td", { "data-metric": "watermark", "data-value": String(x.watermark_ms) }, x.watermark_ms === null ? "-" : fmtTime(x.watermark_ms)),
      el("td", { class: "num", "data-metric": "watermark-lag", "data-value": String(x.watermark_lag_ms) }, fmtMs(x.watermark_lag_ms)),
      el("td", { class: "num", "data-metric": "late-rows", "data-value": x.late_rows_dropped }, fmtInt(x.late_rows_dropped)),
      el("td", { class: "num", "data-metric": "state-rows", "data-value": x.state_rows }, fmtInt(x.state_rows)),
      el("td", { class: "num", "data-metric": "state-bytes", "data-value": x.state_bytes }, fmtBytes(x.state_bytes)),
    );
    tr.querySelectorAll("td")[0].setAttribute("data-metric", "name");
    tr.querySelectorAll("td")[0].title = v.name;
    tr.addEventListener("click", () => { state.selected = state.selected === v.id ? null : v.id; poll(); });
    return tr;
  }));
}

async function drawVertex(job) {
  const card = $("#vertex");
  if (!state.selected) { card.hidden = true; return; }
  const v = await getJson(`jobs/${job.jid}/vertices/${state.selected}`);
  card.hidden = false;
  $("#vertex-name").textContent = `${v.name}: ${v.parallelism} subtask${v.parallelism > 1 ? "s" : ""}`;
  $("#subtasks tbody").replaceChildren(...v.subtasks.map((s) => el("tr", { "data-subtask": s.subtask },
    num(s.subtask, s.subtask),
    num(s.metrics["read-records"], fmtInt(s.metrics["read-records"])),
    num(s.metrics["write-records"], fmtInt(s.metrics["write-records"])),
    num(s.metrics["accumulated-busy-time"], fmtMs(s.metrics["accumulated-busy-time"])),
    num(s.sqlstream.input_fill, pct(s.sqlstream.input_fill)),
    el("td", {}, s.sqlstream.watermark_ms === null ? "-" : fmtTime(s.sqlstream.watermark_ms)),
    num(s.sqlstream.late_rows_dropped, fmtInt(s.sqlstream.late_rows_dropped)),
    num(s.sqlstream.state_rows, fmtInt(s.sqlstream.state_rows)),
    num(s.sqlstream.state_bytes, fmtBytes(s.sqlstream.state_bytes)),
  )));
}

function drawCheckpoints(ck, config) {
  const c = ck.counts;
  const mode = config.mode === "none" ? "checkpointing is off" : `${config.mode.replace("_", "-")}, every ${fmtMs(config.interval)}`;
  $("#checkpoint-counts").replaceChildren(
    figure("completed", fmtInt(c.completed), "checkpoints-completed"),
    figure("failed", fmtInt(c.failed), "checkpoints-failed"),
    figure("in progress", fmtInt(c.in_progress), "checkpoints-in-progress"),
    figure("restored", c.restored ? "yes" : "no", "checkpoints-restored"),
    figure("mode", mode, "checkpoints-mode"),
  );
  $("#checkpoints tbody").replaceChildren(...ck.history.map((h) => el("tr", { "data-checkpoint-id": h.id, "data-status": h.status },
    num(h.id, h.id),
    el("td", {}, h.checkpoint_type.toLowerCase()),
    el("td", {}, h.status.toLowerCase()),
    el("td", {}, fmtTime(h.trigger_timestamp)),
    num(h.end_to_end_duration, fmtMs(h.end_to_end_duration)),
    num(h.state_size, fmtBytes(h.state_size)),
    num(h.alignment_duration, fmtMs(h.alignment_duration)),
    num(h.sync_duration, fmtMs(h.sync_duration)),
    num(h.async_duration, fmtMs(h.async_duration)),
    el("td", { class: "wrap" }, h.failure_message || (h.is_savepoint ? h.external_path || "" : "")),
  )));
}

function drawExceptions(ex) {
  const entries = ex.exceptionHistory.entries;
  const body = $("#exceptions tbody");
  if (!entries.length) {
    body.replaceChildren(el("tr", {}, el("td", { colSpan: 3, class: "muted" }, "No exceptions.")));
    return;
  }
  body.replaceChildren(...entries.map((e) => el("tr", { "data-exception": e.exceptionName },
    el("td", {}, fmtTime(e.timestamp)),
    el("td", { class: "wrap" }, el("details", {}, el("summary", {}, `${e.exceptionName}: ${e.message}`), el("pre", {}, e.stacktrace))),
    el("td", {}, e.restart ? `restart ${e.restart.attempt} at ${fmtTime(e.restart.timestamp)}` : "the job failed"),
  )));
}

// ---- stop with savepoint ---------------------------------------------------------------
const stopButton = $("#stop");
stopButton.addEventListener("click", async () => {
  // two clicks: the first asks, the second stops (no modal dialog to get in the way)
  if (!stopButton.classList.contains("confirm")) {
    stopButton.classList.add("confirm");
    stopButton.textContent = "Click again to stop";
    state.unconfirm = setTimeout(() => {
      stopButton.classList.remove("confirm");
      stopButton.textContent = "Stop with savepoint";
    }, 5000);
    return;
  }
  clearTimeout(state.unconfirm);
  stopButton.classList.remove("confirm");
  stopButton.disabled = true;
  stopButton.textContent = "Stopping\u2026";
  const jid = state.jobId;
  const result = $("#stop-result");
  try {
    const { "request-id": trigger } = await getJson(`jobs/${jid}/stop`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ drain: false }),
    });
    state.stopping = trigger;
    for (;;) {
      const s = await getJson(`jobs/${jid}/savepoints/${trigger}`);
      if (s.status.id === "COMPLETED") {
        const op = s.operation;
        if (op["failure-cause"]) throw new Error(op["failure-cause"]["stack-trace"].split("\n").pop());
        result.textContent = "Savepoint: " + op.location;
        result.setAttribute("data-savepoint", op.location);
        $("#job-state").textContent = "CANCELED";   // the stop is done: the job has ended
        $("#job-state").className = "state CANCELED";
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    stopButton.textContent = "Stopped";
  } catch (e) {
    result.textContent = "Stop failed: " + e.message;
    result.setAttribute("data-error", e.message);
    state.stopping = null;
    stopButton.disabled = false;
    stopButton.textContent = "Stop with savepoint";
  }
});

// ---- the loop --------------------------------------------------------------------------
function route() {
  const m = location.hash.match(/^#\/job\/([^/?]+)/);
  return m ? m[1] : null;
}

async function poll() {
  const err = $("#error");
  try {
    const overview = await getJson("jobs/overview");
    const list = overview.jobs.sort((a, b) => b["start-time"] - a["start-time"]);
    let jid = route();
    if (!jid && list.length) jid = list[0].jid;
    state.jobId = jid;
    $("#jobs").replaceChildren(...list.map((j) => el("a",
      { href: `#/job/${j.jid}`, class: j.jid === jid ? "current" : "", "data-job-id": j.jid }, `${j.name} (${j.state.toLowerCase()})`)));
    $("#clock").textContent = new Date().toLocaleTimeString();
    $("#empty").hidden = !!jid;
    $("#job").hidden = !jid;
    if (!jid) { err.hidden = true; return; }
    const [job, ck, ckConfig, ex] = await Promise.all([
      getJson(`jobs/${jid}`), getJson(`jobs/${jid}/checkpoints`),
      getJson(`jobs/${jid}/checkpoints/config`), getJson(`jobs/${jid}/exceptions`),
    ]);
    const rates = sample(job);
    $("#job-name").textContent = job.name;
    $("#job-id").textContent = job.jid;
    const st = $("#job-state");
    st.textContent = job.state;
    st.className = "state " + job.state;
    if (!state.stopping) {
      stopButton.disabled = job.state !== "RUNNING" || !job.sqlstream.checkpointing;
      stopButton.title = job.sqlstream.checkpointing ? stopButton.title
        : "needs checkpointing: SET 'execution.checkpointing.interval' before starting the job";
    }
    drawSummary(job);
    drawGraph(job, rates);
    drawOperators(job, rates);
    drawCheckpoints(ck, ckConfig);
    drawExceptions(ex);
    await drawVertex(job);
    document.body.setAttribute("data-polls", String(Number(document.body.getAttribute("data-polls") || 0) + 1));
    err.hidden = true;
  } catch (e) {
    err.hidden = false;
    err.textContent = "Cannot reach the job: " + e.message;
  }
}

window.addEventListener("hashchange", () => { state.selected = null; poll(); });
poll();
setInterval(poll, POLL_MS);
