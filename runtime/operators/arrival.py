"""The base of the operators that keep input rows in DuckDB state, in the order they
arrived (Top-N, window Top-N, OVER aggregates, MATCH_RECOGNIZE): each row gets an arrival number
``__seq`` that breaks ties as Flink's lists do; the event-time ones complete what the
watermark passed (``_fire``); the state, the next number and the watermark that has fired
go into every checkpoint."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

import pyarrow as pa

from planner.physical import INPUT_RELATION, LATE_ROWS_OUTPUT, Field
from runtime.batches import empty_table, output_schema, q, sequence
from runtime.messages import Message, SideOutput
from runtime.metrics import NO_WATERMARK
from runtime.operator import Operator, Snapshot, now_ms
from runtime.state.duckdb_state import DuckDBState, load_snapshot
from runtime.state.ttl import EXPIRE_COLUMN, StateTtl

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored

END = 2**62  # "everything is complete": the bound at end of input, safe from BIGINT overflow


def stamp(batch: pa.RecordBatch, first: int) -> pa.RecordBatch:
    """``batch`` with its rows' arrival numbers, from ``first`` on, as column ``__seq``."""
    return batch.append_column("__seq", sequence(first, batch.num_rows))


class ArrivalOrdered(Operator):
    restored: Restored | None = None
    state: DuckDBState
    # the idle-state retention of the kept rows (table.exec.state.ttl; None: forever) and
    # its processing-time clock (tests set their own)
    ttl: StateTtl | None = None
    clock = staticmethod(now_ms)
    seq: int = 0  # the next row's arrival number
    fired: int = NO_WATERMARK  # the watermark the operator has acted on
    width: int = 0  # bytes per state row, roughly

    async def restore(self, restored: Restored) -> None:
        self.restored = restored

    async def open(self) -> None:
        await self.ctx.run(self._prepare)
        restored = self.restored
        if restored is None:
            return
        if restored.files:
            await self.ctx.run(load_snapshot, self.state, restored)
        states = [s for s in restored.states if s]
        if states:  # several when rescaled: numbers after all of theirs, the most cautious watermark
            self.seq = max(int(s["seq"]) for s in states)
            self.fired = min(int(s["fired"]) for s in states)
        self._report()

    @abstractmethod
    def _prepare(self) -> None:
        """Create ``self.state`` and its tables (on the job's thread pool)."""

    def _new_state(self, fields: tuple[Field, ...], tables: dict[str, str], seq: bool = True) -> None:
        """A fresh ``self.state`` (with the job's functions) and its tables, each created
        empty from its query over the input (``INPUT_RELATION``: the columns ``fields``,
        plus ``__seq`` when ``seq``), and counted in the state's metrics."""
        self.state = DuckDBState()
        self.ctx.install_functions(self.state.con)
        empty = empty_table(output_schema(fields, False))
        if seq:
            empty = empty.append_column("__seq", sequence(0, 0))
        self.state.register(INPUT_RELATION, empty)
        try:
            for name, sql in tables.items():
                self.state.execute(f"CREATE TABLE {name} AS {sql} LIMIT 0")
                self.state.tables.append(name)
        finally:
            self.state.con.unregister(INPUT_RELATION)

    def _new_rows_state(self, ttl_ms: int, seq: bool) -> list[str]:
        """A fresh ``self.state`` that keeps the input's rows whole in table ``rows`` (Top-N,
        ChangelogNormalize, SinkUpsertMaterializer), with their arrival number ``__seq`` when
        ``seq`` and, with a state TTL of ``ttl_ms`` (0: none), each row's expiry, set when
        it is written. Returns the input's columns, quoted."""
        fields = self.ctx.input_nodes[0].schema
        cols = [q(f.name) for f in fields]
        self.ttl = StateTtl("rows", ttl_ms) if ttl_ms else None
        extra = (", __seq" if seq else "") + (f", 0::BIGINT AS {EXPIRE_COLUMN}" if self.ttl else "")
        self._new_state(fields, {"rows": f"SELECT {', '.join(cols)}{extra} FROM {INPUT_RELATION}"}, seq=seq)
        return cols

    def _stamped(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with its rows' arrival numbers as column ``__seq``."""
        stamped = stamp(batch, self.seq)
        self.seq += batch.num_rows
        return stamped

    def _report(self) -> None:
        tables = {t: int(self.state.scalar(f"SELECT count(*) FROM {t}")) for t in self.state.tables}
        self.metrics.state_rows = sum(tables.values())
        self.metrics.state_bytes = self.metrics.state_rows * self.width
        self.metrics.state_tables = tables

    def _expire(self, now: int) -> None:
        """Forget the rows whose TTL has run out at ``now``."""
        if self.ttl is not None and self.ttl.due(now):
            gone = self.ttl.purge(self.state, now)
            if gone:
                self.metrics.state_rows_expired += gone
                self._report()

    def next_timer_ms(self) -> int | None:
        return self.ttl.next_due if self.ttl is not None and self.metrics.state_rows else None

    async def on_timer(self, now: int) -> list[Message]:
        await self.ctx.run(self._expire, self.clock())
        return []

    def _fire(self, bound: int) -> list[pa.RecordBatch]:
        """What is complete once the watermark reaches ``bound`` (event-time operators)."""
        return []

    async def on_watermark(self, ts_ms: int) -> list[Message]:
        self.metrics.watermark_ms = ts_ms
        if ts_ms <= self.fired:
            return []
        self.fired = ts_ms
        return list(await self.ctx.run(self._fire, ts_ms))

    async def on_end_of_input(self) -> list[Message]:
        return list(await self.ctx.run(self._fire, END))

    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        return Snapshot({"seq": self.seq, "fired": self.fired}, self.state)

    async def close(self) -> None:
        if hasattr(self, "state"):
            self.state.close()


class PendingUntilWatermark(ArrivalOrdered):
    """An event-time operator whose input rows wait in state until the watermark passes
    them (OVER aggregates and MATCH_RECOGNIZE in table ``pending``, window Top-N in
    ``rows``). A row that ``_late`` holds behind the watermark already acted on (by default
    its ``time_column`` at or before it) is late: dropped and counted, or sent to the
    late-rows side output, its time ``time_column``, when a side sink keeps them
    (``keeps_late_rows``); ``_keep`` puts the others in state."""

    read_sql: str
    time_column: str
    keeps_late_rows: bool = False

    def _late(self) -> str:
        """The condition that an input row (``INPUT_RELATION``) is late."""
        return f"epoch_ms({q(self.time_column)}) <= {self.fired}"

    def _keep(self, stamped: pa.RecordBatch, first: int) -> None:
        """Put the rows of ``stamped`` (registered as ``INPUT_RELATION``; ``first`` its first
        arrival number) that are not late in state: ``read_sql``'s rows, with their time
        ``__t``, into ``pending``."""
        self.state.execute(f"INSERT INTO pending SELECT * FROM ({self.read_sql}) WHERE __t > {self.fired}")

    def _ingest(self, batch: pa.RecordBatch) -> pa.Table | None:
        """Rows into state; returns the late ones when a side sink keeps them."""
        st = self.state
        first = self.seq
        stamped = self._stamped(batch)
        st.register(INPUT_RELATION, stamped)
        try:
            late, rows = 0, None
            if self.fired > NO_WATERMARK:
                behind = f"FROM {INPUT_RELATION} WHERE {self._late()}"
                late = int(st.scalar(f"SELECT count(*) {behind}"))
                if late and self.keeps_late_rows:
                    rows = st.query(f"SELECT * EXCLUDE (__seq) {behind}")
            self._keep(stamped, first)
        finally:
            st.con.unregister(INPUT_RELATION)
        self.metrics.late_rows_dropped += late
        self._report()
        return rows

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        from runtime.operators.late_rows import late_rows_batch  # only with late rows kept: not at start-up

        late = await self.ctx.run(self._ingest, batch)
        if late is None:
            return []
        time = late.column(self.time_column)
        side = late_rows_batch(self.state, late, self.node, time, self.metrics.watermark_ms)
        return [SideOutput(side, LATE_ROWS_OUTPUT)]
