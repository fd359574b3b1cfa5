"""The dashboard's HTTP server: Flink's REST API (``sqlstream/web/api.py``) and the page
(``sqlstream/web/static/``), served from the process that runs the jobs.

The standard library's ``ThreadingHTTPServer`` on a daemon thread is enough: a request
reads ``JobHandle.metrics()`` (a snapshot of plain counters the subtasks bump, read
without a lock, as ``SHOW JOBS`` does) and never touches the jobs' event loop, except a
stop, which goes through the handle like ``STOP JOB``. So a page polling every second
costs the job a few dict copies on another thread, and no new dependency.

    dashboard = Dashboard(session.jobs.all, host="127.0.0.1", port=8081)
    dashboard.start()         # binds now: a taken port is an error here, not later
    dashboard.url             # 'http://127.0.0.1:8081/'
    dashboard.close()
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from catalog.errors import SqlStreamError
from planner.physical import PhysicalPlan
from sqlstream.jobs import Failure
from sqlstream.web import api

log = logging.getLogger(__name__)

REPORT_WAIT_S = 5.0
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


class ServedJob(Protocol):
    """What the dashboard reads of a job (``sqlstream.jobs.JobHandle`` is one)."""

    id: str
    name: str
    plan: PhysicalPlan
    started: float
    attempt_started: float

    @property
    def status(self) -> str: ...

    def metrics(self) -> dict[str, Any]: ...

    def exceptions(self) -> list[Failure]: ...

    def cancel(self) -> None: ...

    def trigger_stop_with_savepoint(self) -> Future[str]: ...


def view_of(job: ServedJob) -> api.JobView:
    """A snapshot of one job for the API's pure functions."""
    return api.JobView(
        job.id, job.name, job.plan, int(job.started * 1000), job.status, job.metrics(), job.exceptions(),
        int(job.attempt_started * 1000),
    )  # fmt: skip


@dataclass
class _Trigger:
    """A stop-with-savepoint in progress or done, as ``/savepoints/:triggerid`` reports it."""

    job_id: str
    done: threading.Event
    location: str | None = None
    error: BaseException | None = None
    reported: threading.Event = field(default_factory=threading.Event)  # its result was fetched


def _relocate(path: str, target: str) -> str:
    """Move a finished savepoint into ``targetDirectory`` (a savepoint is self-contained:
    its files are named relative to its own folder)."""
    dest = Path(target).expanduser() / Path(path).name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, dest)
    return str(dest)


class Dashboard:
    def __init__(
        self, jobs: Callable[[], Sequence[ServedJob]], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.jobs = jobs
        self.host = host
        self.requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._triggers: dict[str, _Trigger] = {}

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        try:
            server = ThreadingHTTPServer((self.host, self.requested_port), _handler(self))
        except OSError as e:
            raise SqlStreamError(
                f"cannot serve the dashboard on {self.host}:{self.requested_port}: {e.strerror or e}",
                hint="SET 'rest.port' to another port, or '0' for any free one",
            ) from e
        server.daemon_threads = False  # close() lets a request being answered finish
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="sqlstream-web", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        if self._server is None:
            return self.requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def job_url(self, job_id: str) -> str:
        return f"{self.url}#/job/{job_id}"

    def close(self) -> None:
        """Stop serving; a stop-with-savepoint that finished is first reported to the page
        that asked for it (stopping the last job of ``sqlstream run`` ends the process)."""
        deadline = time.monotonic() + REPORT_WAIT_S
        for trigger in list(self._triggers.values()):
            if trigger.done.wait(max(deadline - time.monotonic(), 0)):
                trigger.reported.wait(max(deadline - time.monotonic(), 0))
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ---- requests ---------------------------------------------------------------------
    def find(self, job_id: str) -> ServedJob | None:
        for job in self.jobs():
            if job.id == job_id:
                return job
        return None

    def get(self, path: str) -> tuple[int, Any]:
        """A GET of the REST API: (status, JSON document)."""
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["v1"]:
            parts = parts[1:]
        now = int(time.time() * 1000)
        if parts == ["config"]:
            version = f"sqlstream {_version()}"
            return 200, {"refresh-interval": 1000, "timezone-name": time.strftime("%Z"),
                         "flink-version": version, "features": {"web-submit": False}}  # fmt: skip
        if parts == ["overview"]:
            return 200, api.overview([view_of(j) for j in self.jobs()], _version())
        if parts == ["jobs"]:
            return 200, api.jobs([view_of(j) for j in self.jobs()])
        if parts == ["jobs", "overview"]:
            return 200, api.jobs_overview([view_of(j) for j in self.jobs()], now)
        if len(parts) < 2 or parts[0] != "jobs":
            return 404, api.error(f"Not found: /{'/'.join(parts)}")
        job = self.find(parts[1])
        if job is None:
            return 404, api.error(f"Job {parts[1]} not found")
        view = view_of(job)
        rest = parts[2:]
        if not rest:
            return 200, api.job_details(view, now)
        if rest == ["plan"]:
            return 200, api.job_plan(view)
        if rest == ["checkpoints"]:
            return 200, api.checkpoints(view)
        if rest == ["checkpoints", "config"]:
            return 200, api.checkpoint_config(view)
        if rest == ["exceptions"]:
            return 200, api.exceptions(view)
        if len(rest) == 2 and rest[0] == "savepoints":
            trigger = self._triggers.get(rest[1])
            if trigger is None or trigger.job_id != job.id:
                return 404, api.error(f"No savepoint operation {rest[1]} for job {job.id}")
            done = trigger.done.is_set()
            doc = api.savepoint_status(done, trigger.location, trigger.error)
            if done:
                trigger.reported.set()
            return 200, doc
        if len(rest) >= 2 and rest[0] == "vertices":
            node = api.find_node(view, rest[1])
            if node is None:
                return 404, api.error(f"Vertex {rest[1]} not found in job {job.id}")
            if len(rest) == 2:
                return 200, api.vertex_details(view, node, now)
            if rest[2:] == ["backpressure"]:
                return 200, api.vertex_backpressure(view, node, now)
            if rest[2:] == ["watermarks"]:
                return 200, api.vertex_watermarks(view, node)
        return 404, api.error(f"Not found: /{'/'.join(parts)}")

    def stop(self, job_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        """``POST /jobs/:jid/stop``: stop-with-savepoint, answered with a trigger id."""
        job = self.find(job_id)
        if job is None:
            return 404, api.error(f"Job {job_id} not found")
        if body.get("drain"):
            return 400, api.error(
                "stop with drain is not supported: a savepoint is taken without first ending event time"
            )
        target = body.get("targetDirectory")
        if target is not None and not isinstance(target, str):
            return 400, api.error("targetDirectory must be a string")
        trigger_id = uuid.uuid4().hex
        trigger = _Trigger(job.id, threading.Event())
        self._triggers[trigger_id] = trigger
        future = job.trigger_stop_with_savepoint()
        threading.Thread(
            target=self._finish_stop, args=(trigger, future, target), name="sqlstream-web-stop", daemon=True
        ).start()
        return 202, {"request-id": trigger_id}

    def _finish_stop(self, trigger: _Trigger, future: Future[str], target: str | None) -> None:
        try:
            path = future.result()
            trigger.location = _relocate(path, target) if target else path
        except BaseException as e:  # reported by /savepoints/:triggerid
            trigger.error = e
        finally:
            trigger.done.set()

    def cancel(self, job_id: str) -> tuple[int, Any]:
        """``PATCH /jobs/:jid?mode=cancel``."""
        job = self.find(job_id)
        if job is None:
            return 404, api.error(f"Job {job_id} not found")
        job.cancel()
        return 202, {}


def _version() -> str:
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        return version("sqlstream")
    return "dev"


def _static(name: str) -> bytes | None:
    """A file of the page, by its bare name (never a path: nothing outside the folder)."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    item = resources.files("sqlstream.web").joinpath("static", name)
    if not item.is_file():
        return None
    return item.read_bytes()


def _handler(dashboard: Dashboard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "sqlstream-dashboard"
        timeout = 10  # a client that stops reading does not hold close() up for long

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, doc: Any) -> None:
            self._send(status, json.dumps(doc).encode(), "application/json; charset=utf-8")

        def _guard(self, call: Callable[[], tuple[int, Any]]) -> None:
            try:
                status, doc = call()
            except Exception as e:  # a bad request must not take the server down
                log.exception("dashboard request %s failed", self.path)
                status, doc = 500, api.error(f"{type(e).__name__}: {e}")
            self._json(status, doc)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path in ("/", "/index.html") or (path.count("/") == 1 and "." in path):
                body = _static(path.lstrip("/") or "index.html")
                if body is None:
                    self._json(404, api.error(f"Not found: {path}"))
                else:
                    self._send(
                        200, body, STATIC_TYPES.get(Path(path).suffix or ".html", "application/octet-stream")
                    )
                return
            self._guard(lambda: dashboard.get(path))

        do_HEAD = do_GET

        def do_POST(self) -> None:
            parts = [p for p in urlsplit(self.path).path.split("/") if p]
            if parts[:1] == ["v1"]:
                parts = parts[1:]
            if len(parts) != 3 or parts[0] != "jobs" or parts[2] != "stop":
                self._json(404, api.error(f"Not found: POST {self.path}"))
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            except json.JSONDecodeError as e:
                self._json(400, api.error(f"the request body is not JSON: {e}"))
                return
            if not isinstance(body, dict):
                self._json(400, api.error("the request body must be a JSON object"))
                return
            self._guard(lambda: dashboard.stop(parts[1], body))

        def do_PATCH(self) -> None:
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            if parts[:1] == ["v1"]:
                parts = parts[1:]
            if len(parts) != 2 or parts[0] != "jobs" or "mode=stop" in url.query:
                self._json(404, api.error(f"Not found: PATCH {self.path}"))
                return
            self._guard(lambda: dashboard.cancel(parts[1]))

    return Handler


__all__ = ["Dashboard", "ServedJob", "view_of"]
