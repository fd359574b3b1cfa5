"""Window TVF without aggregation (TUMBLE/HOP/CUMULATE): adds window_start, window_end,
window_time (= window_end - 1 ms). HOP and CUMULATE copy each row once per window it
falls in, with a join against ``range`` in one DuckDB query per batch."""

from __future__ import annotations

import pyarrow as pa

from catalog.errors import SqlStreamError
from planner.physical import INPUT_RELATION, WindowAssignSpec
from runtime.batches import conform, output_schema, q
from runtime.messages import Message
from runtime.operator import Operator, now_ms
from runtime.operators.windowing import Slicing, WallClock, sql_align, ts_from_ms


class WindowAssignOp(Operator):
    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, WindowAssignSpec)
        w = spec.window
        if w.type == "session":
            raise SqlStreamError(
                "a SESSION window table function must be followed by an aggregation",
                hint="GROUP BY window_start, window_end (and the keys) over the SESSION TVF",
            )
        self.slicing = Slicing(w)
        self.proctime = w.proctime
        self.schema = output_schema(self.node.schema, self.ctx.updating)
        t = "__t"
        if w.type == "tumble":
            ws = sql_align(t, w.size_ms, w.offset_ms)
            body = f"SELECT *, {ws} AS __ws, {ws} + {w.size_ms} AS __we FROM __timed"
        elif w.type == "hop":
            n = w.size_ms // w.slide_ms
            base = sql_align(t, w.slide_ms, w.offset_ms)
            body = (
                f"SELECT *, {base} - __i * {w.slide_ms} AS __ws, "
                f"{base} - __i * {w.slide_ms} + {w.size_ms} AS __we "
                f"FROM __timed, range({n}) AS __r(__i)"
            )
        else:
            n = w.size_ms // w.step_ms
            ps = sql_align(t, w.size_ms, w.offset_ms)
            body = (
                f"SELECT *, {ps} AS __ws, {ps} + __k * {w.step_ms} AS __we "
                f"FROM __timed, range(1, {n + 1}) AS __r(__k) "
                f"WHERE {ps} + __k * {w.step_ms} > {t}"
            )
        tcol = q(w.time_column)
        self.clock = clock = WallClock(w.time_zone)  # window times are this zone's wall time
        self.timed = (
            "SELECT *, @@NOW@@::BIGINT AS __t FROM input"
            if self.proctime
            else f"SELECT *, {clock.sql_local_ms(tcol)} AS __t FROM {INPUT_RELATION} WHERE {tcol} IS NOT NULL"
        )
        items = []
        for f in self.node.schema:
            if f.name == "window_start":
                items.append(f"{ts_from_ms('__ws')} AS window_start")
            elif f.name == "window_end":
                items.append(f"{ts_from_ms('__we')} AS window_end")
            elif f.name == "window_time":
                items.append(f"{clock.sql_window_time('__we')} AS window_time")
            else:
                items.append(q(f.name))
        if self.ctx.updating:
            items.append('"__row_kind"')
        self.sql = f"WITH __timed AS (@@TIMED@@) SELECT {', '.join(items)} FROM ({body})"
        self.con = await self.ctx.run(self.ctx.duckdb)

    def _run(self, batch: pa.RecordBatch, now: int) -> list[pa.RecordBatch]:
        self.con.register(INPUT_RELATION, batch)
        try:
            sql = self.sql.replace("@@TIMED@@", self.timed.replace("@@NOW@@", str(now)))
            return conform(self.con.sql(sql).to_arrow_table(), self.schema)
        finally:
            self.con.unregister(INPUT_RELATION)

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        return list(await self.ctx.run(self._run, batch, self.clock.to_local(now_ms())))

    async def close(self) -> None:
        if hasattr(self, "con"):
            self.con.close()
