"""Windowed aggregation: TUMBLE, HOP, CUMULATE and SESSION, in event or processing time.

State is one DuckDB table per subtask, only ever appended to per batch:
- TUMBLE/HOP/CUMULATE: one partial row per (key, slice) of each batch (see
  ``windowing``); when the watermark passes window ends, the slices of the ready windows
  are merged in one query (a join with ``range`` spreads a slice over its windows), and
  slices no window still needs are deleted.
- SESSION: one partial row per (key, batch-local session); on firing, fragments are
  merged per key (gaps and islands: a fragment joins the previous ones when it starts at
  or before their end, as Flink's merging windows do) and sessions that ended are emitted.

COUNT, MIN and MAX of integers (no FILTER, DISTINCT or time zone) take a faster way to the
same rows: partial rows and firings in Arrow (``window_partials``), the state table
written only for checkpoints.

A window fires once the watermark reaches its end - 1 ms (processing time: once the
wall clock reaches its end). Rows whose windows have all fired are late: they are
dropped and counted in ``late_rows_dropped``. End of input fires everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.config import COMPACT_MIN_ROWS
from planner.physical import INPUT_RELATION, LATE_ROWS_OUTPUT, WindowAggregateSpec
from runtime.batches import conform, empty_table, int64_values, numpy_array, output_schema, q
from runtime.messages import Message, SideOutput
from runtime.metrics import NO_WATERMARK
from runtime.operator import Operator, Snapshot, now_ms
from runtime.operators import aggs as A
from runtime.operators import udaf
from runtime.operators.arrival import stamp
from runtime.operators.late_rows import keeps_late_rows, late_rows_batch
from runtime.operators.window_partials import ArrowPartials, fire_sessions, fire_slices
from runtime.operators.windowing import Slicing, WallClock, sql_align, ts_from_ms
from runtime.state.duckdb_state import DuckDBState, load_snapshot

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored

INF = 2**62  # "fire everything" bound, safe from BIGINT overflow in SQL


class WindowAggregateOp(Operator):
    merges_batches = True  # emits on the watermark (or a timer), whatever the batches
    restored: Restored | None = None

    async def restore(self, restored: Restored) -> None:
        self.restored = restored  # loaded into the state database once it is open

    async def open(self) -> None:
        await self.ctx.run(self._prepare)
        if self.restored is not None:
            await self._load(self.restored)

    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, WindowAggregateSpec)
        for a in spec.aggs:
            A.check(a)
        self.spec = spec
        w = spec.window
        self.window = w
        self.session = w.type == "session"
        self.slicing = None if self.session else Slicing(w)
        if self.session:
            Slicing(w)  # validates the gap
        self.proctime = w.proctime
        self.clock = WallClock(w.time_zone)  # window times are this zone's wall time
        # DISTINCT, the variances, COLLECT, the arrival-ordered and Python aggregates need
        # the rows' values: no partial sums
        self.raw = A.needs_raw(spec.aggs)
        self.ordered = A.needs_seq(spec.aggs)  # rows keep their arrival number __seq
        self.seq = 0  # the next row's arrival number
        self.schema = output_schema(self.node.schema, False)
        self.state = DuckDBState()
        self.ctx.install_functions(self.state.con)
        udaf.install_window_calls(self.ctx, self.state.con, spec.aggs)
        self.has_table = False
        self.fired = NO_WATERMARK  # windows ending at or before this have fired
        self.next_fire = INF  # no window can fire before its end reaches this
        self.late_ts: int | None = None  # rows with time < late_ts are late
        self.keys = [q(k) for k in spec.keys]
        self.tcol = q(w.time_column)
        # two phases (planner.agg_phase): the input is the local phase's partial rows
        self.partial = self.node.inputs[0].local_aggregate
        self.partial_columns = [n for i, a in enumerate(spec.aggs) for n in A.partial_names(i, a)]
        self.width = 16 + 8 * (len(spec.keys) + 2 * len(spec.aggs))
        if self.raw:
            self.state_items = [x for i, a in enumerate(spec.aggs) for x in A.raw_items(i, a)]
            if self.ordered:
                self.state_items.append("__seq")
        else:
            self.state_items = [x for i, a in enumerate(spec.aggs) for x in A.partial_items(i, a)]
        # Flink merges a HOP window's slices into its accumulator from the newest slice to
        # the oldest (HoppingSliceAssigner), so LISTAGG and ARRAY_AGG list the newest
        # slice's values first; a CUMULATE window merges each new slice after the others
        order = "__se DESC, __seq" if spec.window.type == "hop" else "__seq"
        self.finals = [
            f"{A.final_expr(i, a, self.raw, order)} AS {q(a.name)}" for i, a in enumerate(spec.aggs)
        ]
        # partial columns merged into one partial (compaction); raw rows are kept as they are
        self.merges = [x for i, a in enumerate(spec.aggs) for x in A.merge_items(i, a)]
        self.compacted_rows = 0
        self.compact_min = COMPACT_MIN_ROWS.get(self.ctx.config)  # and 2x the live rows
        # a side sink reads the rows dropped as late (table.exec.late-rows.sink)
        self.keeps_late_rows = keeps_late_rows(self.node, self.ctx.plan)
        self.late: list[pa.RecordBatch] = []
        # partial rows computed in Arrow (``window_partials``), appended to ``windows`` in
        # one statement when the state is next read
        self.arrow = None if self.raw or self.partial else ArrowPartials.of(spec)
        self.pending: list[pa.Table] = []
        # windows fired in Arrow too (their window_time is no zone's instant); then what
        # later windows need waits in ``pending``, and ``stored`` says if ``windows`` has rows
        self.arrow_fires = self.arrow is not None and not w.time_zone
        self.stored = False

    # ---- ingest --------------------------------------------------------------------------
    def _timed(self, now: int) -> str:
        if self.proctime:
            return f"SELECT *, {now}::BIGINT AS __t FROM {INPUT_RELATION}"
        return timed_sql(self.spec)

    def _ingest_sql(self, now: int) -> str:
        keys = self.keys
        group = ", ".join([*keys, ""])
        items = ", ".join([*keys, ""])
        state = ", ".join(self.state_items)
        if self.partial:  # the local phase's rows: already one per (key, slice) of a batch
            return f"SELECT {items}__se, {', '.join(self.partial_columns)} FROM {INPUT_RELATION}"
        timed = self._timed(now)
        if not self.session:
            assert self.slicing is not None
            if self.raw:
                se = self.slicing.sql_slice_end("__t")
                return f"SELECT {items}__se, {state} FROM (SELECT *, {se} AS __se FROM ({timed}))"
            return partials_sql(self.spec, timed)
        gap = self.window.gap_ms
        if self.raw:
            return f"SELECT {items}__t AS __s, __t + {gap} AS __e, {state} FROM ({timed})"
        # One fragment per key and gap-long bucket of time: two rows of a bucket are less
        # than a gap apart, so they are in one session, and the fragment [first, last + gap)
        # is merged with its neighbours on firing like any other. A plain GROUP BY, where
        # cutting the batch into its own sessions needed two sorts (window functions).
        bucket = sql_align("__t", gap)
        return (
            f"SELECT {items}min(__t) AS __s, max(__t) + {gap} AS __e, {state} "
            f"FROM ({timed}) GROUP BY {group}{bucket}"
        )

    def _ingest(self, batch: pa.RecordBatch, now: int) -> None:
        st = self.state
        part = self.arrow.partials(batch) if self.arrow and self.arrow.supports(batch.schema) else None
        if part is not None:
            if part.num_rows:
                self.pending.append(part)
            self._grown(part.num_rows)
            return
        if self.ordered:
            batch = stamp(batch, self.seq)
            self.seq += batch.num_rows
        st.register(INPUT_RELATION, batch)
        try:
            sql = self._ingest_sql(now)
            if not self.has_table:
                st.execute(f"CREATE TABLE windows AS {sql}")
                st.tables.append("windows")
                self.has_table = True
                n = int(st.scalar("SELECT count(*) FROM windows"))
            else:
                n = st.execute(f"INSERT INTO windows {sql}")
        finally:
            st.con.unregister(INPUT_RELATION)
        self.stored = True
        self._grown(n)

    def _grown(self, n: int) -> None:
        """``n`` partial rows more; compacted when there are too many."""
        self.metrics.state_rows += n
        self.metrics.state_bytes = self.metrics.state_rows * self.width
        if not self.raw and self.metrics.state_rows > max(2 * self.compacted_rows, self.compact_min):
            self._compact()

    def _flush(self) -> None:
        """Append the partial rows computed in Arrow to ``windows`` (one statement)."""
        if not self.pending:
            return
        st = self.state
        rows = _concat(self.pending)
        self.pending = []
        self.stored = True
        st.register("__p", rows)
        try:
            if self.has_table:
                st.execute("INSERT INTO windows SELECT * FROM __p")
            else:
                st.execute("CREATE TABLE windows AS SELECT * FROM __p")
                st.tables.append("windows")
                self.has_table = True
        finally:
            st.con.unregister("__p")

    def _compact(self) -> None:
        """Merge the partial rows of each (key, slice) / (key, session) into one, so state
        stays proportional to the open windows, not to the batches that fed them."""
        self._flush()
        st = self.state
        k = ", ".join([*self.keys, ""])
        merges = ", ".join(self.merges)
        if self.session:
            self._label()
            body = f"SELECT {k}min(__s) AS __s, max(__e) AS __e, {merges} FROM __lab GROUP BY {k}__g"
        else:
            body = f"SELECT {k}__se, {merges} FROM windows GROUP BY {k}__se"
        st.execute(f"CREATE OR REPLACE TEMP TABLE __compact AS {body}")
        st.execute("DELETE FROM windows")
        n = st.execute("INSERT INTO windows SELECT * FROM __compact")
        st.execute("DROP TABLE __compact")
        if self.session:
            st.execute("DROP TABLE __lab")
        self.metrics.state_rows = self.compacted_rows = n
        self.metrics.state_bytes = n * self.width

    def _drop_late_partials(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, int | None]:
        """``_drop_late`` for the partial rows of a local phase: a partial row is late when
        its slice is (the slice's last window fired), as its rows would each be; the rows it
        stands for (``__n``) are counted. Returns the batch and its earliest slice's start."""
        assert self.slicing is not None
        if batch.num_rows == 0:
            return batch, None
        sl = self.slicing.slice_ms
        ends = batch.column("__se")
        lo = pc.min(ends).as_py()
        if lo is None:
            return batch, None
        if self.late_ts is not None and lo - sl < self.late_ts:
            keep = pc.greater_equal(pc.subtract(ends, sl), self.late_ts)
            dropped = pc.sum(pc.filter(batch.column("__n"), pc.invert(keep))).as_py()
            self.metrics.late_rows_dropped += int(dropped or 0)
            batch = batch.filter(keep)
            lo = pc.min(batch.column("__se")).as_py()
            if lo is None:
                return batch, None
        return batch, int(lo) - sl

    def _drop_late(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, int | None]:
        """Drop late rows (counted); returns the batch and its smallest time (ms)."""
        if self.partial:
            return self._drop_late_partials(batch)
        if self.proctime:  # processing time, as the zone's wall time windows are cut in
            return batch, self.clock.to_local(now_ms())
        col = batch.column(self.window.time_column)
        per_ms = _PER_MS[col.type.unit]
        raw = col.view(pa.int64())
        lo = pc.min(raw).as_py()
        if lo is None:
            return batch, None
        late_ts = None if self.late_ts is None else self.clock.to_utc(self.late_ts)
        if late_ts is not None and lo < late_ts * per_ms:
            keep = pc.fill_null(pc.greater_equal(raw, late_ts * per_ms), False)
            kept = batch.filter(keep)
            self.metrics.late_rows_dropped += batch.num_rows - kept.num_rows
            if self.keeps_late_rows:
                self.late.append(batch.filter(pc.invert(keep)))
            if kept.num_rows == 0:
                return kept, None
            batch = kept
            lo = pc.min(batch.column(self.window.time_column).view(pa.int64())).as_py()
        return batch, self.clock.to_local(int(lo // per_ms))

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        batch, lo = self._drop_late(batch)
        out: list[Message] = []
        if self.late:
            late, self.late = self.late, []
            out = [SideOutput(await self.ctx.run(self._late_rows, late[0]), LATE_ROWS_OUTPUT)]
        if lo is None or batch.num_rows == 0:
            return out
        now = self.clock.to_local(now_ms())
        await self.ctx.run(self._ingest, batch, now)
        first = lo + self.window.gap_ms if self.session else self._first_end(lo)
        self.next_fire = min(self.next_fire, first)
        return out

    def _late_rows(self, late: pa.RecordBatch) -> pa.RecordBatch:
        """The late-rows output (``planner/late_rows.py``) of rows dropped as late."""
        event_time = late.column(self.window.time_column)
        return late_rows_batch(self.state, late, self.node, event_time, self.metrics.watermark_ms)

    def _first_end(self, ts: int) -> int:
        assert self.slicing is not None
        return self.slicing.slice_end(ts)

    # ---- firing --------------------------------------------------------------------------
    def _label(self) -> None:
        """Table ``__lab``: every fragment with its merged session ``__g`` (a number unique
        over all keys) and that session's end ``__ge`` (gaps and islands over the
        fragments). No window is partitioned by key: DuckDB's window costs ~1 us per
        partition, and the state holds a few fragments for each of thousands of keys
        (q11: ~6k fragments of ~5k bidders, 12.9 -> 7.6 ms a firing). Each key gets a
        number ``__gi`` (``dense_rank``, NULL keys equal), and one ordering by
        ``__gi, __s, __e`` serves every window: a fragment starts a session when it is its
        key's first or starts after the greatest end of the key's earlier fragments, which
        is a running max over ``__gi * 2^64 + __e`` (a key's values exceed every earlier
        key's); a session's end is the max over its peers by ``__g``."""
        # total (``__rid`` last): two windows over rows that tie on (key, start, end) could
        # otherwise order them differently, and a duplicate fragment whose ``__new`` is 0
        # summed before its twin's 1 took the previous session's number, merging the two
        order = "ORDER BY __gi, __s, __e, __rid"
        gi = f"dense_rank() OVER (ORDER BY {', '.join(self.keys)})" if self.keys else "1"
        ranked = f"SELECT rowid AS __rid, *, {gi} AS __gi FROM windows"
        shift = "__gi::HUGEINT * 18446744073709551616"
        flagged = (
            f"SELECT *, CASE WHEN lag(__gi) OVER ({order}) IS DISTINCT FROM __gi "
            f"OR __s > max({shift} + __e) OVER ({order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) "
            f"- {shift} THEN 1 ELSE 0 END AS __new FROM ({ranked})"
        )
        grouped = f"SELECT *, sum(__new) OVER ({order} ROWS UNBOUNDED PRECEDING) AS __g FROM ({flagged})"
        self.state.execute(
            f"CREATE OR REPLACE TEMP TABLE __lab AS SELECT * EXCLUDE (__gi, __new), "
            f"max(__e) OVER (ORDER BY __g RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS __ge FROM ({grouped})"
        )

    def _fire_session(self, bound: int) -> pa.Table:
        st = self.state
        k = ", ".join([*self.keys, ""])
        self._label()
        table = st.query(
            f"SELECT {k}{ts_from_ms('min(__s)')} AS window_start, "
            f"{ts_from_ms('max(__e)')} AS window_end, "
            f"{self.clock.sql_window_time('max(__e)')} AS window_time, {', '.join(self.finals)} "
            f"FROM __lab WHERE __ge <= {bound} GROUP BY {k}__g ORDER BY max(__e)"
        )
        nxt = st.scalar(f"SELECT min(__ge) FROM __lab WHERE __ge > {bound}")
        self.next_fire = INF if nxt is None else int(nxt)
        if self.raw:
            removed = st.execute(
                f"DELETE FROM windows WHERE rowid IN (SELECT __rid FROM __lab WHERE __ge <= {bound})"
            )
            self._removed(removed)
        else:  # keep one merged fragment per open session
            st.execute("DELETE FROM windows")
            n = st.execute(
                f"INSERT INTO windows SELECT {k}min(__s) AS __s, max(__e) AS __e, "
                f"{', '.join(self.merges)} FROM __lab WHERE __ge > {bound} GROUP BY {k}__g"
            )
            self.metrics.state_rows = self.compacted_rows = n
            self.metrics.state_bytes = n * self.width
        st.execute("DROP TABLE __lab")
        return table

    def _fire_sliced(self, bound: int) -> pa.Table:
        st = self.state
        s = self.slicing
        assert s is not None
        k = ", ".join([*self.keys, ""])
        # only the slices of windows that fire now: none after ``bound``, none whose windows
        # all fired before
        done = max(self.fired, -INF)
        live = f"SELECT * FROM windows WHERE __se <= {bound} AND {s.sql_last_end('__se')} > {done}"
        if s.window.type == "tumble":
            expanded = f"SELECT *, __se AS __we FROM ({live})"
        else:
            expanded = (
                f"SELECT *, __se + __i * {s.slice_ms} AS __we "
                f"FROM ({live}), range({s.per_slice}) AS __r(__i) "
                f"WHERE __se + __i * {s.slice_ms} <= {s.sql_last_end('__se')}"
            )
        ws = s.sql_window_start("__se", "__we")
        # a TUMBLE or HOP window's start follows from its end: grouped by the end alone
        by = ws if s.window.type == "cumulate" else ""
        group = ", ".join([*self.keys, *([by] if by else []), "__we"])
        table = st.query(
            f"SELECT {k}{ts_from_ms(ws)} AS window_start, {ts_from_ms('__we')} AS window_end, "
            f"{self.clock.sql_window_time('__we')} AS window_time, {', '.join(self.finals)} "
            f"FROM ({expanded}) WHERE __we <= {bound} AND __we > {done} "
            f"GROUP BY {group} ORDER BY __we"
        )
        removed = st.execute(f"DELETE FROM windows WHERE {s.sql_last_end('__se')} <= {bound}")
        self._removed(removed)
        if self.metrics.state_rows == 0:
            self.next_fire = INF
        else:  # the next window end after bound: a lower bound of any pending window's end
            self.next_fire = s.slice_end(min(bound, INF - 2**40))
        return table

    def _removed(self, n: int) -> None:
        self.metrics.state_rows = max(self.metrics.state_rows - n, 0)
        self.metrics.state_bytes = self.metrics.state_rows * self.width

    def _fire_arrow(self, bound: int) -> pa.Table:
        """``_fire_session`` or ``_fire_sliced`` in Arrow (``window_partials``) over the
        partial rows in ``pending`` and in ``windows``; what a later window needs (open
        sessions, one fragment each; slices) waits in ``pending`` for the next firing (or
        a checkpoint's ``_flush``)."""
        st = self.state
        parts, self.pending = self.pending, []
        if self.stored:
            parts.append(st.query("SELECT * FROM windows"))
            st.execute("DELETE FROM windows")
            self.stored = False
        if not parts:
            self.next_fire = INF
            return empty_table(self.schema)
        rows = _concat(parts)
        if self.session:
            sessions = fire_sessions(rows, self.spec, bound)
            fired, kept = sessions.fired, sessions.open
            start, end = int64_values(fired.column("__s")), int64_values(fired.column("__e"))
            self.next_fire = INF if sessions.next_end is None else sessions.next_end
        else:
            assert self.slicing is not None
            fired, kept = fire_slices(rows, self.spec, max(self.fired, -INF), bound)
            start, end = int64_values(fired.column("__ws")), int64_values(fired.column("__we"))
            # the next window end after bound: a lower bound of any pending window's end
            self.next_fire = self.slicing.slice_end(min(bound, INF - 2**40)) if kept.num_rows else INF
        if kept.num_rows:
            self.pending = [kept]
        self.metrics.state_rows = kept.num_rows
        if self.session:
            self.compacted_rows = kept.num_rows
        self.metrics.state_bytes = self.metrics.state_rows * self.width
        columns = [
            *(fired.column(k) for k in self.spec.keys),
            _timestamps(start),
            _timestamps(end),
            _timestamps(end - 1),
            *(fired.column(f"p{i}") for i in range(len(self.spec.aggs))),
        ]
        return pa.Table.from_arrays(columns, names=self.schema.names)

    def _fire(self, bound: int) -> list[pa.RecordBatch]:
        if self.arrow_fires:
            return conform(self._fire_arrow(bound), self.schema)
        self._flush()
        table = self._fire_session(bound) if self.session else self._fire_sliced(bound)
        return conform(table, self.schema)

    async def _advance(self, bound: int) -> list[Message]:
        """Everything ending at or before ``bound`` is complete."""
        out: list[Message] = []
        if (self.has_table or self.pending) and self.next_fire <= bound:
            out = list(await self.ctx.run(self._fire, bound))
        if bound > self.fired:
            self.fired = bound
            if not self.proctime:
                if self.session:
                    self.late_ts = bound - self.window.gap_ms + 1
                else:
                    assert self.slicing is not None
                    self.late_ts = self.slicing.late_before(bound)
        return out

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        self.metrics.watermark_ms = ts_ms
        if self.proctime:
            return []
        return await self._advance(self.clock.to_local(min(ts_ms, INF - 1)) + 1)

    def next_timer_ms(self) -> int | None:
        if self.proctime and self.has_table and self.next_fire < INF:
            return self.clock.to_utc(self.next_fire)  # the instant the local end comes
        return None

    async def on_timer(self, now: int) -> list[Message]:
        return await self._advance(self.clock.to_local(now))

    async def on_end_of_input(self) -> list[Message]:
        return await self._advance(INF)

    # ---- checkpoints ----------------------------------------------------------------------
    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        """The windows' rows, and timers and lateness: which windows fired, when the next
        can fire."""
        small = {
            "fired": self.fired,
            "next_fire": self.next_fire,
            "late_ts": self.late_ts,
            "compacted_rows": self.compacted_rows,
            "seq": self.seq,
        }
        if self.pending:
            await self.ctx.run(self._flush)
        return Snapshot(small, self.state)

    async def _load(self, restored: Restored) -> None:
        if restored.files:
            tables = await self.ctx.run(load_snapshot, self.state, restored)
            self.has_table = self.stored = "windows" in tables
            if self.has_table:
                self.metrics.state_rows = int(
                    await self.ctx.run(self.state.scalar, "SELECT count(*) FROM windows")
                )
                self.metrics.state_bytes = self.metrics.state_rows * self.width
        states = [s for s in restored.states if s]
        if states:  # several when rescaled: the most cautious of them
            self.fired = min(int(s["fired"]) for s in states)
            self.next_fire = min(int(s["next_fire"]) for s in states)
            lates = [s["late_ts"] for s in states]
            self.late_ts = None if any(x is None for x in lates) else min(int(x) for x in lates)
            self.compacted_rows = sum(int(s.get("compacted_rows", 0)) for s in states)
            self.seq = max(int(s.get("seq", 0)) for s in states)  # after all of theirs

    async def close(self) -> None:
        if hasattr(self, "state"):
            self.state.close()


_PER_MS = {"s": 0.001, "ms": 1, "us": 1000, "ns": 1_000_000}


def _concat(tables: list[pa.Table]) -> pa.Table:
    """Partial rows of several batches (and of the state table, which DuckDB may give
    other types: a string as a view) as one table of the first one's schema."""
    schema = tables[0].schema
    return pa.concat_tables([t if t.schema == schema else t.cast(schema) for t in tables])


def _timestamps(ms: np.ndarray) -> pa.Array:
    """TIMESTAMPs (us) of epoch milliseconds, as ``windowing.ts_from_ms`` makes them."""
    return numpy_array(pa.timestamp("us"), np.ascontiguousarray(ms * 1000, dtype=np.int64), len(ms))


def timed_sql(spec: WindowAggregateSpec) -> str:
    """SQL: the input's rows with a time, each with ``__t``, its event time in epoch
    milliseconds of the windows' wall clock (a row without a time belongs to no window)."""
    tcol = q(spec.window.time_column)
    clock = WallClock(spec.window.time_zone)
    return f"SELECT *, {clock.sql_local_ms(tcol)} AS __t FROM {INPUT_RELATION} WHERE {tcol} IS NOT NULL"


def partials_sql(spec: WindowAggregateSpec, timed: str, more: str = "") -> str:
    """SQL: the rows of ``timed`` (with ``__t``) aggregated into one partial row per key and
    slice (ending at ``__se``) of a TUMBLE, HOP or CUMULATE window, with ``more`` items.
    The one-phase operator's ingest and the local phase of two (``local_window_aggregate``)
    run it alike, so their partial rows are the same."""
    keys = ", ".join([*(q(k) for k in spec.keys), ""])
    items = [x for i, a in enumerate(spec.aggs) for x in A.partial_items(i, a)]
    se = Slicing(spec.window).sql_slice_end("__t")
    select = ", ".join([*items, *([more] if more else [])])
    return f"SELECT {keys}__se, {select} FROM (SELECT *, {se} AS __se FROM ({timed})) GROUP BY {keys}__se"


def state_view(spec: WindowAggregateSpec, relation: str) -> str:
    """SQL over the ``windows`` state of every subtask (``relation``, with a ``subtask``
    column): one readable row per subtask, key and pending window (a slice of it for HOP
    and CUMULATE, which share slices between windows) with its aggregates so far. Used by
    ``sqlstream state``; the operator keeps several partial rows per window until they are
    compacted, and this view merges them the way firing does."""
    raw = A.needs_raw(spec.aggs)
    keys = [q(k) for k in spec.keys]
    aggs = [  # a Python aggregate runs only in the job: here, how many rows it keeps
        f"count(*) AS {q(a.name + ' (rows kept)')}"
        if a.func == "udaf"
        else f"{A.final_expr(i, a, raw)} AS {q(a.name)}"
        for i, a in enumerate(spec.aggs)
    ]
    w = spec.window
    if w.type == "session":
        bounds = [f"{ts_from_ms('__s')} AS window_start", f"{ts_from_ms('__e')} AS window_end"]
        group = ["__s", "__e"]
    elif w.type == "tumble":
        start = Slicing(w).sql_window_start("__se", "__se")
        bounds = [f"{ts_from_ms(start)} AS window_start", f"{ts_from_ms('__se')} AS window_end"]
        group = ["__se"]
    else:
        sl = Slicing(w).slice_ms
        bounds = [f"{ts_from_ms(f'__se - {sl}')} AS slice_start", f"{ts_from_ms('__se')} AS slice_end"]
        group = ["__se"]
    cols = ", ".join(["subtask", *keys, *bounds, *aggs])
    by = ", ".join(["subtask", *keys, *group])
    return f"SELECT {cols} FROM {relation} GROUP BY {by} ORDER BY {by}"
