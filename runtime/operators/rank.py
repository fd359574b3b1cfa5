"""Top-N and deduplication (Flink's Rank and Deduplicate operators): the input's rows in
DuckDB state, keyed by the partition columns; a changelog of the ranked range out.

State: table ``rows``, the input's columns plus ``__seq``, the row's arrival number (ties
in the sort order go by it, and it is processing time's order). Over an insert-only input
a row that falls below the range's end can never come back, so only the first ``end``
rows of a partition are kept; over an updating input every row is, since a retraction
can lift the next one into the range.

A batch is processed as a whole, in a few statements: the range of each partition the
batch touches is ranked before (``__old``) and after (``__new``) the batch's rows are
added (+I/+U) and retracted (-U/-D take out the earliest identical row, as Flink's
RetractableTopNFunction does), and the two are compared, as the spec's ``changes`` says
(see ``RankSpec``): by rank position (+I, -U/+U, -D; a position whose row is unchanged in
value emits nothing) or by rows, known by their arrival number (-D, then +I). Within a
batch, Flink would emit a change for every row; here the batch's net change per position
or row is sent (the applied result is the same), as the group aggregate does.

A deduplication with a state TTL keeps its row's expiry (``__expire``), set when the row
is written (the first, or one replacing the kept one); an expired partition is deleted
before the next batch or on a timer, so its next row is its first again (+I), as Flink's
deduplicate functions do.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from planner.physical import ARRIVAL, INPUT_RELATION, ROW_KIND_COLUMN, RankSpec
from runtime.batches import ROW_KIND_TYPE, conform, numpy_array, output_schema, q
from runtime.messages import Message
from runtime.operators import rank_append
from runtime.operators.arrival import ArrivalOrdered

# The most rows a Top-N inserts into its state in one statement. DuckDB appends some
# sizes of insert into a table of many rows at ~3x the cost a row (q18's wide bids: 85,000
# or 65,536 rows at 0.8-1.1 us a row, 21,000-61,440 at 0.3-0.4 us, also from a DuckDB
# table: the append, not Arrow); a bounded source's batches of 262,144 bids give ~85,000
# winners, which cost the replayed Rank 0.9-1.35 s of inserts where slices cost 0.4-0.55.
INSERT_ROWS = 32768


class RankOp(ArrivalOrdered):
    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, RankSpec)
        self.spec = spec
        self.retracting = self.ctx.input_updating(0)
        self.schema = output_schema(self.node.schema, self.ctx.updating)
        # the partitions' rows; a deduplication with a TTL: its kept row's expiry too
        self.cols = self._new_rows_state(spec.ttl_ms, seq=True)
        self.keys = [q(k) for k in spec.partition_keys]
        order = [
            f"{'__seq' if k.column == ARRIVAL else q(k.column)} {'ASC' if k.ascending else 'DESC'} "
            f"NULLS {'FIRST' if k.nulls_first else 'LAST'}"
            for k in spec.order
        ]
        order.append("__seq DESC" if spec.ties_last else "__seq")
        part = f"PARTITION BY {', '.join(self.keys)} " if self.keys else ""
        rank = f"row_number() OVER ({part}ORDER BY {', '.join(order)})"
        if not self.retracting:  # a statement of its own each step (see ``rank_append``)
            expiry = f", {rank_append.EXPIRY}" if self.ttl else ""
            schema = output_schema(self.ctx.input_nodes[0].schema, False)
            self.append, self.append_keyed = (
                rank_append.statements(
                    spec, self.cols, self.keys, order, schema, self.ctx.updating, expiry, null_keys
                )
                for null_keys in (True, False)
            )
            self.width = 16 + 8 * (len(self.cols) + 1)
            return
        touched = (
            " SEMI JOIN __t t ON " + " AND ".join(f"r.{k} IS NOT DISTINCT FROM t.{k}" for k in self.keys)
            if self.keys
            else ""
        )
        self.ranked_sql = f"SELECT r.rowid AS __rid, r.*, {rank} AS __rn FROM rows r{touched}"
        self.range = f"__rn BETWEEN {spec.start} AND {spec.end}"
        self.old_sql = f"SELECT * FROM ({self.ranked_sql}) WHERE {self.range}"
        self.emit_sql = self._rows_sql() if spec.changes == "rows" else self._positions_sql()
        self.width = 16 + 8 * (len(self.cols) + 1)

    def _positions_sql(self) -> list[str]:
        """Changes per rank position of a partition: the old rows of the positions that
        changed (-U, or -D when the position emptied), then their new rows (+U, or +I when
        the position filled), as the group aggregate orders its changes: every retraction
        of a batch before its additions, so a position's pair stays in order."""
        on = " AND ".join([*(f"o.{k} IS NOT DISTINCT FROM n.{k}" for k in self.keys), "o.__rn = n.__rn"])
        differ = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in self.cols)
        both = [f"{side}.{c} AS {side}{i}" for side in "on" for i, c in enumerate(self.cols)]
        joined = (
            f"CREATE OR REPLACE TEMP TABLE __d AS SELECT {', '.join(both)}, o.__rn AS o__rn, "
            f"n.__rn AS n__rn FROM __old o FULL JOIN __new n ON {on} "
            f"WHERE o.__rn IS NULL OR n.__rn IS NULL OR {differ}"
        )
        kinds = {
            "o": "CASE WHEN n__rn IS NULL THEN 3 ELSE 1 END",
            "n": "CASE WHEN o__rn IS NULL THEN 0 ELSE 2 END",
        }
        out = [joined]
        for side in "on":
            cols = [f"{side}{i}" for i in range(len(self.cols))]
            if self.spec.rank_column:
                cols.append(f"{side}__rn")
            if self.ctx.updating:
                cols.append(f"({kinds[side]})::TINYINT")
            out.append(f"SELECT {', '.join(cols)} FROM __d WHERE {side}__rn IS NOT NULL")
        return out

    def _rows_sql(self) -> list[str]:
        """Changes of the rows in the range: -D for those that left, then +I for those
        that entered. A row is known by its arrival number, so an anti-join finds them."""
        cols = ", ".join(f"x.{c}" for c in self.cols)
        kind = q(ROW_KIND_COLUMN)
        return [
            f"SELECT {cols}, 3::TINYINT AS {kind} FROM __old x ANTI JOIN __new n ON x.__seq = n.__seq",
            f"SELECT {cols}, 0::TINYINT AS {kind} FROM __new x ANTI JOIN __old o ON x.__seq = o.__seq",
        ]

    # ---- one batch ------------------------------------------------------------------
    def _process(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        now = self.clock()
        self._expire(now)
        out = self._append(batch, now) if not self.retracting else self._update(batch, now)
        self._report()
        return [b for table in out for b in conform(table, self.schema)]

    def _append(self, batch: pa.RecordBatch, now: int) -> list[pa.Table | pa.RecordBatch]:
        """A batch of an insert-only input (see ``rank_append``): its best rows taken out
        of the Arrow batch, ranked with the old rows of their partitions; the changes are
        read before the state drops the rows pushed out and keeps those that entered. A
        candidate that fills a position with nothing to retract (most of them) goes out,
        and into the state, from the Arrow batch: its long strings never make a round trip
        through DuckDB, which reads whole rows only for the changes with an old row."""
        st = self.state
        nulls = any(batch.column(k).null_count for k in self.spec.partition_keys)
        sql = self.append if nulls else self.append_keyed
        if isinstance(sql, rank_append.Top1Statements):
            return self._top1(sql, batch, now)
        first = self.seq
        stamped = self._stamped(batch)
        st.register(INPUT_RELATION, stamped)
        try:
            candidates = rank_append.take_best(st, sql.best, stamped, first)
        finally:
            st.con.unregister(INPUT_RELATION)
        out: list[pa.Table | pa.RecordBatch] = []
        st.register(rank_append.CANDIDATES, candidates)
        try:
            for stmt in sql.rank:
                st.execute(stmt)
            changed = st.con.execute(sql.changed).fetchnumpy()
            oid, ns, nid = changed["__oid"], changed["__ns"], changed["__nid"]
            kept = nid[ns == 1] if sql.kept is None else st.con.execute(sql.kept).fetchnumpy()["__id"]
            fresh = (oid < 0) & (ns == 1)
            if not fresh.all():  # the changes with an old row, their candidates only
                st.con.unregister(rank_append.CANDIDATES)
                st.register(rank_append.CANDIDATES, rank_append.pick(candidates, nid[~fresh & (ns == 1)])[0])
                for stmt in sql.emit:
                    if stmt.startswith("CREATE"):
                        st.execute(stmt)
                    else:
                        out.append(st.query(stmt))
            st.execute(sql.drop)
        finally:
            st.con.unregister(rank_append.CANDIDATES)
        out.append(self._fresh(candidates, nid[fresh], changed["__n"][fresh]))
        self._insert(rank_append.flag(candidates, kept), sql.add, now)
        return out

    def _top1(
        self, sql: rank_append.Top1Statements, batch: pa.RecordBatch, now: int
    ) -> list[pa.Table | pa.RecordBatch]:
        """A batch of a Top-1 (``rank_append._top1``): its winners taken out of the Arrow
        batch once, the old rows they replace read (-U, unless equal in value) and
        deleted, then the winners sent (+U, or +I where they replace nothing) and inserted,
        all from that one Arrow batch."""
        st = self.state
        first = self.seq
        stamped = self._stamped(batch)
        st.register(INPUT_RELATION, stamped)
        try:
            winners, oid = rank_append.take_winners(st, sql.winners, stamped, first)
        finally:
            st.con.unregister(INPUT_RELATION)
        out: list[pa.Table | pa.RecordBatch] = []
        replaces = oid >= 0
        send: np.ndarray | None = None  # the winners that send a row (None: all)
        if replaces.any():
            mask = numpy_array(pa.bool_(), np.packbits(replaces, bitorder="little"), len(replaces))
            old = np.ascontiguousarray(oid[replaces])
            st.register(
                rank_append.CANDIDATES,
                winners.filter(mask).append_column("__oid", numpy_array(pa.int64(), old, len(old))),
            )
            try:
                retracted = st.query(sql.retract)
                st.execute(sql.drop)
            finally:
                st.con.unregister(rank_append.CANDIDATES)
            out.append(retracted.select(range(1, retracted.num_columns)))
            # a winner equal in value to the row it replaces sends nothing
            if retracted.num_rows < int(replaces.sum()):
                changed = rank_append.arrival_numbers(retracted.column(0))
                send = ~replaces | np.isin(rank_append.arrival_numbers(winners.column("__seq")), changed)
        n = winners.num_rows
        columns = winners.columns[: len(self.cols)]
        if self.spec.rank_column:
            columns.append(numpy_array(pa.int64(), np.ones(n, dtype=np.int64), n))
        if self.ctx.updating:
            kinds = np.where(replaces, 2, 0).astype(np.int8)
            columns.append(numpy_array(ROW_KIND_TYPE, kinds, n))
        added = pa.RecordBatch.from_arrays(columns, names=self.schema.names)  # ``conform`` casts
        if send is not None:
            added = added.filter(numpy_array(pa.bool_(), np.packbits(send, bitorder="little"), n))
        out.append(added)
        self._insert(winners, sql.add, now)
        return out

    def _insert(self, rows: pa.RecordBatch, add: str, now: int) -> None:
        """``add`` run over ``rows`` (as ``rank_append.KEPT``), ``INSERT_ROWS`` at a time."""
        add = add.replace(rank_append.EXPIRY, str(self.ttl.expiry(now)) if self.ttl else "")
        for at in range(0, max(rows.num_rows, 1), INSERT_ROWS):
            self.state.register(rank_append.KEPT, rows.slice(at, INSERT_ROWS))
            try:
                self.state.execute(add)
            finally:
                self.state.con.unregister(rank_append.KEPT)

    def _fresh(self, candidates: pa.RecordBatch, seqs: np.ndarray, ranks: np.ndarray) -> pa.RecordBatch:
        """The +I rows of the candidates ``seqs`` (at rank ``ranks``), in arrival order."""
        rows, order = rank_append.pick(candidates, seqs)
        n = rows.num_rows
        columns = rows.columns[: len(self.cols)]  # not __seq (nor __b)
        if self.spec.rank_column:
            ranks = np.ascontiguousarray(np.asarray(ranks, dtype=np.int64)[order])
            columns.append(numpy_array(pa.int64(), ranks, n))
        if self.ctx.updating:
            columns.append(numpy_array(ROW_KIND_TYPE, np.zeros(n, dtype=np.int8), n))
        return pa.RecordBatch.from_arrays(columns, names=self.schema.names)  # ``conform`` casts

    def _update(self, batch: pa.RecordBatch, now: int) -> list[pa.Table]:
        """A batch of an updating input: every row of a touched partition ranked before
        and after its rows are added and retracted."""
        st = self.state
        st.register(INPUT_RELATION, self._stamped(batch))
        sign = f"CASE WHEN {q(ROW_KIND_COLUMN)} IN (0, 2) THEN 1 ELSE -1 END"
        cols = ", ".join(self.cols)
        try:
            st.execute(
                f"CREATE OR REPLACE TEMP TABLE __b AS "
                f"SELECT {cols}, __seq, {sign} AS __s FROM {INPUT_RELATION}"
            )
        finally:
            st.con.unregister(INPUT_RELATION)
        if self.keys:
            st.execute(f"CREATE OR REPLACE TEMP TABLE __t AS SELECT DISTINCT {', '.join(self.keys)} FROM __b")
        st.execute(f"CREATE OR REPLACE TEMP TABLE __old AS {self.old_sql}")
        expiry = f", {self.ttl.expiry(now)}" if self.ttl else ""
        st.execute(f"INSERT INTO rows SELECT {cols}, __seq{expiry} FROM __b WHERE __s > 0")
        self._retract()
        st.execute(f"CREATE OR REPLACE TEMP TABLE __rk AS {self.ranked_sql}")
        st.execute(f"CREATE OR REPLACE TEMP TABLE __new AS SELECT * FROM __rk WHERE {self.range}")
        out = []
        for sql in self.emit_sql:  # statements that prepare, then the queries of the changes
            if sql.startswith("CREATE"):
                st.execute(sql)
            else:
                out.append(st.query(sql))
        return out

    def _retract(self) -> None:
        """Each -U/-D takes out one identical row, the earliest (Flink removes the first
        equal row of the sort key's list)."""
        st = self.state
        cols = ", ".join(self.cols)
        same = " AND ".join(f"r.{c} IS NOT DISTINCT FROM d.{c}" for c in self.cols)
        by = ", ".join(f"r.{c}" for c in self.cols)
        st.execute(
            f"DELETE FROM rows WHERE rowid IN (SELECT __rid FROM ("
            f"SELECT r.rowid AS __rid, d.__n, row_number() OVER (PARTITION BY {by} "
            f"ORDER BY r.__seq) AS __i FROM rows r JOIN "
            f"(SELECT {cols}, count(*) AS __n FROM __b WHERE __s < 0 GROUP BY ALL) d ON {same}"
            f") WHERE __i <= __n)"
        )

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        return list(await self.ctx.run(self._process, batch))
