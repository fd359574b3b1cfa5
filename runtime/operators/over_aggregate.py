"""OVER aggregation on event time (Flink's row-time OverAggregate): rows wait until the
watermark passes them, then are emitted in time order, each with its aggregates over its
frame in its partition.

State, keyed by the partition columns: ``pending``, the rows the watermark has not passed,
and for a bounded frame ``history``, the emitted rows a later row's frame can still reach
(the last ``n`` of a partition for ROWS, those within the interval of the watermark for
RANGE); for an UNBOUNDED frame ``acc`` instead, one row of accumulators per partition
(count, and per argument its count, sum, min and max; for LISTAGG, FIRST_VALUE, LAST_VALUE
and COLLECT their value so far; for LAG(.., n) the partition's last n values, as Flink's
LagAggFunction keeps them), as Flink keeps them. Each row
carries its time in ms (``__t``), its arrival number (``__seq``: rows of one time are
ordered by arrival, as Flink's list per timestamp) and its aggregate arguments (``a<i>``,
``a<i>_<j>`` for a Python aggregate). A Python aggregate (``@udaf``) folds each row's
frame afresh when the frame is bounded, and keeps one pickled accumulator per partition in
``pyacc`` when it is UNBOUNDED (``runtime.operators.udaf``).

When the watermark advances to ``w``, the pending rows with time <= ``w`` are computed in
one query with DuckDB window functions over history and those rows, then move to
history. Rows that arrive with a time at or before the watermark already passed are late:
dropped and counted, as Flink does, and sent to ``table.exec.late-rows.sink`` if set.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from catalog.types import BIGINT, DataType, parse_type
from planner.numeric import float_to_integral_sql, wrap_sql
from planner.physical import INPUT_RELATION, AggCall, OverAggregateSpec
from runtime.batches import conform, output_schema, q
from runtime.operators import aggs as A
from runtime.operators import udaf
from runtime.operators.arrival import PendingUntilWatermark
from runtime.operators.late_rows import keeps_late_rows
from runtime.operators.ordered import ordered_merge


class OverAggregateOp(PendingUntilWatermark):
    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, OverAggregateSpec)
        for a in spec.aggs:
            A.check(a)
        self.spec = spec
        self.schema = output_schema(self.node.schema, False)
        fields = self.ctx.input_nodes[0].schema
        self.cols = [q(f.name) for f in fields]
        self.keys = [q(k) for k in spec.partition_keys]
        args = [f"({a.arg}) AS a{i}" for i, a in enumerate(spec.aggs) if a.arg is not None]
        args += [item for i, a in enumerate(spec.aggs) if a.func == "udaf" for item in udaf.raw_items(i, a)]
        self.read_sql = (
            f"SELECT {', '.join([*self.cols, *args])}, epoch_ms({q(spec.time_column)}) AS __t, __seq "
            f"FROM {INPUT_RELATION} WHERE {q(spec.time_column)} IS NOT NULL"
        )
        self.unbounded = spec.preceding is None
        self.past = "acc" if self.unbounded else "history"
        tables = {"pending": self.read_sql}  # rows not fired yet; the frames' reach, or ``acc``
        # A bounded frame's DECIMAL SUM and AVG stay NULL in a partition from the first frame
        # whose sum overflowed on (Flink's accumulator, which retracts the rows that leave the
        # frame, stays NULL): the partitions' flags, in ``overflowed``
        decimal = [i for i, a in enumerate(spec.aggs) if A.decimal_scale(a) is not None]
        self.sticky = [] if self.unbounded else decimal
        if not self.unbounded:
            tables["history"] = self.read_sql
        if self.sticky:
            flags = ", ".join(f"false AS o{i}" for i in self.sticky)
            tables["overflowed"] = f"SELECT {', '.join([*self.keys, flags])} FROM {INPUT_RELATION}"
        self._new_state(fields, tables)
        has_python = any(a.func == "udaf" for a in spec.aggs)
        self.python = (
            udaf.OverPythonAggregates(self.ctx, spec.aggs, self.keys, spec.rows)
            if has_python and self.unbounded
            else None
        )
        if has_python and not self.unbounded:
            udaf.install_window_calls(self.ctx, self.state.con, spec.aggs)
        k = ", ".join([*self.keys, ""])
        items = ["count(*)::BIGINT AS n"]
        self.ordered: dict[str, AggCall] = {}  # accumulator -> its aggregate (ordered_merge)
        self.lags: dict[str, int] = {}  # LAG's accumulator -> its offset: the last values kept
        self.decimal_sums: dict[str, str] = {}  # a DECIMAL sum's accumulator -> its count's
        for i, a in enumerate(spec.aggs):
            if a.func == "lag":
                self.lags[f"l{i}"] = lag_offset(a)
                items.append(f"{_last_values(f'list(a{i} ORDER BY __t, __seq)', lag_offset(a))} AS l{i}")
            elif a.func in (*A.ORDERED, "collect", "percentile"):
                name, value = _ordered_accumulator(i, a)
                items.append(f"{value} AS {name}")
                self.ordered[name] = a
            elif a.arg is not None:  # only what the function reads: a STRING has no sum
                items.append(f"count(a{i})::BIGINT AS c{i}")
                if a.func in ("sum", "avg"):
                    scale = A.decimal_scale(a)
                    if scale is not None:  # NULL beyond 38 digits, kept NULL (``_accumulate``)
                        self.decimal_sums[f"s{i}"] = f"c{i}"
                    total = f"sum(a{i})" if scale is None else A.decimal_sum_call(f"a{i}", scale)
                    items.append(f"{total} AS s{i}")
                if a.func in ("min", "max"):
                    items += [f"min(a{i}) AS lo{i}", f"max(a{i}) AS hi{i}"]
        group = f" GROUP BY {', '.join(self.keys)}" if self.keys else ""
        self.acc_sql = f"SELECT {k}{', '.join(items)} FROM __ready{group}"
        if self.unbounded:
            self.state.execute(f"CREATE TABLE acc AS {self.acc_sql.replace('__ready', 'pending')} LIMIT 0")
            self.state.tables.append("acc")
            if self.python is not None:
                self.python.create_table(self.state.con, "pending")
                self.state.tables.append("pyacc")
        self.on = " AND ".join(f"r.{c} IS NOT DISTINCT FROM a.{c}" for c in self.keys) or "true"
        part = f"PARTITION BY {', '.join(self.keys)} " if self.keys else ""
        if spec.rows:
            frame = "UNBOUNDED PRECEDING" if spec.preceding is None else f"{spec.preceding} PRECEDING"
            window = f"{part}ORDER BY __t, __seq ROWS BETWEEN {frame} AND CURRENT ROW"
        else:
            frame = "UNBOUNDED PRECEDING" if spec.preceding is None else f"{spec.preceding} PRECEDING"
            window = f"{part}ORDER BY __t RANGE BETWEEN {frame} AND CURRENT ROW"
        finals = ", ".join(
            f"{_lag_final(i, a, self.keys) if a.func == 'lag' else over_sql(i, a, self.unbounded)} "
            f"AS {q(a.name)}"
            for i, a in enumerate(spec.aggs)
        )
        cols = ", ".join(self.cols)
        if self.unbounded:  # the frame's rows before this firing are in the accumulators
            acc = ", ".join(f"a.{c} AS __a_{c}" for c in ("n", *(x.rsplit(" AS ", 1)[1] for x in items[1:])))
            joined = f"(SELECT r.*, {acc} FROM __ready r LEFT JOIN acc a ON {self.on})"
            if self.lags:  # each row's LAG by position first: window functions do not nest
                lagged = ", ".join(
                    f"{_lag_by_position(i, a)} AS __l{i}" for i, a in enumerate(spec.aggs) if a.func == "lag"
                )
                joined = f"(SELECT *, {lagged} FROM {joined} WINDOW r AS ({part}ORDER BY __t, __seq))"
            self.fire_sql = (
                f"SELECT {cols}, {finals} FROM {joined} WINDOW w AS ({window}) ORDER BY __t, __seq"
            )
        else:  # only the history of the partitions that fire
            reached = (
                f"history r SEMI JOIN (SELECT DISTINCT {', '.join(self.keys)} FROM __ready) a ON {self.on}"
                if self.keys
                else "history"
            )
            self.fire_sql = (
                f"SELECT {cols}, {finals} FROM (SELECT *, 0 AS __emit FROM {reached} UNION ALL "
                f"SELECT *, 1 FROM __ready) WINDOW w AS ({window}) QUALIFY __emit = 1 ORDER BY __t, __seq"
            )
            if self.sticky:
                self.fire_sql = self._sticky_sql(reached, cols, finals, window)
        self.width = 16 + 8 * (len(self.cols) + len(args) + 2)
        self.keeps_late_rows = keeps_late_rows(self.node, self.ctx.plan)
        self.time_column = self.spec.time_column

    def _sticky_sql(self, reached: str, cols: str, finals: str, window: str) -> str:
        """The firing's query when a bounded frame has DECIMAL sums (``self.sticky``): each
        row's frame is marked when its sum overflowed (``__ov<i>``), and the sum is NULL from
        the first marked row of a partition on, or throughout when an earlier firing marked
        it (``overflowed``); ``__st<i>`` says so, for ``_remember``."""
        aggs = self.spec.aggs
        sums = {
            i: A.decimal_sum_call(f"a{i}", A.decimal_scale(aggs[i]) or 0, over="w", distinct=aggs[i].distinct)
            for i in self.sticky
        }
        marks = ", ".join(f"({sums[i]} IS NULL AND count(a{i}) OVER w > 0) AS __ov{i}" for i in self.sticky)
        inner = (
            f"SELECT {cols}, __t, __seq, {finals}, {marks} FROM (SELECT *, 0 AS __emit FROM {reached} "
            f"UNION ALL SELECT *, 1 FROM __ready) WINDOW w AS ({window}) QUALIFY __emit = 1"
        )
        on = " AND ".join(f"f.{c} IS NOT DISTINCT FROM o.{c}" for c in self.keys) or "true"
        fpart = f"PARTITION BY {', '.join(f'f.{c}' for c in self.keys)} " if self.keys else ""
        running = f"OVER ({fpart}ORDER BY f.__t, f.__seq ROWS UNBOUNDED PRECEDING)"
        stuck = ", ".join(
            f"coalesce(o.o{i}, false) OR bool_or(f.__ov{i}) {running} AS __st{i}" for i in self.sticky
        )
        flagged = f"SELECT f.*, {stuck} FROM ({inner}) f LEFT JOIN overflowed o ON {on}"
        names = [q(a.name) for a in aggs]
        values = [
            f"CASE WHEN __st{i} THEN NULL ELSE {n} END AS {n}" if i in self.sticky else n
            for i, n in enumerate(names)
        ]
        return (
            f"SELECT {cols}, {', '.join(values)}, {', '.join(f'__st{i}' for i in self.sticky)} "
            f"FROM ({flagged}) ORDER BY __t, __seq"
        )

    def _remember(self, out: pa.Table) -> pa.Table:
        """The partitions a firing marked overflowed (``__st<i>``) kept in ``overflowed``;
        ``out`` without those columns."""
        marks = [f"__st{i}" for i in self.sticky]
        st = self.state
        st.register("__fired", out.select([*self.spec.partition_keys, *marks]))
        try:
            k = ", ".join([*self.keys, ""])
            flags = ", ".join(f"bool_or(__st{i})" for i in self.sticky)
            gb = f" GROUP BY {', '.join(self.keys)}" if self.keys else ""
            any_mark = " OR ".join(f"bool_or(__st{i})" for i in self.sticky)
            flagged = f"SELECT {k}{flags} FROM __fired{gb} HAVING {any_mark}"
            st.execute(f"CREATE OR REPLACE TEMP TABLE __flags AS {flagged}")
        finally:
            st.con.unregister("__fired")
        on = " AND ".join(f"o.{c} IS NOT DISTINCT FROM f.{c}" for c in self.keys) or "true"
        st.execute(f"DELETE FROM overflowed o USING __flags f WHERE {on}")
        st.execute("INSERT INTO overflowed SELECT * FROM __flags")
        return out.drop_columns(marks)

    # ---- firing ---------------------------------------------------------------------
    def _fire(self, bound: int) -> list[pa.RecordBatch]:
        st = self.state
        st.execute(f"CREATE OR REPLACE TEMP TABLE __ready AS SELECT * FROM pending WHERE __t <= {bound}")
        if not st.scalar("SELECT count(*) FROM __ready"):
            return []
        out = st.query(self.fire_sql)
        if self.sticky:
            out = self._remember(out)
        st.execute(f"DELETE FROM pending WHERE __t <= {bound}")
        if self.python is not None:
            width = len(self.cols)
            for i, values in self.python.fire(st.con).items():
                out = out.set_column(width + i, out.schema.field(width + i).name, values)
        if self.unbounded:
            self._accumulate()
        else:
            st.execute("INSERT INTO history SELECT * FROM __ready")
            self._prune(bound)
        self._report()
        return conform(out, self.schema)

    def _accumulate(self) -> None:
        """Fold the fired rows into their partitions' accumulators (UNBOUNDED frames)."""
        st = self.state
        st.execute(f"CREATE OR REPLACE TEMP TABLE __d AS {self.acc_sql}")
        cols = [c for c in st.con.execute("SELECT * FROM __d LIMIT 0").description or ()]
        names = [c[0] for c in cols][len(self.keys) :]
        merged = []
        for name in names:
            fn = "least" if name.startswith("lo") else "greatest" if name.startswith("hi") else None
            if name in self.lags:
                kept = _last_values(f"list_concat(a.{name}, r.{name})", self.lags[name])
                merged.append(f"{kept} AS {name}")
            elif name in self.ordered:
                merged.append(f"{ordered_merge(self.ordered[name], f'a.{name}', f'r.{name}')} AS {name}")
            elif fn:
                merged.append(f"{fn}(a.{name}, r.{name}) AS {name}")
            elif name in self.decimal_sums:
                c = self.decimal_sums[name]
                total = A.decimal_merge_sql(f"a.{name}", f"a.{c}", f"r.{name}", f"r.{c}")
                merged.append(f"{total} AS {name}")
            else:
                merged.append(f"coalesce(a.{name}, 0) + coalesce(r.{name}, 0) AS {name}")
        k = ", ".join([*(f"r.{c}" for c in self.keys), ""])
        st.execute(
            f"CREATE OR REPLACE TEMP TABLE __m AS "
            f"SELECT {k}{', '.join(merged)} FROM __d r LEFT JOIN acc a ON {self.on}"
        )
        if self.keys:
            st.execute(f"DELETE FROM acc a USING __d r WHERE {self.on}")
        else:
            st.execute("DELETE FROM acc")
        st.execute("INSERT INTO acc SELECT * FROM __m")

    def _prune(self, bound: int) -> None:
        """Drop the history no later row's frame reaches: later rows have times > bound."""
        spec = self.spec
        if spec.preceding is None:
            return
        if not spec.rows:
            self.state.execute(f"DELETE FROM history WHERE __t < {bound} - {spec.preceding}")
            return
        part = f"PARTITION BY {', '.join(self.keys)} " if self.keys else ""
        self.state.execute(
            f"DELETE FROM history WHERE rowid IN (SELECT rid FROM (SELECT rowid AS rid, row_number() "
            f"OVER ({part}ORDER BY __t DESC, __seq DESC) AS n FROM history) WHERE n > {spec.preceding})"
        )


_ORDER = "[__t, __seq]"  # a frame's order: time, then arrival


def lag_offset(agg: AggCall) -> int:
    """LAG's offset (the binder makes it an integer literal)."""
    return int(agg.args[0])


def _last_values(values: str, n: int) -> str:
    """The last ``n`` elements of the list ``values``: what LAG keeps of a partition."""
    return f"({values})[-{n}:]" if n else "[]"


def _lag_by_position(i: int, agg: AggCall) -> str:
    """LAG(a<i>, n) of each fired row as if each were the last of its time: the row n
    before it in window ``r`` (the partition's fired rows by time, then arrival), or, for
    the first n, one of the values earlier firings kept (accumulator ``l<i>``, oldest first), or
    the default when the partition has not seen n rows before it."""
    n = lag_offset(agg)
    if n == 0:
        return f"a{i}"
    default = agg.args[1] if len(agg.args) > 1 else "NULL"
    accumulator = f"l{i}"
    values = f"__a_{accumulator}"  # as the fire query joins it in
    kept = f"coalesce(len({values}), 0)"
    return (
        f"CASE WHEN row_number() OVER r > {n} THEN lag(a{i}, {n}) OVER r "
        f"WHEN {kept} + row_number() OVER r > {n} THEN {values}[{kept} + row_number() OVER r - {n}] "
        f"ELSE {default} END"
    )


def _lag_final(i: int, agg: AggCall, keys: list[str]) -> str:
    """LAG as Flink's RANGE frame gives it: rows of one time are accumulated together, so
    each takes the value of the last of them (by arrival)."""
    part = ", ".join([*keys, "__t"])
    value = f"first_value(__l{i}) OVER (PARTITION BY {part} ORDER BY __seq DESC)"
    return f"CAST({value} AS {parse_type(agg.type).duckdb()})"


def _ordered_value(i: int, agg: AggCall, w: str = "w") -> str:
    """LISTAGG, ARRAY_AGG, FIRST_VALUE, LAST_VALUE or COLLECT over window ``w`` (rows of the
    frame)."""
    if agg.func in ("collect", "percentile"):
        return f"list(a{i} ORDER BY a{i}) FILTER (WHERE a{i} IS NOT NULL) OVER {w}"
    if agg.func == "array_agg":
        return f"list(a{i} ORDER BY __t, __seq) OVER {w}"
    if agg.func == "listagg":
        return f"string_agg(a{i}, {A.separator(agg)} ORDER BY __t, __seq) OVER {w}"
    pick = "arg_min" if agg.func == "first_value" else "arg_max"
    return f"{pick}(a{i}, {_ORDER}) FILTER (WHERE a{i} IS NOT NULL) OVER {w}"


def _batch_ordered_value(i: int, agg: AggCall, w: str) -> str:
    """``_ordered_value`` in batch mode: in the order of the window's ORDER BY."""
    if agg.func == "array_agg":
        return f"list(a{i}) OVER {w}"
    if agg.func == "listagg":
        return f"string_agg(a{i}, {A.separator(agg)}) OVER {w}"
    if agg.func in ("first_value", "last_value"):  # of the values that are not NULL, as Flink's
        return f"{agg.func}(a{i} IGNORE NULLS) OVER {w}"
    return _ordered_value(i, agg, w)


def _ordered_accumulator(i: int, agg: AggCall) -> tuple[str, str]:
    """An UNBOUNDED frame's accumulator of an ordered aggregate or COLLECT: its column and
    its value over the fired rows (``__ready``); ``ordered_merge`` merges a firing's into it."""
    if agg.func in ("collect", "percentile"):  # PERCENTILE: the values so far
        return f"o{i}", f"list(a{i} ORDER BY a{i}) FILTER (WHERE a{i} IS NOT NULL)"
    if agg.func == "array_agg":
        return f"o{i}", f"list(a{i} ORDER BY __t, __seq)"
    if agg.func == "listagg":
        return f"o{i}", f"string_agg(a{i}, {A.separator(agg)} ORDER BY __t, __seq)"
    pick = "arg_min" if agg.func == "first_value" else "arg_max"
    return f"o{i}", f"{pick}(a{i}, {_ORDER}) FILTER (WHERE a{i} IS NOT NULL)"


def over_sql(i: int, agg: AggCall, unbounded: bool, w: str = "w", batch: bool = False) -> str:
    """The aggregate (argument ``a<i>``) over window ``w`` as its Flink type;
    ``unbounded``: plus what the partition's accumulators (``__a_<name>``) hold from
    earlier firings; ``batch``: the rows have no arrival time and number (``__t``, ``__seq``),
    a frame's order is the window's own."""
    t = parse_type(agg.type)
    if agg.func in ("lag", "lead"):  # batch mode's (a stream's LAG: _lag_final)
        default = f", {agg.args[1]}" if len(agg.args) > 1 else ""
        return f"CAST({agg.func}(a{i}, {agg.args[0]}{default}) OVER {w} AS {t.duckdb()})"
    if agg.func == "udaf":  # UNBOUNDED: filled in by the partition's kept accumulator
        return f"NULL::{t.duckdb()}" if unbounded else udaf.over_call(i, agg, w)
    if agg.func in (*A.ORDERED, "collect", "percentile"):
        value = _batch_ordered_value(i, agg, w) if batch else _ordered_value(i, agg, w)
        if unbounded:  # what earlier firings accumulated, merged with this frame's rows
            value = ordered_merge(agg, f"__a_o{i}", value)
        if agg.func == "collect":
            value = f"coalesce({value}, [])"
        if agg.func == "percentile":  # of the frame's values (NULL for none)
            value = f"list_aggregate(CAST({value} AS DOUBLE[]), 'quantile_cont', {agg.args[0]})"
        return f"CAST({value} AS {t.duckdb()})"
    if agg.func in A.STATISTICS:  # only over a bounded frame (the binder's rule)
        return _over_statistic(agg.func, f"a{i}", t, w)
    d = "DISTINCT " if agg.distinct else ""  # only over a bounded frame (the binder's rule)
    scale = A.decimal_scale(agg)
    if scale is not None:  # a DECIMAL SUM or AVG: NULL beyond 38 digits
        return _decimal_over(i, agg, t, scale, unbounded, w)
    n = f"count(*) OVER {w}"
    c = f"count({d}a{i}) OVER {w}"
    total = f"sum({d}a{i}) OVER {w}"
    lo, hi = f"min(a{i}) OVER {w}", f"max(a{i}) OVER {w}"
    if unbounded:
        n = f"(coalesce(__a_n, 0) + {n})"
        if agg.arg is not None:
            c = f"(coalesce(__a_c{i}, 0) + {c})"
            total = f"(CASE WHEN {c} = 0 THEN NULL ELSE coalesce(__a_s{i}, 0) + coalesce({total}, 0) END)"
            lo, hi = f"least(__a_lo{i}, {lo})", f"greatest(__a_hi{i}, {hi})"
    if agg.func == "count_star":
        return f"CAST({n} AS {t.duckdb()})"
    if agg.func == "count":
        return f"CAST({c} AS {t.duckdb()})"
    if agg.func == "avg":
        if t.name == "DECIMAL":
            return _after_window({"s": total, "c": c}, lambda v: A.avg_sql(v["s"], v["c"], t))
        return A.avg_sql(total, c, t)
    if agg.func == "sum":
        if t.name == "DECIMAL":
            return _after_window({"s": total}, lambda v: A.result_sql(v["s"], t))
        return A.result_sql(total, t)
    return f"CAST({lo if agg.func == 'min' else hi} AS {t.duckdb()})"


def _decimal_over(i: int, agg: AggCall, t: DataType, scale: int, unbounded: bool, w: str) -> str:
    """A DECIMAL SUM or AVG OVER ``w``: the frame's sum, NULL once it leaves 38 digits
    (``A.decimal_sum_call``), added to the partition's accumulated one (``unbounded``) inside
    the final's lambda, where it may TRY (``A.decimal_merge_sql``)."""
    d = "DISTINCT " if agg.distinct else ""  # only over a bounded frame (the binder's rule)
    total = A.decimal_sum_call(f"a{i}", scale, over=w, distinct=agg.distinct)
    values = {"s": total, "c": f"count({d}a{i}) OVER {w}"}
    if unbounded:
        values |= {"a": f"__a_s{i}", "n": f"__a_c{i}"}

    def final(v: dict[str, str]) -> str:
        s, c = v["s"], v["c"]
        if unbounded:
            s = A.decimal_merge_sql(v["a"], v["n"], s, c)
            c = f"(coalesce({v['n']}, 0) + {c})"
        if agg.func == "avg":
            return A.avg_sql(s, c, t)
        return f"CASE WHEN {c} = 0 THEN NULL ELSE {A.result_sql(s, t)} END"

    return _after_window(values, final)


def _after_window(values: dict[str, str], final: Callable[[dict[str, str]], str]) -> str:
    """``final`` of window values, for a final that TRYs (a DECIMAL's overflow is NULL):
    DuckDB binds no window function inside TRY, but a lambda's body over a one-element
    list of them is outside the window."""
    struct = ", ".join(f"'{k}': {v}" for k, v in values.items())
    return f"list_transform([{{{struct}}}], lambda __x: {final({k: f'__x.{k}' for k in values})})[1]"


def _over_statistic(func: str, x: str, t: DataType, w: str) -> str:
    """A variance or deviation OVER window ``w`` as Flink computes it there: reduced (Calcite's
    AggregateReduceFunctionsRule) to (SUM(x * x) - SUM(x) * SUM(x) / COUNT(x)) / COUNT(x)
    (or COUNT(x) - 1, NULL for one value), each step in the argument's type: an INT's squares
    and sums wrap around and the divisions truncate, so -7, 0 has STDDEV_SAMP 5 (sqrt 25), not
    4; a FLOAT's are FLOATs (a frame's sums are added in DOUBLE, then rounded: Flink adds in
    FLOAT, which differs in the last bit over long frames). (A GROUP BY's variance is exact:
    ``aggs.statistic_call``.)"""
    n = f"nullif(count({x}) OVER {w}, 0)"  # NULL over no value (DuckDB's // by 0 fails)
    denominator = n if func.endswith("pop") else f"(CASE WHEN {n} = 1 THEN NULL ELSE {n} - 1 END)"
    if t.is_integral:
        squares = wrap_sql(
            f"sum({wrap_sql(f'CAST({x} AS HUGEINT) * {x}', t, via='HUGEINT')}) OVER {w}", t, via="HUGEINT"
        )
        total = wrap_sql(f"sum({x}) OVER {w}", t, via="HUGEINT")
        mean_square = f"{wrap_sql(f'CAST({total} AS HUGEINT) * {total}', t, via='HUGEINT')} // {n}"
        diff = wrap_sql(f"CAST({squares} AS HUGEINT) - {mean_square}", BIGINT, via="HUGEINT")  # a long
        variance = f"({diff} // {denominator})"
        if func.startswith("stddev"):  # Java's Math.pow(v, 0.5): NaN below zero, cast to 0
            root = f"CASE WHEN {variance} < 0 THEN 'NaN'::DOUBLE ELSE sqrt(CAST({variance} AS DOUBLE)) END"
            return float_to_integral_sql(root, t)
        return wrap_sql(variance, t, via="HUGEINT")
    if t.name == "FLOAT":  # each step in FLOAT: 3.4e38 squared is infinite, and the variance NaN
        v = f"CAST({x} AS FLOAT)"
        total = f"CAST(sum({v}) OVER {w} AS FLOAT)"
        squares = f"CAST(sum({v} * {v}) OVER {w} AS FLOAT)"
        variance = f"(({squares} - {total} * {total} / CAST({n} AS FLOAT)) / CAST({denominator} AS FLOAT))"
        if func.startswith("stddev"):
            variance = f"CASE WHEN {variance} < 0 THEN CAST('NaN' AS DOUBLE) ELSE sqrt({variance}) END"
        return f"CAST({variance} AS FLOAT)"
    v = f"CAST({x} AS DOUBLE)"  # a DECIMAL's too (Flink's is in DECIMAL arithmetic)
    total = f"sum({v}) OVER {w}"
    variance = f"((sum({v} * {v}) OVER {w} - {total} * {total} / {n}) / {denominator})"
    if func.startswith("stddev"):
        variance = f"CASE WHEN {variance} < 0 THEN CAST('NaN' AS DOUBLE) ELSE sqrt({variance}) END"
    if t.name == "DECIMAL":
        return _after_window({"v": variance}, lambda v: A.statistic_sql(v["v"], t))
    return f"CAST({variance} AS {t.duckdb()})"
