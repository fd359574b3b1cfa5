"""Unwindowed GROUP BY: keyed accumulators in DuckDB, a changelog out.

Per batch (a few DuckDB statements, no per-row Python): aggregate the batch per key into
accumulator deltas (row kind -U/-D counts as a retraction: sign -1), join them with the
stored accumulators of those keys, emit the changes and replace those keys' rows:

- a key seen for the first time: +I of its result;
- a key whose result changed: -U of the old result, then +U of the new one (all -U rows
  of a batch come before its +U rows; a key's pair stays in order);
- a key whose row count drops to zero (retractions): -D of the old result.

Accumulators: a row count per key, and per aggregate a count or a (sum, non-null count)
pair, or a min/max. Over an insert-only input, DISTINCT keeps the set of (key, value)
pairs seen, a key named by an integer id kept in ``acc`` (``distinct_values``), and a batch
adds only values not seen before. Over an updating input, DISTINCT
and MIN/MAX keep a count per (key, value), as Flink's MapView does, so that a retraction
takes its value out (``_value_counts``). COLLECT keeps such counts over any input: its
result is the multiset they hold. LISTAGG, FIRST_VALUE and LAST_VALUE are merged in arrival
order (``__seq``, numbered per batch), over an updating input from the live values they
keep (``ordered``).

With a state TTL (``table.exec.state.ttl``, the STATE_TTL hint) each key's accumulators
carry an expiry, set again whenever a batch touches the key; an expired key's rows (and
its DISTINCT or MIN/MAX values) are deleted before the next batch or on a timer, so its
next row is its first again: +I of a result counted from zero, and a retraction for it
is ignored, as Flink's GroupAggFunction does when its state has expired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.config import RUNTIME_MODE
from catalog.types import parse_type
from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, AggCall, GroupAggregateSpec
from runtime.batches import conform, output_schema, q
from runtime.messages import Message
from runtime.operator import Operator, Snapshot, now_ms
from runtime.operators import aggs as A
from runtime.operators import distinct_values as dv
from runtime.operators.arrival import stamp
from runtime.operators.ordered import ordered_merge, ordered_values
from runtime.operators.udaf import GroupPythonAggregates
from runtime.state.duckdb_state import DuckDBState, load_snapshot
from runtime.state.ttl import EXPIRE_COLUMN, StateTtl

if TYPE_CHECKING:
    from runtime.checkpoint.control import Restored


def final_from_accumulators(i: int, agg: AggCall, prefix: str) -> str:
    """The aggregate's result from accumulator columns ``<prefix>s<i>``/``<prefix>n<i>``."""
    s, n = f"{prefix}s{i}", f"{prefix}n{i}"
    t = parse_type(agg.type)
    cast = t.duckdb()
    if agg.func == "udaf":  # the value get_value gave, kept beside the pickled accumulator
        return f"CAST({prefix}v{i} AS {cast})"
    if agg.func in ("count", "count_star"):  # a count is a BIGINT already: no cast to bind
        return n if cast == "BIGINT" else f"CAST({n} AS {cast})"
    if agg.func == "sum":
        return f"CASE WHEN {n} = 0 THEN NULL ELSE {A.result_sql(s, t)} END"
    if agg.func == "avg":
        return A.avg_sql(s, n, t)
    if agg.func in A.STATISTICS and t.name != "DECIMAL":
        return A.statistic_sql(s, t)
    if agg.func == "collect":  # an empty multiset before any value
        return f"CAST(coalesce({s}, []) AS {cast})"
    return f"CAST({s} AS {cast})"  # min, max, and a DECIMAL variance (already its type)


def _overflowed(count: str, total: str) -> str:
    """A batch's DECIMAL sum: 0 for no value, NULL (overflowed) only when it has values."""
    return f"CASE WHEN {count} = 0 THEN 0 ELSE {total} END"


def _delta_col(alias: str, c: str, i: int, decimal: set[int]) -> str:
    """Column ``c`` of aggregate ``i``'s delta row ``alias`` (a DISTINCT one's), 0 for a key
    the delta lacks; the sum of a DECIMAL one (``decimal``) that overflowed stays NULL
    (``n<i>`` is never NULL in a delta row)."""
    if c == f"s{i}" and i in decimal:
        return f"CASE WHEN {alias}.n{i} IS NULL THEN 0 ELSE {alias}.{c} END AS {c}"
    return f"coalesce({alias}.{c}, 0) AS {c}"


def _decimal_merge(i: int) -> str:
    """A key's DECIMAL sum ``s<i>`` merged with the batch's (``A.decimal_merge_sql``): NULL
    once either has overflowed, so that it stays NULL as Flink's AVG does, until the key has
    no value left (its old sum is not added then, whatever it was)."""
    return A.decimal_merge_sql(f"o.s{i}", f"o.n{i}", f"b.s{i}")


class GroupAggregateOp(Operator):
    restored: Restored | None = None
    clock = staticmethod(now_ms)  # processing time of the state TTL (tests set their own)

    async def restore(self, restored: Restored) -> None:
        self.restored = restored  # loaded into the state database once it is open

    async def open(self) -> None:
        await self.ctx.run(self._prepare)
        if self.restored is not None:
            await self._load(self.restored)

    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, GroupAggregateSpec)
        for a in spec.aggs:
            A.check(a)
        self.spec = spec
        self.retracting = self.ctx.input_updating(0)
        self.schema = output_schema(self.node.schema, True)
        self.state = DuckDBState()
        self.ctx.install_functions(self.state.con)
        self.has_table = False
        keys = [q(k) for k in spec.keys]
        self.keys = keys
        sign = f"(CASE WHEN {q(ROW_KIND_COLUMN)} IN (0, 2) THEN 1 ELSE -1 END)" if self.retracting else "1"
        # accumulator deltas of the batch (an insert-only input needs no signs: plain counts)
        items = [f"sum({sign})::BIGINT AS __cnt" if self.retracting else "count(*)::BIGINT AS __cnt"]
        merge = ["coalesce(o.__cnt, 0) + b.__cnt AS __cnt"]
        self.acc_cols = ["__cnt"]
        # Aggregates that need their values (DISTINCT; MIN/MAX over retractions) keep them in
        # a table per aggregate; a batch runs a few set statements over it and yields the
        # aggregate's delta row per key in __dd<i>: (i, [(SQL, state-row sign)], CREATE SQL)
        self.distinct: list[tuple[str, list[tuple[str, int]], str]] = []
        distinct_cols: list[str] = []
        deltas: list[tuple[str, str]] = []  # (relation, alias) of per-key deltas joined in
        self.shared: dict[int, list[int]] = {}  # seen<g>: the aggregates whose values it keeps
        self.decimal_sums: set[int] = set()  # DECIMAL SUM and AVG: a NULL sum has overflowed
        # DISTINCT aggregates of one argument over an insert-only input share one table
        shared: dict[str, list[tuple[int, AggCall]]] = {}
        for i, a in enumerate(spec.aggs):
            if a.distinct and not self.retracting and a.func in ("count", "sum", "avg"):
                shared.setdefault(a.arg or "", []).append((i, a))
        self.ids = bool(shared) and bool(keys)  # the value tables name a key by its id
        self.rows = dv.Rows({members[0][0]: members for members in shared.values()}, keys) if shared else None
        # ``__rows`` of a batch of several keys, and of one (no join on the key columns)
        self.rows_sql = (self.rows.sql(), self.rows.sql(one_key=True)) if self.rows is not None else None
        self.next_id = 0
        self.python = (
            GroupPythonAggregates(self.ctx, spec.aggs, keys, self.retracting)
            if any(a.func == "udaf" for a in spec.aggs)
            else None
        )
        for i, a in enumerate(spec.aggs):
            if a.func == "udaf":  # computed in Python (``udaf``), joined into the delta
                merge += [f"b.u{i} AS u{i}", f"b.v{i} AS v{i}"]
                self.acc_cols += [f"u{i}", f"v{i}"]
                continue
            cond = f"({a.filter})" if a.filter else "true"
            # no FILTER clause without a FILTER: DuckDB evaluates FILTER (WHERE true) row by row
            only = f" FILTER (WHERE {cond})" if a.filter else ""
            minmax = a.func in ("min", "max")
            ordered = a.func in A.ORDERED
            scale = A.decimal_scale(a)
            if scale is not None:  # its sums NULL beyond 38 digits (``A.decimal_sum_call``)
                self.decimal_sums.add(i)
            recomputed = (
                ((minmax or ordered) and self.retracting)
                or (ordered and a.distinct)  # from the values live, not appended to
                or a.func in A.STATISTICS
                or a.func in ("collect", "percentile")
            )
            if ordered and (self.retracting or a.distinct):  # DISTINCT: which values are live
                steps, create = ordered_values(i, a, keys, sign)
                self.distinct.append((f"ord{i}", steps, create))
                deltas.append((f"__dd{i}", f"d{i}"))
                distinct_cols += [f"d{i}.s{i} AS s{i}", f"coalesce(d{i}.t{i}, false) AS t{i}"]
                cols = [f"s{i}"]
            elif (self.retracting and a.distinct) or recomputed:
                steps, create, cols = self._value_counts(i, a, sign)
                self.distinct.append((f"vals{i}", steps, create))
                deltas.append((f"__dd{i}", f"d{i}"))
                if recomputed:
                    distinct_cols += [f"d{i}.s{i} AS s{i}", f"coalesce(d{i}.t{i}, false) AS t{i}"]
                else:
                    distinct_cols += [_delta_col(f"d{i}", c, i, self.decimal_sums) for c in cols]
            elif a.distinct and not minmax:
                members = shared[a.arg or ""]
                g = members[0][0]
                if g == i:
                    self.shared[g] = [m for m, _ in members]
                    assert self.rows is not None
                    steps, create, dd = dv.seen_values(g, members, keys, self.rows)
                    self.distinct.append((f"seen{g}", steps, create))
                    deltas.append((f"({dd})", f"d{g}"))
                cols = [f"n{i}"] if a.func == "count" else [f"n{i}", f"s{i}"]
                distinct_cols += [_delta_col(f"d{g}", c, i, self.decimal_sums) for c in cols]
            elif a.func == "count_star":
                items.append(
                    f"sum(CASE WHEN {cond} THEN {sign} ELSE 0 END)::BIGINT AS n{i}"
                    if self.retracting
                    else f"count(*){only}::BIGINT AS n{i}"
                )
                cols = [f"n{i}"]
            elif a.func in ("count", "sum", "avg"):
                ok = f"{cond} AND ({a.arg}) IS NOT NULL"
                cols = [f"n{i}"] if a.func == "count" else [f"n{i}", f"s{i}"]
                wide = scale is not None
                if self.retracting:
                    items.append(f"sum(CASE WHEN {ok} THEN {sign} ELSE 0 END)::BIGINT AS n{i}")
                    if wide:  # a retraction subtracts its value
                        signed = f"(CASE WHEN {sign} = 1 THEN ({a.arg}) ELSE -({a.arg}) END)"
                        total = A.decimal_sum_call(signed, scale or 0, ok)
                        items.append(f"{_overflowed(f'count(*) FILTER (WHERE {ok})', total)} AS s{i}")
                    elif a.func != "count":
                        items.append(f"coalesce(sum(CASE WHEN {ok} THEN ({a.arg}) * {sign} END), 0) AS s{i}")
                else:
                    items.append(f"count({a.arg}){only}::BIGINT AS n{i}")
                    if wide:
                        total = A.decimal_sum_call(f"({a.arg})", scale or 0, a.filter or "")
                        items.append(f"{_overflowed(f'count({a.arg}){only}', total)} AS s{i}")
                    elif a.func != "count":
                        items.append(f"coalesce(sum({a.arg}){only}, 0) AS s{i}")
            elif ordered:  # over an insert-only input: the batch's value, merged in order
                items.append(f"{A.ordered_call(a.func, f'({a.arg})', '__seq', A.separator(a), cond)} AS s{i}")
                cols = [f"s{i}"]
            else:
                items.append(f"{a.func}({a.arg}){only} AS s{i}")
                cols = [f"s{i}"]
            for c in cols:
                if recomputed:  # recomputed from the value counts when touched
                    merge.append(f"CASE WHEN b.t{i} THEN b.{c} ELSE o.{c} END AS {c}")
                elif ordered:
                    merge.append(f"{ordered_merge(a, f'o.{c}', f'b.{c}')} AS {c}")
                elif minmax:
                    fn = "least" if a.func == "min" else "greatest"
                    merge.append(f"{fn}(o.{c}, b.{c}) AS {c}")
                elif i in self.decimal_sums and c == f"s{i}":
                    merge.append(f"{_decimal_merge(i)} AS {c}")
                else:
                    merge.append(f"coalesce(o.{c}, 0) + b.{c} AS {c}")
                self.acc_cols.append(c)
        k = ", ".join([*keys, ""])
        group = f" GROUP BY {', '.join(keys)}" if keys else ""
        self.delta_sql = f"SELECT {k}{', '.join(items)} FROM {INPUT_RELATION}{group}"
        if self.python is not None:
            self.delta_sql = self.python.wrap(self.delta_sql)
        batch_sql = self.delta_sql
        if deltas:  # the DISTINCT (and value-keeping) aggregates' deltas of the same keys
            by_id = {f"d{g}" for g in self.shared}  # the value tables' deltas, by id
            joins = "".join(
                f" LEFT JOIN {relation} {alias} ON "
                + (
                    f"m.{dv.ID} = {alias}.{dv.ID}"
                    if self.ids and alias in by_id
                    else " AND ".join(dv.same(keys, "m", alias)) or "true"
                )
                for relation, alias in deltas
            )
            # (with ids: the deltas with their keys' ids, ``__keys``, made before the values')
            delta = dv.KEYS if self.ids else f"({self.delta_sql})"
            batch_sql = f"SELECT m.*, {', '.join(distinct_cols)} FROM {delta} m{joins}"
        on = f"b.{dv.ID} = o.{dv.ID}" if self.ids else " AND ".join(dv.same(keys)) or "true"
        bk = ", ".join([*(f"b.{c}" for c in keys), *([f"b.{dv.ID}"] if self.ids else []), ""])
        old = [f"o.{c} AS o_{c}" for c in self.acc_cols]
        # the batch's deltas, aggregated and merged with the keys' stored accumulators in one
        # statement (a first batch creates ``acc`` from the same query)
        self.batch_sql = batch_sql
        self.join_sql = (
            f"CREATE OR REPLACE TEMP TABLE __joined AS SELECT {bk}{', '.join(merge)}, {', '.join(old)} "
            f"FROM ({batch_sql}) b LEFT JOIN acc o ON {on}"
        )
        # Each key's old and new results once, and whether it changed; the -U/-D and +I/+U
        # rows are cut from them in Arrow (``_changes``). Writing the results out twice, in
        # the rows and again in the conditions of a UNION, cost DuckDB twice the time.
        old_f = [final_from_accumulators(i, a, "o_") for i, a in enumerate(spec.aggs)]
        new_f = [final_from_accumulators(i, a, "") for i, a in enumerate(spec.aggs)]
        results = [
            *keys,
            *(f"{x} AS __o{i}" for i, x in enumerate(old_f)),
            *(f"{y} AS __n{i}" for i, y in enumerate(new_f)),
            "__cnt > 0 AS __live",
            "coalesce(o___cnt, 0) > 0 AS __had",
            # -U (1) if the key lives on, -D (3) if not; +U (2) if it had a result, +I (0)
            "(CASE WHEN __cnt > 0 THEN 1 ELSE 3 END)::TINYINT AS __old_kind",
            "(CASE WHEN coalesce(o___cnt, 0) > 0 THEN 2 ELSE 0 END)::TINYINT AS __new_kind",
        ]
        changed = " OR ".join(f"__o{i} IS DISTINCT FROM __n{i}" for i in range(len(spec.aggs))) or "false"
        self.emit_sql = (
            f"SELECT *, {changed} AS __changed FROM (SELECT {', '.join(results)} FROM __joined) "
            "WHERE __had OR __live"
        )
        self.emitted = False
        self.ordered = A.needs_seq(spec.aggs)  # rows get their arrival number __seq
        self.seq = 0  # the next row's (restored: after the largest one kept)
        self.ttl = StateTtl("acc", spec.ttl_ms) if spec.ttl_ms else None
        # a key's accumulators with their expiry: every touched key is written again below
        self.store_cols = ", ".join([*keys, *([dv.ID] if self.ids else []), *self.acc_cols])
        self.stored_cols = self.store_cols + (f", 0::BIGINT AS {EXPIRE_COLUMN}" if self.ttl else "")
        self.on = on
        self.width = 16 + 8 * (len(keys) + self.ids + len(self.acc_cols))

    def _value_counts(self, i: int, a: AggCall, sign: str) -> tuple[list[tuple[str, int]], str, list[str]]:
        """DISTINCT or MIN/MAX over an updating input, as Flink keeps them (a MapView of
        value -> count): a count per (key, value) that +I/+U raise and -U/-D lower. A value
        whose count goes above zero joins a DISTINCT aggregate, one whose count falls to
        zero leaves it; MIN/MAX of a key whose values changed is the least/greatest value
        still counted, so retracting the current MIN finds the next one."""
        keys = self.keys
        k = ", ".join([*keys, ""])
        bk = ", ".join([*(f"b.{c}" for c in keys), ""])
        cond = f"({a.filter})" if a.filter else "true"
        on_k = [f"b.{c} IS NOT DISTINCT FROM o.{c}" for c in keys]
        on_v = " AND ".join([*on_k, "b.__v = o.__v"])
        # a row counts once, or (PERCENTILE's frequency) as many times as its weight says
        weight = f"{sign} * greatest({a.args[1]}, 0)" if a.func == "percentile" and len(a.args) > 1 else sign
        vd = (
            f"SELECT {k}({a.arg}) AS __v, sum({weight})::BIGINT AS __c FROM {INPUT_RELATION} "
            f"WHERE {cond} AND ({a.arg}) IS NOT NULL GROUP BY ALL"
        )
        vm = (
            f"SELECT {bk}b.__v, coalesce(o.__c, 0) AS __old, coalesce(o.__c, 0) + b.__c AS __c "
            f"FROM __vd{i} b LEFT JOIN vals{i} o ON {on_v}"
        )
        if a.func in ("min", "max", "collect", "percentile", *A.STATISTICS):
            cols = [f"s{i}"]
            # a variance and COLLECT weigh each value by its count (DISTINCT: once)
            values = (
                f"vals{i}"
                if a.func in ("min", "max") or a.distinct
                else f"(SELECT __e.* FROM vals{i} __e, range(greatest(__e.__c, 0)))"
            )
            if a.func in A.STATISTICS:
                value = A.statistic_call(a.func, "o.__v", parse_type(a.type))
            elif a.func == "collect":
                value = A.collect_call("o.__v")
            elif a.func == "percentile":
                value = A.percentile_call("o.__v", a)
            else:
                value = f"{a.func}(o.__v)"
            dd = (
                f"SELECT {bk}{value} AS s{i}, true AS t{i} "
                f"FROM (SELECT DISTINCT {k}true AS __x FROM __vd{i}) b LEFT JOIN {values} o "
                f"ON {' AND '.join([*on_k, 'o.__c > 0'])} GROUP BY {bk}b.__x"
            )
        else:
            gained = "__old <= 0 AND __c > 0"
            lost = "__old > 0 AND __c <= 0"
            items = [f"sum(CASE WHEN {gained} THEN 1 WHEN {lost} THEN -1 ELSE 0 END)::BIGINT AS n{i}"]
            cols = [f"n{i}"]
            if a.func != "count":
                change = f"CASE WHEN {gained} THEN __v WHEN {lost} THEN -__v ELSE 0 END"
                scale = A.decimal_scale(a)
                if scale is None:
                    items.append(f"sum({change}) AS s{i}")
                else:  # NULL beyond 38 digits; 0 for no value in or out
                    moved = f"({gained}) OR ({lost})"
                    total = A.decimal_sum_call(change, scale, moved)
                    items.append(f"{_overflowed(f'count(*) FILTER (WHERE {moved})', total)} AS s{i}")
                cols.append(f"s{i}")
            gb = f" GROUP BY {', '.join(keys)}" if keys else ""
            dd = f"SELECT {k}{', '.join(items)} FROM __vm{i}{gb}"
        create = (
            f"CREATE TABLE vals{i} AS SELECT {k}({a.arg}) AS __v, 0::BIGINT AS __c "
            f"FROM {INPUT_RELATION} LIMIT 0"
        )
        steps = [
            (f"CREATE OR REPLACE TEMP TABLE __vd{i} AS {vd}", 0),
            (f"CREATE OR REPLACE TEMP TABLE __vm{i} AS {vm}", 0),
            (f"DELETE FROM vals{i} o USING __vm{i} b WHERE {on_v}", -1),
            (f"INSERT INTO vals{i} SELECT {k}__v, __c FROM __vm{i} WHERE __c <> 0", 1),
            (f"CREATE OR REPLACE TEMP TABLE __dd{i} AS {dd}", 0),
        ]
        return steps, create, cols

    def _expire(self, now: int) -> None:
        """Forget the keys whose TTL has run out at ``now``: their accumulators and the
        values DISTINCT or MIN/MAX keep for them, so their next row starts anew (+I)."""
        if self.ttl is None or not self.has_table or not self.ttl.due(now):
            return
        st = self.state
        if self.distinct:
            keys = ", ".join([*self.keys, *([dv.ID] if self.ids else [])]) or "true AS __all"
            expired = f"SELECT {keys} FROM acc WHERE {EXPIRE_COLUMN} <= {self.ttl.now(now)}"
            st.execute(f"CREATE OR REPLACE TEMP TABLE __gone AS {expired}")
            on = " AND ".join(f"b.{c} IS NOT DISTINCT FROM o.{c}" for c in self.keys) or "true"
            for table, _, _ in self.distinct:
                by = f"b.{dv.ID} = o.{dv.ID}" if self.ids and table.startswith("seen") else on
                self.metrics.state_rows -= st.execute(f"DELETE FROM {table} o USING __gone b WHERE {by}")
        gone = self.ttl.purge(st, now)
        self.metrics.state_rows -= gone
        self.metrics.state_rows_expired += gone
        self.metrics.state_bytes = self.metrics.state_rows * self.width

    def next_timer_ms(self) -> int | None:
        """When the oldest key expires, so that a quiet stream's state is dropped too."""
        if self.ttl is None or not self.metrics.state_rows:
            return None
        return self.ttl.next_due

    async def on_timer(self, now: int) -> list[Message]:
        await self.ctx.run(self._expire, self.clock())
        return []

    def _orphan_retractions_dropped(self, batch: pa.RecordBatch) -> pa.Table:
        """``batch`` without the retractions of keys that have no state (expired) and no
        accumulate before them in the batch: Flink's GroupAggFunction ignores a retraction
        when it finds no accumulators, rather than count a value below zero."""
        st = self.state
        rk = q(ROW_KIND_COLUMN)
        pos = pa.array(np.arange(batch.num_rows, dtype=np.int64))  # not __seq: LISTAGG's order
        st.register(INPUT_RELATION, batch.append_column("__pos", pos))
        try:
            part = f"PARTITION BY {', '.join(self.keys)} " if self.keys else ""
            before = (
                f"coalesce(bool_or({rk} IN (0, 2)) OVER ({part}ORDER BY __pos "
                "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false)"
            )
            on = " AND ".join(f"o.{c} IS NOT DISTINCT FROM i.{c}" for c in self.keys) or "true"
            marked = f"SELECT *, {before} AS __before FROM {INPUT_RELATION}"
            return st.query(
                f"SELECT * EXCLUDE (__pos, __before) FROM ({marked}) i WHERE {rk} IN (0, 2) OR __before "
                f"OR EXISTS (SELECT 1 FROM acc o WHERE {on}) ORDER BY __pos"
            )
        finally:
            st.con.unregister(INPUT_RELATION)

    def _process(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        st = self.state
        now = self.clock()
        self._expire(now)
        if self.ordered:
            batch = stamp(batch, self.seq)
            self.seq += batch.num_rows
        data: pa.RecordBatch | pa.Table = batch
        if self.ttl is not None and self.retracting and self.has_table:
            data = self._orphan_retractions_dropped(batch)
        st.register(INPUT_RELATION, data)
        try:
            if self.python is not None:
                st.register("__udaf", self.python.step(st.con, self.has_table))
            keys = 0
            if self.ids:
                keys = st.execute(dv.keys_sql(self.keys, self.delta_sql, self.next_id, not self.has_table))
                self.next_id += data.num_rows  # (at most one new key a row)
            if self.rows_sql is not None:
                st.execute(self.rows_sql[keys == 1])
            for table, steps, create in self.distinct:
                if not self.has_table:
                    st.execute(create)
                    st.tables.append(table)
                for sql, rows_sign in steps:
                    changed = st.execute(sql)
                    if rows_sign:
                        self.metrics.state_rows += rows_sign * changed
            if not self.has_table:
                st.execute(f"CREATE TABLE acc AS SELECT {self.stored_cols} FROM ({self.batch_sql}) LIMIT 0")
                st.tables.append("acc")
                self.has_table = True
            st.execute(self.join_sql)
        finally:
            st.con.unregister(INPUT_RELATION)
            if self.python is not None:
                st.con.unregister("__udaf")
        table = self._changes(st.results(self.emit_sql))
        self.emitted = self.emitted or table.num_rows > 0
        # every touched key's row is written again (with its new expiry); a key whose rows
        # were all retracted is not
        if self.keys:
            removed = st.execute(f"DELETE FROM acc o USING __joined b WHERE {self.on}")
        else:
            removed = st.execute("DELETE FROM acc")
        expiry = f", {self.ttl.expiry(now)}" if self.ttl else ""
        added = st.execute(f"INSERT INTO acc SELECT {self.store_cols}{expiry} FROM __joined WHERE __cnt > 0")
        self.metrics.state_rows += added - removed
        self.metrics.state_bytes = self.metrics.state_rows * self.width
        return conform(table, self.schema)

    def _changes(self, results: pa.Table) -> pa.Table:
        """The changelog of the touched keys (``results``: each key's old and new result):
        -U of the old result of a key that changed, or -D of a key whose rows were all
        retracted, then +I of a new key's result or +U of a changed one (all -U before all
        +U, as Flink's rows of one batch come)."""
        nk, na = len(self.keys), len(self.spec.aggs)
        live, had, changed = (results.column(c) for c in ("__live", "__had", "__changed"))
        olds = results.filter(pc.and_(had, pc.or_(pc.invert(live), changed)))
        news = results.filter(pc.and_(live, pc.or_(pc.invert(had), changed)))
        parts = [  # (no pa.scalar here: its first call imports pandas, ~0.2 CPU s a job)
            pa.Table.from_arrays(
                [*part.columns[:nk], *part.columns[first : first + na], part.column(kind)],
                names=self.schema.names,
            )
            for part, first, kind in ((olds, nk, "__old_kind"), (news, nk + na, "__new_kind"))
        ]
        # one batch, not two: the next operator's statements run once per batch
        return pa.concat_tables(parts).combine_chunks()

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        return list(await self.ctx.run(self._process, batch))

    async def on_end_of_input(self) -> list[Message]:
        """In batch mode (``execution.runtime-mode`` = batch), a global aggregate (no GROUP
        BY) over an input that had no rows still answers one row, as Flink's batch mode
        does: COUNT is 0, COLLECT an empty multiset, the others NULL. Flink's streaming mode
        emits nothing then."""
        if self.keys or self.emitted or RUNTIME_MODE.get(self.ctx.config) != "batch":
            return []
        self.emitted = True
        empty = {"count": "0", "count_star": "0", "collect": "[]"}
        values = [
            f"CAST({empty.get(a.func, 'NULL')} AS {parse_type(a.type).duckdb()})" for a in self.spec.aggs
        ]
        sql = f"SELECT {', '.join([*values, '0::TINYINT'])}"
        return list(await self.ctx.run(lambda: conform(self.state.query(sql), self.schema)))

    # ---- checkpoints ----------------------------------------------------------------------
    async def snapshot(self, checkpoint_id: int) -> Snapshot:
        return Snapshot(db=self.state)

    async def _load(self, restored: Restored) -> None:
        if not restored.files:
            return
        seen = [f"seen{g}" for g in self.shared]
        select = dv.RescaledSelect(self.state, seen) if self.ids else None
        tables = await self.ctx.run(load_snapshot, self.state, restored, select)
        await self.ctx.run(self._shared_seen_tables, tables)
        self.has_table = "acc" in tables
        if self.ids and self.has_table:
            await self.ctx.run(dv.add_ids, self.state, self.keys, seen)
            self.next_id = await self.ctx.run(dv.next_id, self.state)
        if self.has_table:
            rows = await self.ctx.run(self.state.scalar, "SELECT count(*) FROM acc")
            self.emitted = int(rows) > 0
        for table in (t for t in tables if t.startswith("ord")):
            largest = await self.ctx.run(self.state.scalar, f"SELECT max(__s) FROM {table}")
            self.seq = max(self.seq, int(largest if largest is not None else -1) + 1)
            self.metrics.state_rows = int(rows)
            self.metrics.state_bytes = self.metrics.state_rows * self.width

    def _shared_seen_tables(self, tables: list[str]) -> None:
        """A checkpoint of an earlier version kept a ``seen<i>`` table (key, value) for each
        DISTINCT aggregate: those of one argument are merged into its shared table, with
        each aggregate's flag set where its own table held the value."""
        st = self.state
        k = ", ".join([*self.keys, ""])
        for g, members in self.shared.items():
            flagged = st.scalar(
                f"SELECT count(*) FROM duckdb_columns() WHERE table_name = 'seen{g}' AND column_name = 'f{g}'"
            )
            old = [i for i in members if f"seen{i}" in tables]
            if not old or flagged:
                continue
            parts = " UNION ALL ".join(f"SELECT {k}__v, {i} AS __t FROM seen{i}" for i in old)
            flags = ", ".join(f"bool_or(__t = {i}) AS f{i}" for i in members)
            st.execute(f"CREATE TABLE __shared AS SELECT {k}__v, {flags} FROM ({parts}) GROUP BY {k}__v")
            for i in old:
                st.execute(f"DROP TABLE seen{i}")
                st.tables.remove(f"seen{i}")
                tables.remove(f"seen{i}")
            st.execute(f"ALTER TABLE __shared RENAME TO seen{g}")
            st.tables.append(f"seen{g}")
            tables.append(f"seen{g}")

    async def close(self) -> None:
        if hasattr(self, "state"):
            self.state.close()


def state_view(spec: GroupAggregateSpec, relation: str) -> str:
    """SQL over the ``acc`` state of every subtask (``relation``, with a ``subtask``
    column): one readable row per key with its current result and how many input rows
    it counts (``row_count``, retractions subtracted). Used by ``sqlstream state``."""
    keys = [q(k) for k in spec.keys]
    aggs = [f"{final_from_accumulators(i, a, '')} AS {q(a.name)}" for i, a in enumerate(spec.aggs)]
    cols = ", ".join(["subtask", *keys, "__cnt AS row_count", *aggs])
    return f"SELECT {cols} FROM {relation} ORDER BY {', '.join(['subtask', *keys])}"
