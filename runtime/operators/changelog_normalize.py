"""ChangelogNormalize (Flink's operator of that name, ``DeduplicateFunctionHelper.
processLastRowOnChangelog``): an upsert stream made a full changelog, so that what reads
it can retract what it counted.

An upsert source (upsert-kafka) sends +U rows that replace their key's row without a -U
of it, and -D rows that carry only the key. Keyed by the primary key, the state keeps the
last row of each key (table ``rows``: the input's columns); per key a new row sends +I
when the key has none, -U of the kept row then +U of the new one when it has (nothing
when the two are equal), and a -D sends -D of the kept row, whole, and forgets it
(nothing when the key has no row: a tombstone of an absent key).

A batch is processed as a whole, in a few DuckDB statements: each key's last change in
the batch is joined with its kept row, the changes are read (every retraction of the
batch before its additions, as the group aggregate sends them), and the touched keys'
rows are replaced. Within a batch Flink sends a change per row; here the key's net
change is sent, whose applied result is the same.

With a state TTL (``table.exec.state.ttl``) each kept row carries its expiry, set when it
is written; an expired key is deleted before the next batch or on a timer, so its next
row is its first again (+I), and, as Flink does with a TTL, a row equal to the kept one
still sends -U/+U (it writes the row, and its expiry, again).
"""

from __future__ import annotations

import pyarrow as pa

from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, ChangelogNormalizeSpec
from runtime.batches import conform, output_schema, q
from runtime.messages import Message
from runtime.operators.arrival import ArrivalOrdered, stamp


class ChangelogNormalizeOp(ArrivalOrdered):
    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, ChangelogNormalizeSpec)
        self.schema = output_schema(self.node.schema, True)
        cols = self._new_rows_state(spec.ttl_ms, seq=False)
        self.cols = ", ".join(cols)
        keys = [q(k) for k in spec.keys]
        kind = q(ROW_KIND_COLUMN) if self.ctx.input_updating(0) else "0"
        # each key's last change of the batch (``__seq``: its place in the batch)
        self.last_sql = (
            f"CREATE OR REPLACE TEMP TABLE __l AS SELECT {self.cols}, {kind} IN (0, 2) AS __live "
            f"FROM {INPUT_RELATION} QUALIFY row_number() OVER (PARTITION BY {', '.join(keys)} "
            "ORDER BY __seq DESC) = 1"
        )
        on = " AND ".join(f"l.{k} IS NOT DISTINCT FROM o.{k}" for k in keys)
        both = [f"{side}.{c} AS {side}{i}" for side in "lo" for i, c in enumerate(cols)]
        differ = " OR ".join(f"l{i} IS DISTINCT FROM o{i}" for i in range(len(cols)))
        changed = "true" if self.ttl else f"({differ})"
        self.join_sql = (
            f"CREATE OR REPLACE TEMP TABLE __d AS SELECT *, {changed} AS __changed FROM ("
            f"SELECT {', '.join(both)}, l.__live, o.__keep IS NOT NULL AS __had "
            f"FROM __l l LEFT JOIN (SELECT *, true AS __keep FROM rows) o ON {on})"
        )
        old = ", ".join(f"o{i}" for i in range(len(cols)))
        new = ", ".join(f"l{i}" for i in range(len(cols)))
        # -U of the kept row when the key lives on, -D when it is deleted; then +U (or +I
        # for a key without a row) of the new one
        self.emit_sql = [
            f"SELECT {old}, (CASE WHEN __live THEN 1 ELSE 3 END)::TINYINT FROM __d "
            "WHERE __had AND (NOT __live OR __changed)",
            f"SELECT {new}, (CASE WHEN __had THEN 2 ELSE 0 END)::TINYINT FROM __d "
            "WHERE __live AND (NOT __had OR __changed)",
        ]
        self.delete_sql = f"DELETE FROM rows o USING __l l WHERE {on}"
        self.width = 16 + 8 * len(cols)

    def _process(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        now = self.clock()
        self._expire(now)
        st = self.state
        st.register(INPUT_RELATION, stamp(batch, 0))
        try:
            st.execute(self.last_sql)
        finally:
            st.con.unregister(INPUT_RELATION)
        st.execute(self.join_sql)
        out = [st.query(sql) for sql in self.emit_sql]
        st.execute(self.delete_sql)
        expiry = f", {self.ttl.expiry(now)}" if self.ttl else ""
        st.execute(f"INSERT INTO rows SELECT {self.cols}{expiry} FROM __l WHERE __live")
        self._report()
        return [b for table in out for b in conform(table, self.schema)]

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        return list(await self.ctx.run(self._process, batch))
