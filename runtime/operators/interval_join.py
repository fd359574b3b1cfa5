"""Interval join (Flink's RowTimeIntervalJoin): both sides' rows in DuckDB state while a
partner can still arrive, append-only output.

A match needs equal keys and the join's condition, which holds the time bounds
``lower <= l - r <= upper`` (``l``, ``r``: the left and right rowtimes). A batch of one
side is joined, in one statement, with the other side's state; every pair is thus joined
once, when its later row arrives. Then the batch's rows go into their own side's state
with their time in milliseconds (``__t``) and, on an outer side, whether they matched
(``__matched``, Flink's emitted flag); an outer side's matched partners are marked.

Watermark ``w``: a future row's time is at least ``w``, so a left row can still match
while ``l - lower >= w`` and a right row while ``r + upper >= w``. When the watermark
passes that, the row leaves the state and, if its side is outer and it never matched,
is emitted NULL-padded (Flink emits it from its clean-up timer). The last watermark of a
bounded input pads what is left. The output watermark is held back by
``max(-lower, upper)``, so no joined or padded row is behind it (Flink's
``getMaxOutputDelay``).

A row whose time is behind the watermark is late: its partners may have left the state,
so it is dropped and counted (``late_rows_dropped``), and sent to the late-rows output
when ``table.exec.late-rows.sink`` reads it (``planner/late_rows.py``). Flink joins such a
row with whatever its cache still holds, which depends on when its timers fired; we drop
it, as the window operators do. A row with a NULL key or time can never match: an outer
side emits it padded at once, an inner side drops it, as a batch join would.

An inner side's rows are read only by the other side's batches: once the other input has
ended, they are joined but not stored, as in the regular join (``join.py``), which says
when an input ends: in a job without checkpointing, or after the final checkpoint. An
outer side's are still stored: their padded rows come at expiry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pyarrow as pa

from planner.physical import (
    INPUT_RELATION,
    LATE_ROWS_FIELDS,
    LATE_ROWS_OUTPUT,
    Field,
    IntervalJoinSpec,
    TemporalJoinSpec,
    WindowJoinSpec,
)
from runtime.batches import conform, duckdb_type, empty_table, output_schema, q, sequence
from runtime.messages import Message, SideOutput, Watermark
from runtime.metrics import NO_WATERMARK
from runtime.operator import Operator, Snapshot
from runtime.operators.join import create_state_table, side_fields, with_input_columns
from runtime.state.duckdb_state import DuckDBState, load_snapshot

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored

SIDES = ("left", "right")
FOREVER = 2**62  # a watermark at or past this (the end of input) expires every row


class TimedSide:
    """The SQL of one input side: how its batch is read and how its state is kept."""

    def __init__(
        self,
        index: int,
        spec: IntervalJoinSpec | WindowJoinSpec | TemporalJoinSpec,
        fields: tuple[Field, ...],
        input_fields: tuple[Field, ...],
        time: str,
        extra: str = "",
    ) -> None:
        self.name = SIDES[index]
        self.table = f"{self.name}_rows"
        self.outer = spec.left_outer if index == 0 else spec.right_outer
        self.fields = fields
        self.columns = [q(f.name) for f in fields]
        keys = spec.left_keys if index == 0 else spec.right_keys
        self.keys = list(spec.state_keys)
        source = {f.name: src for src, f in zip(input_fields, fields)}
        # the rowtime column of the input, in its own type (epoch_ms needs no Arrow unit)
        self.time_column = source[time].name
        self.time = f"{q(self.time_column)}::{duckdb_type(source[time].type)}"
        items = [f"{q(src.name)} AS {q(f.name)}" for src, f in zip(input_fields, fields)]
        items += [f"{q(k)} AS {s}" for k, s in zip(keys, self.keys)]
        self.items = ", ".join(items)  # the state's columns (before ``__t``) of an input batch
        self.read_sql = (
            f"SELECT {self.items}, epoch_ms({self.time})::BIGINT AS __t{extra}, __seq "
            f"FROM {INPUT_RELATION}"
        )
        self.input_columns = [q(f.name) for f in input_fields]
        self.nulls = [f"CAST(NULL AS {duckdb_type(f.type)})" for f in fields]
        self.width = 24 + 8 * (len(fields) + len(keys))  # bytes per row, roughly
        self.reach = 0
        if isinstance(spec, IntervalJoinSpec):
            # matches of a future row of the other side: its time minus this side's time is
            # within [lower, upper] (left) or [-upper, -lower] (right); a row leaves the state once
            # no time at or after the watermark can match it (1 ms of slack: __t is floored)
            self.reach = (-spec.lower_ms if index == 0 else spec.upper_ms) + 1


class IntervalJoinOp(Operator):
    forwards_watermarks = False  # held back by the interval (see the module docstring)
    restored: Restored | None = None
    state: DuckDBState
    event_offset_ms: ClassVar[int] = 0  # a late row's event time: its state time plus this

    async def restore(self, restored: Restored) -> None:
        self.restored = restored

    async def open(self) -> None:
        await self.ctx.run(self._prepare)
        restored = self.restored
        if restored is None:
            return
        if restored.files:
            await self.ctx.run(load_snapshot, self.state, restored)
            self.rows = [int(self.state.scalar(f"SELECT count(*) FROM {s.table}")) for s in self.sides]
            self._report()
        states = [s for s in restored.states if s]
        if states:  # several when rescaled: the most cautious of them
            self.wm = min(int(s["watermark"]) for s in states)

    def _times(self) -> tuple[str, str]:
        """The output names of the columns whose time the state is ordered by."""
        assert isinstance(self.spec, IntervalJoinSpec)
        return self.spec.left_time, self.spec.right_time

    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, IntervalJoinSpec | WindowJoinSpec | TemporalJoinSpec)
        self.spec = spec
        self.schema = output_schema(self.node.schema, False)
        left_out, right_out = side_fields(spec, self.node.schema, self.ctx.input_nodes[1].schema)
        self.sides = [
            TimedSide(i, spec, out, self.ctx.input_nodes[i].schema, time, self._read_items(i))
            for i, (out, time) in enumerate(zip((left_out, right_out), self._times()))
        ]
        self.wm = NO_WATERMARK
        self.rows = [0, 0]
        self.ended = [False, False]  # the inputs that have ended in this attempt
        self.state = DuckDBState()
        self.ctx.install_functions(self.state.con)
        for i, side in enumerate(self.sides):
            schema = output_schema(self.ctx.input_nodes[i].schema, self.ctx.input_updating(i))
            empty = _with_seq(empty_table(schema))
            matched = ", false AS __matched" if side.outer else ""
            items = f"{', '.join([*side.columns, *side.keys])}, __t{matched}{self._state_items(i)}"
            create_state_table(self.state, side.table, items, side.read_sql, empty)
        self.keeps_late_rows = any(
            e.source == self.node.id and e.output == LATE_ROWS_OUTPUT
            for n in self.ctx.plan.nodes
            for e in n.inputs
        )
        self.name = f"{self.node.name.split('(')[0]}#{self.node.id}"

    def _row(self, index: int, mine: list[str], theirs: list[str]) -> str:
        """An output row's columns, left side first, from side ``index``'s and the other's."""
        return ", ".join([*mine, *theirs] if index == 0 else [*theirs, *mine])

    # ---- one batch ------------------------------------------------------------------
    def _process(self, batch: pa.RecordBatch, index: int) -> list[Message]:
        """``__in``: the batch's rows that are not late; then what they produce."""
        st = self.state
        out: list[Message] = []
        st.register(INPUT_RELATION, _with_seq(batch))
        try:
            st.execute(f"CREATE OR REPLACE TEMP TABLE __in AS {self.sides[index].read_sql}")
            if self.wm > NO_WATERMARK:
                late = self._late(self.sides[index])
                if late is not None:
                    out.append(SideOutput(late, LATE_ROWS_OUTPUT))
        finally:
            st.con.unregister(INPUT_RELATION)
        return out + self._join_batch(index, batch)

    def _read_items(self, index: int) -> str:
        """More columns read from side ``index``'s batches (``, <sql> AS <name>``...)."""
        return ""

    def _state_items(self, index: int) -> str:
        """More columns of side ``index``'s state table, after ``__t`` (and ``__matched``)."""
        return ""

    def _late_condition(self, side: TimedSide) -> str:
        """SQL over ``__t``: a row of ``side`` behind the watermark."""
        return f"__t < {self.wm}"

    def _join_batch(self, index: int, batch: pa.RecordBatch) -> list[Message]:
        """The rows of ``__in`` (from ``batch``) joined with the other side's state, then
        kept in their own."""
        st = self.state
        a, b = self.sides[index], self.sides[1 - index]
        out: list[Message] = []
        keys_equal = " AND ".join(f"i.{k} = x.{k}" for k in a.keys)
        # a cheap range on the other side's time first; the condition has the exact bounds
        spec = self.spec
        assert isinstance(spec, IntervalJoinSpec)
        lo, hi = (spec.lower_ms, spec.upper_ms) if index == 1 else (-spec.upper_ms, -spec.lower_ms)
        on = f"{keys_equal} AND x.__t BETWEEN i.__t + {lo - 1} AND i.__t + {hi + 1}"
        first, last = st.con.execute("SELECT min(__t), max(__t) FROM __in").fetchall()[0]
        other = b.table
        if first is not None:
            # the same range over the whole batch, as constants: the state is appended in
            # about time order, so DuckDB skips its row groups outside the range unread
            other = f"(SELECT rowid, * FROM {b.table} WHERE __t BETWEEN {first + lo - 1} AND {last + hi + 1})"
        if self.spec.residual:
            on += f" AND ({self.spec.residual})"
        # the batch's own columns are not read from DuckDB: the output takes them from the
        # batch at the matched rows' positions (__seq), as the regular join does
        stored = ", ".join(f"x.{c}" for c in b.columns)
        matches = f"SELECT i.__seq, x.rowid AS __rid, {stored} FROM __in i JOIN {other} x ON {on}"
        source = f"({matches})"
        if a.outer or b.outer:  # the matches are read again: for the matched flags
            st.execute(f"CREATE OR REPLACE TEMP TABLE __m AS {matches}")
            source = "__m"
        parts = [f"SELECT __seq AS __ix, {', '.join(b.columns)} FROM {source}"]
        never = " OR ".join([*(f"{k} IS NULL" for k in a.keys), "__t IS NULL"])
        if a.outer:  # a row that can never match is padded now
            parts.append(f"SELECT __seq, {', '.join(b.nulls)} FROM __in WHERE {never}")
        found = st.query(" UNION ALL ".join(parts))
        joined = with_input_columns(found, batch, len(a.fields), len(b.fields), input_first=index == 0)
        if b.outer:
            st.execute(
                f"UPDATE {b.table} SET __matched = true WHERE NOT __matched "
                f"AND rowid IN (SELECT __rid FROM __m)"
            )
        matched = ", EXISTS (SELECT 1 FROM __m m WHERE m.__seq = __in.__seq)" if a.outer else ""
        if a.outer or not self.ended[1 - index]:  # else nothing will read them (module docstring)
            added = st.execute(
                f"INSERT INTO {a.table} SELECT {', '.join([*a.columns, *a.keys])}, __t{matched} "
                f"FROM __in WHERE NOT ({never})"
            )
            self.rows[index] += added
            self._report()
        if joined.num_rows:
            out.extend(conform(joined, self.schema))
        return out

    def _late(self, a: TimedSide) -> pa.RecordBatch | None:
        """Drop the rows of ``__in`` behind the watermark (counted); the late-rows output's
        batch of them when a side sink reads it."""
        st = self.state
        late = self._late_condition(a)
        n = int(st.scalar(f"SELECT count(*) FROM __in WHERE {late}"))
        if n == 0:
            return None
        self.metrics.late_rows_dropped += n
        result = None
        if self.keeps_late_rows:
            op, event, watermark, row = (f.name for f in LATE_ROWS_FIELDS)
            # the input row as it came, its columns under their input names
            rows = (
                f"SELECT {', '.join(a.input_columns)} FROM {INPUT_RELATION} "
                f"WHERE {late.replace('__t', f'epoch_ms({a.time})')}"
            )
            result = (
                st.query(
                    f"SELECT '{self.name}' AS {op}, "
                    f"epoch_ms(epoch_ms(l.{a.time}) + {self.event_offset_ms})::TIMESTAMP_MS AS {event}, "
                    f"epoch_ms({self.wm}::BIGINT)::TIMESTAMP_MS AS {watermark}, to_json(l)::VARCHAR AS {row} "
                    f"FROM ({rows}) l"
                )
                .combine_chunks()
                .to_batches()[0]
            )
        st.execute(f"DELETE FROM __in WHERE {late}")
        return result

    def _expire(self, wm: int) -> pa.Table | None:
        """Rows no future row can match leave the state; an outer side's unmatched ones are
        returned padded."""
        st = self.state
        parts = [
            f"SELECT {self._row(i, side.columns, self.sides[1 - i].nulls)} FROM {side.table} "
            f"WHERE {self._gone(side, wm)} AND NOT __matched"
            for i, side in enumerate(self.sides)
            if side.outer
        ]
        padded = st.query(" UNION ALL ".join(parts)) if parts else None
        for i, side in enumerate(self.sides):
            self.rows[i] -= st.execute(f"DELETE FROM {side.table} WHERE {self._gone(side, wm)}")
        self._report()
        return padded

    @staticmethod
    def _gone(side: TimedSide, wm: int) -> str:
        return "true" if wm >= FOREVER else f"__t < {wm - side.reach}"

    def _report(self) -> None:
        self.metrics.state_rows = sum(self.rows)
        self.metrics.state_bytes = sum(n * s.width for n, s in zip(self.rows, self.sides))
        self.metrics.state_tables = {s.table: n for s, n in zip(self.sides, self.rows)}

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        return await self.ctx.run(self._process, batch, input_index)

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        self.wm = ts_ms
        out: list[Message] = []
        padded = await self.ctx.run(self._expire, ts_ms)
        if padded is not None and padded.num_rows:
            out.extend(conform(padded, self.schema))
        assert isinstance(self.spec, IntervalJoinSpec)
        delay = self.spec.watermark_delay_ms
        out.append(Watermark(ts_ms if ts_ms >= FOREVER else ts_ms - delay))
        return out

    # ---- checkpoints ----------------------------------------------------------------
    async def on_input_ended(self, input_index: int) -> None:
        self.ended[input_index] = True

    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        return Snapshot(state={"watermark": self.wm}, db=self.state)

    async def close(self) -> None:
        if hasattr(self, "state"):
            self.state.close()


def _with_seq(batch: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    return batch.append_column("__seq", sequence(0, batch.num_rows))
