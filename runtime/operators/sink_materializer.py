"""SinkUpsertMaterializer (Flink's operator of that name, shown as the Sink's
``upsertMaterialize=[true]``): what a sink that writes by its PRIMARY KEY receives when the
rows reaching it are keyed otherwise, so that rows of different upstream keys that meet in
one sink key neither overwrite each other for good nor delete each other's row.

Keyed by the sink's key, the state (table ``rows``: the input's columns and ``__seq``, the
arrival number) keeps every live input row of each key in arrival order. Flink, row by row:
an +I/+U is appended and sent (+I when the key had no row, else +U); a -U/-D removes the
first kept row it matches (by the input's upsert key when it has one, else by every
column; none found: nothing, as after a state TTL); when the removed row was the last one,
the row now last is sent as +U, and -D when no row is left. The sink therefore always holds
the key's last live row.

A batch is processed as a whole, in a few DuckDB statements. Within a group of matching
rows (same sink key, same match key) a retraction removes the oldest row still there, so
the rows a batch removes are the group's oldest ones, as many as its retractions that found
a row: with S the running sum of +1 per row (kept ones first) and -1 per retraction, a
retraction finds none exactly where S falls below its lowest value so far (the queue's
reflection), so -min(0, min S) of them are void. Each touched key's last row before and
after the batch are then compared and the change sent: the key's net change, whose applied
result at the sink is what Flink's row-by-row changes leave.

With a state TTL (``table.exec.state.ttl``) every row of a key carries the key's expiry,
renewed whenever the key is written; an expired key is forgotten (its later retractions
find nothing, its next row is an +I), as Flink's TTL on the key's list.
"""

from __future__ import annotations

import pyarrow as pa

from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, SinkMaterializerSpec
from runtime.batches import conform, output_schema, q
from runtime.messages import Message
from runtime.operators.arrival import ArrivalOrdered


class SinkMaterializerOp(ArrivalOrdered):
    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, SinkMaterializerSpec)
        self.schema = output_schema(self.node.schema, True)
        cols = self._new_rows_state(spec.ttl_ms, seq=True)
        self.cols = ", ".join(cols)
        keys = [q(k) for k in spec.keys]
        matched = [q(k) for k in spec.upsert_key] or cols  # what a retraction matches by
        group_cols = list(dict.fromkeys(keys + matched))
        group = ", ".join(group_cols)
        on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys)
        kind = q(ROW_KIND_COLUMN) if self.ctx.input_updating(0) else "0"  # FORCE'd over an append stream
        # the touched keys' kept rows, then the batch's rows and retractions, in arrival order
        self.events_sql = (
            f"CREATE OR REPLACE TEMP TABLE __e AS "
            f"SELECT {self.cols}, __seq, true AS __add FROM rows a "
            f"WHERE EXISTS (SELECT 1 FROM {INPUT_RELATION} b WHERE {on}) "
            f"UNION ALL SELECT {self.cols}, __seq, {kind} IN (0, 2) AS __add FROM {INPUT_RELATION}"
        )
        # per group: how many retractions found a row (see the module's docstring)
        self.removed_sql = (
            "CREATE OR REPLACE TEMP TABLE __r AS "
            f"SELECT {group}, count(*) FILTER (WHERE NOT __add) + least(0, min(__s)) AS __gone FROM ("
            f"SELECT *, sum(CASE WHEN __add THEN 1 ELSE -1 END) OVER (PARTITION BY {group} "
            "ORDER BY __seq ROWS UNBOUNDED PRECEDING) AS __s FROM __e) "
            f"GROUP BY {group}"
        )
        group_on = " AND ".join(f"a.{c} IS NOT DISTINCT FROM b.{c}" for c in group_cols)
        self.left_sql = (
            f"CREATE OR REPLACE TEMP TABLE __k AS SELECT {', '.join('a.' + c for c in cols)}, a.__seq FROM ("
            f"SELECT a.*, row_number() OVER (PARTITION BY {group} ORDER BY __seq) AS __n "
            f"FROM __e a WHERE __add) a JOIN __r b ON {group_on} WHERE a.__n > b.__gone"
        )
        key_list = ", ".join(keys)
        last = f"QUALIFY row_number() OVER (PARTITION BY {key_list} ORDER BY __seq DESC) = 1"
        self.before_sql = (
            f"CREATE OR REPLACE TEMP TABLE __b AS SELECT {self.cols}, __seq FROM __e WHERE __add "
            f"AND __seq < {{first}} {last}"
        )
        self.after_sql = f"CREATE OR REPLACE TEMP TABLE __a AS SELECT * FROM __k {last}"
        both = [f"{side}.{c} AS {side}{i}" for side in "ba" for i, c in enumerate(cols)]
        joined = (
            f"SELECT {', '.join(both)}, b.__seq AS b_seq, a.__seq AS a_seq FROM __b b FULL JOIN __a a ON "
            + " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys)
        )
        old = ", ".join(f"b{i}" for i in range(len(cols)))
        new = ", ".join(f"a{i}" for i in range(len(cols)))
        self.emit_sql = [
            f"SELECT {old}, 3::TINYINT FROM ({joined}) WHERE a_seq IS NULL",
            f"SELECT {new}, (CASE WHEN b_seq IS NULL THEN 0 ELSE 2 END)::TINYINT FROM ({joined}) "
            "WHERE a_seq IS NOT NULL AND b_seq IS DISTINCT FROM a_seq",
        ]
        self.delete_sql = f"DELETE FROM rows a USING (SELECT DISTINCT {key_list} FROM __e) b WHERE {on}"
        self.width = 24 + 8 * len(cols)

    def _process(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        now = self.clock()
        self._expire(now)
        st = self.state
        first = self.seq
        st.register(INPUT_RELATION, self._stamped(batch))
        try:
            st.execute(self.events_sql)
        finally:
            st.con.unregister(INPUT_RELATION)
        st.execute(self.removed_sql)
        st.execute(self.left_sql)
        st.execute(self.before_sql.format(first=first))
        st.execute(self.after_sql)
        out = [st.query(sql) for sql in self.emit_sql]
        st.execute(self.delete_sql)
        expiry = f", {self.ttl.expiry(now)}" if self.ttl else ""
        st.execute(f"INSERT INTO rows SELECT {self.cols}, __seq{expiry} FROM __k")
        self._report()
        return [b for table in out for b in conform(table, self.schema)]

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        return list(await self.ctx.run(self._process, batch))
