"""Jobs seen from the front door: started on a background event loop, watched and
stopped from the caller's thread.

The runtime is asyncio-based; the Session, CLI and REPL are not. One daemon thread per
session runs the event loop that hosts every job, so the user keeps typing while jobs
run, and handles here turn the runtime's coroutines into plain blocking calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from catalog.config import LOCAL_TIME_ZONE
from catalog.errors import SqlStreamError
from planner.physical import ROW_KIND_COLUMN, PhysicalPlan, SinkSpec
from runtime.job import Job
from runtime.launch import create_job
from runtime.restart import RestartStrategy, run_with_restarts
from sqlstream.far_dates import batch_rows
from sqlstream.prometheus import MetricsServer
from sqlstream.render import Float32, Multiset

_END = object()
RESULT_BUFFER = 64  # result batches a query holds for its reader before it holds the job back


@dataclass(frozen=True)
class Failure:
    """A job's failure (wall-clock seconds), and the restart attempt that followed it."""

    time: float
    error: BaseException
    restart_attempt: int | None = None
    restart_time: float | None = None


class JobManager:
    """Owns the event loop thread and every job of a session."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._jobs: dict[str, JobHandle] = {}
        # The queries still running, held (not weakly) so that shutdown finds one whose
        # caller let go of its handle; a query leaves when its pump ends, so a long REPL
        # session keeps only those that run.
        self._queries: set[QueryHandle] = set()
        self._lock = threading.Lock()
        self.metrics_server: MetricsServer | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="sqlstream-jobs", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def submit(self, plan: PhysicalPlan, sql: str) -> JobHandle:
        handle = JobHandle(plan, sql, self.loop)
        self._jobs[handle.id] = handle
        return handle

    def serve_metrics(self, ports: Sequence[int], host: str = "0.0.0.0") -> MetricsServer | None:
        """Start the Prometheus endpoint (``metrics.reporter.prom.port``) unless it runs;
        returns it when it was started now, None when it already ran."""
        if self.metrics_server is not None:
            return None
        self.metrics_server = MetricsServer(ports, self._running_metrics, host)
        return self.metrics_server

    def _running_metrics(self) -> list[tuple[dict[str, Any], int]]:
        """What the endpoint shows: the running jobs (as Flink, a finished job leaves it)."""
        return [(h.metrics(), len(h.restarts)) for h in self.all() if not h.done]

    def query(self, plan: PhysicalPlan, sql: str) -> QueryHandle:
        handle = QueryHandle(plan, sql, self.loop)
        with self._lock:
            self._queries.add(handle)
        handle._future.add_done_callback(lambda _: self._forget(handle))
        return handle

    def _forget(self, query: QueryHandle) -> None:
        """A query ended (on the jobs' loop): nothing of it is left for shutdown to stop."""
        with self._lock:
            self._queries.discard(query)

    def get(self, job_id: str) -> JobHandle:
        for key, handle in self._jobs.items():
            if key == job_id or key.startswith(job_id):
                return handle
        raise SqlStreamError(f"no job '{job_id}'", hint="SHOW JOBS lists the jobs of this session")

    def all(self) -> list[JobHandle]:
        return list(self._jobs.values())

    def shutdown(self) -> None:
        """Stop every job and query, then the loop. A query is waited for as a job is: a
        task still pending when the loop stops is freed by the garbage collector, which
        closes its coroutine at whatever point it waited (and its DuckDB connections)."""
        with self._lock:
            queries = list(self._queries)
        for query in queries:
            query.cancel()
        for handle in self._jobs.values():
            handle.cancel()
        for query in queries:
            query.close()
        for handle in self._jobs.values():
            handle.wait(timeout=10)
        if self.metrics_server is not None:
            self.metrics_server.close()
            self.metrics_server = None
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)


class JobHandle:
    """A running INSERT job: status, metrics, wait and cancel, from any thread."""

    def __init__(self, plan: PhysicalPlan, sql: str, loop: asyncio.AbstractEventLoop) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.name = plan.name
        self.sql = sql
        self.plan = plan
        self.started = time.time()
        self._loop = loop
        self.job = create_job(plan, job_id=self.id, preflight=True)
        self.restarts: list[str] = []  # why each restart happened, for SHOW JOBS and the CLI
        self.failures: list[Failure] = []  # each failure, when, and the restart that followed
        self.attempt_started = self.started  # wall clock; the current attempt (after restarts)
        self._cancelled = False
        strategy = RestartStrategy.from_config(self.job.config)
        self._future: Future[Any] = asyncio.run_coroutine_threadsafe(
            run_with_restarts(self.job, strategy, self._restarted, lambda: self._cancelled), loop
        )

    def _restarted(self, job: Job, error: BaseException, attempt: int) -> None:
        """A new attempt took over (on the jobs' loop): it is the one to watch and cancel."""
        failed_at = self.attempt_started + float(self.job.metrics().get("elapsed_s", 0.0))
        self.attempt_started = time.time()
        self.failures.append(Failure(failed_at, error, attempt, self.attempt_started))
        self.job = job
        self.restarts.append(f"restart {attempt}: {error}")

    def exceptions(self) -> list[Failure]:
        """Every failure of the job, oldest first: those a restart followed, then the one
        that ended it (if it failed for good)."""
        out = list(self.failures)
        error = self.error
        if error is not None:
            failed_at = self.attempt_started + float(self.job.metrics().get("elapsed_s", 0.0))
            out.append(Failure(failed_at, error))
        return out

    @property
    def guarantee_text(self) -> str:
        sinks = [n.spec for n in self.plan.sinks if isinstance(n.spec, SinkSpec)]
        return ", ".join(f"{s.table}: {s.guarantee.value}" for s in sinks) or "no sink"

    @property
    def done(self) -> bool:
        return self._future.done()

    @property
    def status(self) -> str:
        return str(getattr(self.job.status, "value", self.job.status))

    @property
    def error(self) -> BaseException | None:
        if not self._future.done() or self._future.cancelled():
            return None
        return self._future.exception()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or the timeout passes); True when it ended."""
        try:
            self._future.result(timeout)
        except TimeoutError:
            return False
        except (Exception, asyncio.CancelledError):  # it ended, failed or cancelled (see .error)
            return True  # not KeyboardInterrupt: Ctrl-C while waiting must reach the caller
        return True

    def cancel(self) -> None:
        self._cancelled = True
        if not self._future.done():
            self._loop.call_soon_threadsafe(lambda: self.job.cancel())

    def metrics(self) -> dict[str, Any]:
        return self.job.metrics()

    def stop_with_savepoint(self, timeout: float | None = None) -> str:
        """Take a savepoint, wait for it, stop the job; returns the savepoint's folder."""
        return self.trigger_stop_with_savepoint().result(timeout)

    def trigger_stop_with_savepoint(self) -> Future[str]:
        """Start a stop-with-savepoint without waiting: the future gives the folder."""
        return asyncio.run_coroutine_threadsafe(self.job.stop_with_savepoint(), self._loop)

    @property
    def rows_out(self) -> int:
        return int(self.job.metrics().get("rows_written", 0))

    def summary(self) -> tuple[Any, ...]:
        m = self.job.metrics()
        return (
            self.id,
            self.name,
            self.status,
            f"{m.get('rows_per_second', 0):,.0f}",
            m.get("rows_written", 0),
            time.strftime("%H:%M:%S", time.localtime(self.started)),
        )


def _in_zone(batch: pa.RecordBatch, zone: str) -> pa.RecordBatch:
    """TIMESTAMP_LTZ values as instants in the session's zone (``table.local-time-zone``),
    so that they print as its wall time, as Flink's SQL client prints them, also inside an
    ARRAY, MAP or ROW: the same instants, only their zone changes (no data is copied)."""
    zoned = [_zoned(t, zone) for t in batch.schema.types]
    if zoned == list(batch.schema.types):
        return batch
    columns = [c if c.type == t else c.cast(t) for c, t in zip(batch.columns, zoned)]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _zoned(t: pa.DataType, zone: str) -> pa.DataType:
    """``t`` with every timestamp that has a zone (a TIMESTAMP_LTZ) in ``zone``."""
    if pa.types.is_timestamp(t):
        return pa.timestamp(t.unit, tz=zone) if t.tz else t
    if pa.types.is_map(t):
        return pa.map_(_zoned(t.key_type, zone), _zoned(t.item_type, zone))
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_zoned(t.value_type, zone)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_zoned(t.value_type, zone)))
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(_zoned(t.field(i).type, zone)) for i in range(t.num_fields)])
    return t


def _shown(value: Any, t: pa.DataType, multiset: bool) -> Any:
    """A value with what printing it needs that Python's value does not hold: a MULTISET's
    counts (COLLECT's arrives as a list with repetitions), a FLOAT's single precision, also
    inside an ARRAY, MAP or ROW."""
    if value is None:
        return None
    if multiset:
        return Multiset(_shown(v, t.value_type, False) for v in value)
    if t == pa.float32():
        return Float32(value)
    if pa.types.is_map(t):
        return [(_shown(k, t.key_type, False), _shown(v, t.item_type, False)) for k, v in value]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [_shown(v, t.value_type, False) for v in value]
    if pa.types.is_struct(t):
        return {k: _shown(v, t.field(k).type, False) for k, v in value.items()}
    return value


def _has_float32(t: pa.DataType) -> bool:
    if pa.types.is_map(t):
        return _has_float32(t.key_type) or _has_float32(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_float32(t.value_type)
    if pa.types.is_struct(t):
        return any(_has_float32(t.field(i).type) for i in range(t.num_fields))
    return t == pa.float32()


class QueryHandle:
    """A running SELECT: its columns, and its rows as a changelog or a final table."""

    def __init__(self, plan: PhysicalPlan, sql: str, loop: asyncio.AbstractEventLoop) -> None:
        self.plan = plan
        self.sql = sql
        self.columns = [f.name for f in plan.sinks[0].schema]
        # COLLECT's MULTISET arrives as a list with repetitions; it prints as value=count
        self._multisets = {f.name for f in plan.sinks[0].schema if f.type.upper().startswith("MULTISET")}
        self.bounded = plan.bounded
        self.zone = LOCAL_TIME_ZONE.get(plan.config) or "UTC"
        self._loop = loop
        # Not bounded itself (the pump bounds the batches, RESULT_BUFFER): the end, or the
        # error, must go in without blocking the jobs' loop when the reader stopped reading.
        self._queue: queue.Queue[Any] = queue.Queue()
        self._closing = False
        self.job = create_job(plan, job_id=uuid.uuid4().hex[:8], preflight=True)
        self._future: Future[Any] = asyncio.run_coroutine_threadsafe(self._pump(), loop)

    async def _pump(self) -> None:
        """The job's result batches into the reader's queue, on the jobs' loop. It ends
        when the job's results end, so once it ended the job did: ``close`` waits for it.

        A reader that lags holds the job back; once the query is closed, nobody reads, and
        the job's results are drained to their end instead (the end of a finished job
        waits for room among them), not kept."""
        try:
            async for batch in self.job.results():
                while self._queue.qsize() >= RESULT_BUFFER and not self._closing:
                    await asyncio.sleep(0.01)
                if not self._closing:
                    self._queue.put_nowait(batch)
        except GeneratorExit:  # the coroutine closed (see Job._run_task): nobody to tell
            raise
        except BaseException as e:
            self._queue.put_nowait(e)
            raise
        finally:
            self._queue.put_nowait(_END)

    def batches(self, stop: threading.Event | None = None) -> Iterator[pa.RecordBatch]:
        while True:
            if stop is not None and stop.is_set():
                self.close()
                return
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def changelog(self, stop: threading.Event | None = None) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """(row kind, row) pairs: 0 +I, 1 -U, 2 +U, 3 -D."""
        for batch in self.batches(stop):
            kinds = (
                batch.column(ROW_KIND_COLUMN).to_pylist()
                if ROW_KIND_COLUMN in batch.schema.names
                else itertools.repeat(0)
            )
            data = batch_rows(_in_zone(batch.select(self.columns), self.zone))
            types = {f.name: f.type for f in batch.schema}
            marked = [c for c in self.columns if c in self._multisets or _has_float32(types[c])]
            for kind, row in zip(kinds, data):
                for c in marked:
                    row[c] = _shown(row[c], types[c], c in self._multisets)
                yield kind, tuple(row[c] for c in self.columns)

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The final rows of a bounded query: the changelog applied, in arrival order."""
        rows: list[tuple[Any, ...]] = []
        for kind, row in self.changelog():
            if kind in (0, 2):
                rows.append(row)
            else:
                with contextlib.suppress(ValueError):
                    rows.remove(row)
        return rows

    def __enter__(self) -> QueryHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        """``with session.sql(...) as query:`` stops the query's job when the block ends,
        as a psycopg cursor or a DuckDB connection closes (an unbounded query otherwise
        runs until ``close`` or the session's end)."""
        self.close()

    def cancel(self) -> None:
        """Stop the query's job, without waiting for it (``close`` waits)."""
        self._closing = True
        if not self._future.done():
            self._loop.call_soon_threadsafe(self.job.cancel)

    def close(self) -> None:
        """Cancel the query's job and wait (10 s at most) until it ended, so that nothing
        of the query is left on the jobs' loop; a reader that stopped reading does not
        hold it up."""
        self.cancel()
        with contextlib.suppress(BaseException):
            self._future.result(timeout=10)
