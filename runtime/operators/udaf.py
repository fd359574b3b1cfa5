"""Python aggregate functions (``@udaf``) inside the aggregate operators.

GROUP BY: the built-in aggregates stay DuckDB SQL; a Python aggregate ``i`` adds two
columns to the operator's ``acc`` state table, ``u<i>`` (the accumulator, pickled) and
``v<i>`` (the value last emitted). Per batch, :meth:`GroupPythonAggregates.step` reads the
batch's arguments (one query), loads the accumulators of the keys it touches (one query),
folds each row in with ``accumulate`` (+I/+U) or ``retract`` (-U/-D), in arrival order,
and hands back a relation ``__udaf`` of (keys, ``u<i>``, ``v<i>``) that the operator joins
into its batch delta; the operator's own changelog logic then compares ``v<i>`` with the
stored value, emits, and stores both.

Why pickled: a PyFlink accumulator is any Python object (a list, a Row, a dict, a class
of the user's), and its declared ``accumulator_type`` is often a loose description of it;
pickle restores exactly the object ``accumulate`` left, and the bytes live in the keyed
DuckDB state like any other column, so checkpoints and rescaling (split by key) need
nothing new. The cost: a state file is readable by Python only, and an accumulator class
must still be importable (as its function is) when the job restores.

Windows: a window aggregation with a Python aggregate keeps each row's arguments (the
"raw" mode it uses for DISTINCT); on firing, DuckDB gathers each window's arguments into
a list and calls a function registered here (``__udaf<i>``) once per window, which creates
an accumulator, accumulates the rows and returns ``get_value``.

OVER: a bounded frame is a window too (DuckDB lists each row's frame, ``list(..) OVER w``,
and the same function folds it); an UNBOUNDED frame keeps one pickled accumulator per
partition (:class:`OverPythonAggregates`), as the GROUP BY does per key.
"""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Sequence
from typing import Any

import duckdb
import duckdb.func
import pyarrow as pa

from catalog.config import python_search_path
from catalog.functions import FunctionDef
from catalog.types import parse_type
from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, AggCall
from runtime import udf
from runtime.arrow_types import to_arrow
from runtime.batches import q
from runtime.operator import OperatorContext


def load_aggregate(ctx: OperatorContext, name: str) -> tuple[FunctionDef, Any]:
    """The plan's aggregate function ``name`` and the Python object that implements it."""
    fdef = next(f for f in ctx.plan.functions if f.name == name)
    wrapper = udf.load(fdef.target or "", python_search_path(ctx.config))
    function = getattr(wrapper, "function", wrapper)
    if callable(getattr(function, "open", None)):
        function.open(None)
    return fdef, function


class GroupPythonAggregates:
    """The Python aggregates of one GROUP BY operator (see the module docstring)."""

    def __init__(
        self, ctx: OperatorContext, aggs: Sequence[AggCall], keys: list[str], retracting: bool
    ) -> None:
        self.keys = keys
        self.calls: list[tuple[int, FunctionDef, Any]] = []
        items = [*(f"{k} AS __k{j}" for j, k in enumerate(keys))]
        items.append(f"{q(ROW_KIND_COLUMN)} IN (0, 2) AS __add" if retracting else "true AS __add")
        for i, a in enumerate(aggs):
            if a.func != "udaf" or a.function is None:
                continue
            fdef, function = load_aggregate(ctx, a.function)
            self.calls.append((i, fdef, function))
            items += [f"{arg} AS __a{i}_{j}" for j, arg in enumerate(a.args)]
            items.append(f"coalesce({a.filter}, false) AS __f{i}" if a.filter else f"true AS __f{i}")
        self.args_sql = f"SELECT {', '.join(items)} FROM {INPUT_RELATION}"
        on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys) or "true"
        cols = ", ".join([*(f"a.{k}" for k in keys), *(f"a.u{i}" for i, _, _ in self.calls)])
        self.old_sql = (
            f"SELECT {cols} FROM acc a SEMI JOIN (SELECT DISTINCT {', '.join(keys) or 'true'} "
            f"FROM {INPUT_RELATION}) b ON {on}"
        )
        self.columns = [c for i, _, _ in self.calls for c in (f"u{i}", f"v{i}")]
        self.join_on = " AND ".join(f"d.{k} IS NOT DISTINCT FROM p.{k}" for k in keys) or "true"

    def wrap(self, delta_sql: str) -> str:
        """The batch-delta query with this batch's accumulators and values joined in."""
        cols = ", ".join(f"p.{c}" for c in self.columns)
        return f"SELECT d.*, {cols} FROM ({delta_sql}) d LEFT JOIN __udaf p ON {self.join_on}"

    def step(self, con: duckdb.DuckDBPyConnection, has_state: bool) -> pa.Table:
        """Fold the registered input batch into the touched keys' accumulators; the result
        (keys, u<i>, v<i>) is what the caller registers as ``__udaf``."""
        rows = con.sql(self.args_sql).to_arrow_table()
        n_keys = len(self.keys)
        data = [c.to_pylist() for c in rows.columns]
        key_rows = list(zip(*data[:n_keys])) if n_keys else [()] * rows.num_rows
        stored: dict[tuple[Any, ...], list[Any]] = {}
        if has_state:
            for row in con.sql(self.old_sql).fetchall():
                blobs = row[n_keys:]
                stored[tuple(row[:n_keys])] = [pickle.loads(b) if b is not None else None for b in blobs]
        # each touched key's accumulators (in the order keys first appear), and each row's
        touched: dict[tuple[Any, ...], list[Any]] = {}
        of_row: list[list[Any]] = []
        for key in key_rows:
            accs = touched.get(key)
            if accs is None:
                accs = touched[key] = stored.get(key) or [None] * len(self.calls)
            of_row.append(accs)
        adds = data[n_keys]
        pos = n_keys + 1
        for slot, (_, fdef, function) in enumerate(self.calls):
            width = len(fdef.input_types)
            args = list(zip(*data[pos : pos + width])) if width else [()] * rows.num_rows
            keep = data[pos + width]
            pos += width + 1
            accumulate, retract = function.accumulate, getattr(function, "retract", None)
            r = -1
            try:
                for accs in touched.values():
                    if accs[slot] is None:
                        accs[slot] = function.create_accumulator()
                if all(adds) and all(keep):  # an insert-only batch without FILTER: the tight loop
                    for r, (accs, a) in enumerate(zip(of_row, args)):  # noqa: B007 - r names a failing row
                        accumulate(accs[slot], *a)
                else:
                    for r, (accs, a) in enumerate(zip(of_row, args)):
                        if keep[r]:
                            (accumulate if adds[r] else retract)(accs[slot], *a)  # type: ignore[misc]
            except Exception as e:
                raise udf.function_failed(fdef, e, repr(args[r]) if r >= 0 else "()") from None
        return self._relation(rows, touched)

    def _relation(self, rows: pa.Table, touched: dict[tuple[Any, ...], list[Any]]) -> pa.Table:
        arrays: list[pa.Array] = [
            pa.array([k[j] for k in touched], rows.schema.field(j).type) for j in range(len(self.keys))
        ]
        names = [k.strip('"').replace('""', '"') for k in self.keys]
        for slot, (i, fdef, function) in enumerate(self.calls):
            blobs, values = [], []
            for accs in touched.values():
                acc = accs[slot]
                try:
                    values.append(function.get_value(acc))
                except Exception as e:
                    raise udf.function_failed(fdef, e, f"the accumulator {acc!r}") from None
                blobs.append(pickle.dumps(acc, protocol=pickle.HIGHEST_PROTOCOL))
            arrays.append(pa.array(blobs, pa.binary()))
            arrays.append(_values(fdef, values))
            names += [f"u{i}", f"v{i}"]
        return pa.Table.from_arrays(arrays, names=names)


def _values(fdef: FunctionDef, values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, type=to_arrow(fdef.result_type))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as e:
        raise udf.wrong_result(fdef, str(e)) from None


# ---- windows: one call per window over its rows' arguments ---------------------------------


def window_call(i: int, a: AggCall) -> str:
    """The SQL that computes Python aggregate ``i`` of a window from its raw rows."""
    fields = ", ".join(f"a{i}_{j} := a{i}_{j}" for j in range(len(a.args))) or "x := 1"
    f = f" FILTER (WHERE f{i})" if a.filter else ""
    return f"__udaf{i}(list(struct_pack({fields})){f})"


def raw_items(i: int, a: AggCall) -> list[str]:
    items = [f"{arg} AS a{i}_{j}" for j, arg in enumerate(a.args)]
    if a.filter:
        items.append(f"coalesce({a.filter}, false) AS f{i}")
    return items


def install_window_calls(
    ctx: OperatorContext, con: duckdb.DuckDBPyConnection, aggs: Sequence[AggCall]
) -> None:
    """Register ``__udaf<i>`` on ``con`` for each Python aggregate of a window operator."""
    for i, a in enumerate(aggs):
        if a.func != "udaf" or a.function is None:
            continue
        fdef, function = load_aggregate(ctx, a.function)
        fields = ", ".join(f"a{i}_{j} {t.duckdb()}" for j, t in enumerate(fdef.input_types)) or "x INTEGER"
        call = _per_window(fdef, function, len(fdef.input_types))
        params = [inspect.Parameter("groups", inspect.Parameter.POSITIONAL_ONLY)]
        call.__signature__ = inspect.Signature(params)
        con.create_function(
            f"__udaf{i}",
            call,
            [con.sqltype(f"STRUCT({fields})[]")],
            con.sqltype(parse_type(a.type).duckdb()),
            type=duckdb.func.ARROW,
            null_handling=duckdb.func.SPECIAL,
        )


def _per_window(fdef: FunctionDef, function: Any, width: int) -> Any:
    if fdef.func_type == "pandas":
        return _per_window_pandas(fdef, function.func, width)

    def call(groups: pa.ChunkedArray | pa.Array) -> pa.Array:
        values = []
        for rows in groups.to_pylist():
            rows = rows or []
            args = [[row[f] for f in row] for row in rows] if width else [[] for _ in rows]
            try:
                acc = function.create_accumulator()
                for a in args:
                    function.accumulate(acc, *a)
                values.append(function.get_value(acc))
            except Exception as e:
                raise udf.function_failed(fdef, e, f"a window of {len(rows)} row(s)") from None
        return _values(fdef, values)

    return call


def _per_window_pandas(fdef: FunctionDef, func: Any, width: int) -> Any:
    """A vectorized aggregate (``func_type='pandas'``): each window's arguments as pandas
    Series, converted from Arrow column by column, one call per window."""

    def call(groups: pa.ChunkedArray | pa.Array) -> pa.Array:
        if isinstance(groups, pa.ChunkedArray):
            groups = groups.combine_chunks()
        values = []
        for w in range(len(groups)):
            rows = groups[w].values  # the window's rows, a struct array (None: no rows)
            if rows is None:
                rows = pa.array([], pa.struct([(f"a{j}", pa.null()) for j in range(width)]))
            series = [rows.field(j).to_pandas() for j in range(width)]
            try:
                values.append(func(*series))
            except Exception as e:
                raise udf.function_failed(fdef, e, f"a window of {len(rows)} row(s)") from None
        return _values(fdef, values)

    return call


# ---- OVER: bounded frames per row, UNBOUNDED ones from kept accumulators -----------------


def over_call(i: int, a: AggCall, w: str = "w") -> str:
    """Python aggregate ``i`` over a bounded frame: DuckDB lists each row's frame (window
    ``w``) and the window function of :func:`install_window_calls` folds it."""
    fields = ", ".join(f"a{i}_{j} := a{i}_{j}" for j in range(len(a.args))) or "x := 1"
    return f"__udaf{i}(list(struct_pack({fields})) OVER {w})"


class OverPythonAggregates:
    """The Python aggregates of an OVER aggregation with an UNBOUNDED frame: one pickled
    accumulator per partition and function, in state table ``pyacc`` (the partition
    columns, then ``u<i>``), as Flink keeps an accumulator per key. Each firing folds the
    rows the watermark passed into them in time and arrival order; a row's value is the
    accumulator's after its own row (ROWS) or after every row of its time (RANGE: peers
    share one value)."""

    def __init__(self, ctx: OperatorContext, aggs: Sequence[AggCall], keys: list[str], rows: bool) -> None:
        self.keys, self.rows = keys, rows
        self.calls: list[tuple[int, FunctionDef, Any]] = []
        items = [*(f"{k} AS __k{j}" for j, k in enumerate(keys)), "__t"]
        for i, a in enumerate(aggs):
            if a.func == "udaf" and a.function is not None:
                fdef, function = load_aggregate(ctx, a.function)
                self.calls.append((i, fdef, function))
                items += [f"a{i}_{j}" for j in range(len(a.args))]
        self.read_sql = f"SELECT {', '.join(items)} FROM __ready ORDER BY __t, __seq"
        on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys) or "true"
        self.old_sql = (
            f"SELECT * FROM pyacc a SEMI JOIN (SELECT DISTINCT {', '.join(keys) or 'true'} "
            f"FROM __ready) b ON {on}"
        )
        self.delete_sql = f"DELETE FROM pyacc a USING __pyacc b WHERE {on}" if keys else "DELETE FROM pyacc"
        self.columns = [f"u{i}" for i, _, _ in self.calls]

    def create_table(self, con: duckdb.DuckDBPyConnection, rows: str) -> None:
        """Create ``pyacc`` with the partition columns of table ``rows``."""
        cols = ", ".join([*self.keys, *(f"NULL::BLOB AS {c}" for c in self.columns)])
        con.execute(f"CREATE TABLE pyacc AS SELECT {cols} FROM {rows} LIMIT 0")

    def fire(self, con: duckdb.DuckDBPyConnection) -> dict[int, pa.Array]:
        """Each Python aggregate's values for the rows of ``__ready`` (in time and arrival
        order, as the operator emits them); the partitions' accumulators move on."""
        ready = con.sql(self.read_sql).to_arrow_table()
        n_keys = len(self.keys)
        data = [c.to_pylist() for c in ready.columns]
        key_rows = list(zip(*data[:n_keys])) if n_keys else [()] * ready.num_rows
        times = data[n_keys]
        accs: dict[tuple[Any, ...], list[Any]] = {}
        for row in con.sql(self.old_sql).fetchall():
            accs[tuple(row[:n_keys])] = [pickle.loads(b) for b in row[n_keys:]]
        out: dict[int, pa.Array] = {}
        pos = n_keys + 1
        for slot, (i, fdef, function) in enumerate(self.calls):
            width = len(fdef.input_types)
            args = list(zip(*data[pos : pos + width])) if width else [()] * ready.num_rows
            pos += width
            values = self._fold(fdef, function, slot, accs, key_rows, times, args)
            out[i] = _values(fdef, values)
        self._store(con, ready, accs)
        return out

    def _fold(
        self,
        fdef: FunctionDef,
        function: Any,
        slot: int,
        accs: dict[tuple[Any, ...], list[Any]],
        key_rows: list[tuple[Any, ...]],
        times: list[int],
        args: list[tuple[Any, ...]],
    ) -> list[Any]:
        values: list[Any] = [None] * len(args)
        start = 0  # the first row of the current time (RANGE: its peers end where the time does)
        r = -1
        try:
            for r, (key, a) in enumerate(zip(key_rows, args)):
                of_key = accs.get(key)
                if of_key is None:
                    of_key = accs[key] = [None] * len(self.calls)
                if of_key[slot] is None:
                    of_key[slot] = function.create_accumulator()
                function.accumulate(of_key[slot], *a)
                if self.rows:
                    values[r] = function.get_value(of_key[slot])
                elif r + 1 == len(args) or times[r + 1] != times[r]:
                    for p in range(start, r + 1):  # every row of this time sees all of them
                        values[p] = function.get_value(accs[key_rows[p]][slot])
                    start = r + 1
        except Exception as e:
            raise udf.function_failed(fdef, e, repr(args[r]) if r >= 0 else "()") from None
        return values

    def _store(
        self, con: duckdb.DuckDBPyConnection, ready: pa.Table, accs: dict[tuple[Any, ...], list[Any]]
    ) -> None:
        """Replace the touched partitions' rows of ``pyacc`` with their accumulators now."""
        n_keys = len(self.keys)
        arrays = [pa.array([k[j] for k in accs], ready.schema.field(j).type) for j in range(n_keys)]
        for slot in range(len(self.calls)):
            blobs = [pickle.dumps(a[slot], protocol=pickle.HIGHEST_PROTOCOL) for a in accs.values()]
            arrays.append(pa.array(blobs, pa.binary()))
        names = [*(f"__k{j}" for j in range(n_keys)), *self.columns]
        con.register("__pyacc_rows", pa.Table.from_arrays(arrays, names=names))
        try:
            keyed = ", ".join([*(f"__k{j} AS {k}" for j, k in enumerate(self.keys)), *self.columns])
            con.execute(f"CREATE OR REPLACE TEMP TABLE __pyacc AS SELECT {keyed} FROM __pyacc_rows")
        finally:
            con.unregister("__pyacc_rows")
        con.execute(self.delete_sql)
        con.execute("INSERT INTO pyacc SELECT * FROM __pyacc")
