"""Correlate: each input row joined with the rows a table function gives for it.

The arguments are computed for the whole batch (zero-copy when they are columns, else one
DuckDB query). UNNEST is vectorized in Arrow (the flattened lists and each element's
parent row). A Python ``@udtf`` is called once per row in a tight loop; what it yields is
gathered into columns, and the input's columns are repeated with one ``take``. Each output
row carries its input row's row kind, so a -U row retracts exactly the rows its +I/+U gave
(the function is called again on it; Flink does the same).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.config import python_search_path
from catalog.functions import FunctionDef
from catalog.types import parse_type
from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, CorrelateSpec
from runtime import udf
from runtime.arrow_types import to_arrow
from runtime.batches import column_named, output_schema
from runtime.messages import Message
from runtime.operator import Operator
from runtime.repeated_query import RepeatedQuery


class CorrelateOp(Operator):
    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, CorrelateSpec)
        self.spec = spec
        self.schema = output_schema(self.node.schema, self.ctx.updating)
        self.width_in = len(self.node.schema) - len(spec.columns)
        self.types = [to_arrow(parse_type(c.type)) for c in spec.columns]
        names = [column_named(a) for a in spec.args]
        self.arg_columns: list[str] | None = None if None in names else [n for n in names if n is not None]
        self.sql = f"SELECT {', '.join(spec.args)} FROM {INPUT_RELATION}"
        self.con = await self.ctx.run(self.ctx.duckdb) if self.arg_columns is None else None
        self.query = RepeatedQuery(self.con, self.sql) if self.con is not None else None
        self.fdef: FunctionDef | None = None
        self.function: Any = None
        if spec.function is not None:
            self.fdef = next(f for f in self.ctx.plan.functions if f.name == spec.function)
            wrapper = udf.load(self.fdef.target or "", python_search_path(self.config))
            self.function = getattr(wrapper, "function", wrapper)
            if callable(getattr(self.function, "open", None)):
                self.function.open(None)
            self.call: Callable[..., Iterable[Any] | None] = getattr(wrapper, "eval", wrapper)
        self.keeps_errors = udf.keeps_errors(self.node.id, self.ctx.plan)
        self.catches_errors = udf.catches_errors(self.node.id, self.ctx.plan, self.ctx.config)
        self.failed: list[tuple[pa.RecordBatch, udf.FunctionFailedError]] = []

    @property
    def config(self) -> dict[str, str]:
        return self.ctx.config

    def _args(self, batch: pa.RecordBatch) -> list[pa.Array]:
        if self.arg_columns is not None:
            return [batch.column(c) for c in self.arg_columns]
        assert self.con is not None and self.query is not None
        self.con.register(INPUT_RELATION, batch)
        try:
            table = self.query.arrow()
        finally:
            self.con.unregister(INPUT_RELATION)
        return [c.combine_chunks() for c in table.columns]

    def _process(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        args = self._args(batch)
        if self.fdef is None:
            parents, columns = _unnest(args[0], len(self.types))
        else:
            parents, columns = self._call_rows(batch, args)
        if self.spec.join_type == "left":
            parents, columns = _pad(parents, columns, batch.num_rows)
        if len(parents) == 0:
            return None
        index = pa.array(parents, pa.int64())
        kept = [batch.column(i).take(index) for i in range(self.width_in)]
        out = [*kept, *(c.cast(t) if c.type != t else c for c, t in zip(columns, self.types))]
        if ROW_KIND_COLUMN in batch.schema.names and ROW_KIND_COLUMN in self.schema.names:
            out.append(batch.column(ROW_KIND_COLUMN).take(index))
        return pa.RecordBatch.from_arrays(out, schema=self.schema)

    def _call_rows(self, batch: pa.RecordBatch, args: list[pa.Array]) -> tuple[np.ndarray, list[pa.Array]]:
        """The Python function once per row: each yielded row, and the input row it came from."""
        assert self.fdef is not None
        fdef, call, width = self.fdef, self.call, len(self.types)
        lists = [a.to_pylist() for a in args]
        parents: list[int] = []
        rows: list[Any] = []
        for i, values in enumerate(zip(*lists)):
            start = len(rows)
            try:
                for row in call(*values) or ():
                    parents.append(i)
                    rows.append(row)
            except Exception as e:
                failure = udf.function_failed(fdef, e, repr(values))
                if not self.catches_errors:
                    raise failure from None
                del parents[start:], rows[start:]  # what it yielded before raising
                self.failed.append((batch.slice(i, 1), failure))
        if width == 1:
            rows = [r[0] if isinstance(r, tuple | list) and len(r) == 1 else r for r in rows]
            values_by_column: list[Any] = [rows]
        else:
            for r in rows:
                if not isinstance(r, tuple | list) or len(r) != width:
                    raise udf.wrong_result(fdef, f"it yielded {r!r}, not a row of {width} values")
            values_by_column = [list(c) for c in zip(*rows)] if rows else [[] for _ in range(width)]
        columns = []
        for values, t in zip(values_by_column, self.types):
            try:
                columns.append(pa.array(values, type=t))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as e:
                raise udf.wrong_result(fdef, str(e)) from None
        return np.asarray(parents, dtype=np.int64), columns

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        if self.con is None and self.fdef is None:
            out = self._process(batch)  # UNNEST of a column: a few Arrow kernels
        else:
            out = await self.ctx.run(self._process, batch)
        messages: list[Message] = [out] if out is not None else []
        if self.failed:
            failed, self.failed = self.failed, []
            messages += udf.failed_rows(f"Correlate#{self.node.id}", failed, self.keeps_errors, self.metrics)
        return messages

    async def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
        if callable(getattr(getattr(self, "function", None), "close", None)):
            self.function.close()


def _unnest(array: pa.Array, width: int) -> tuple[np.ndarray, list[pa.Array]]:
    """An array column's elements (a ROW element spread over its fields) or a map column's
    (key, value) entries, with the row each came from; NULL and empty lists give none."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if isinstance(array, pa.MapArray):
        # Arrow's list kernels do not take maps: the same offsets over the entries as a list
        if array.offset:
            array = array.take(pa.array(np.arange(len(array))))
        array = pa.ListArray.from_arrays(array.offsets, array.values, mask=array.is_null())
    parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(array)
    if pa.types.is_struct(flat.type):
        return parents, [flat.field(i) for i in range(width)]
    return parents, [flat]


def _pad(parents: np.ndarray, columns: list[pa.Array], n: int) -> tuple[np.ndarray, list[pa.Array]]:
    """LEFT JOIN ... ON TRUE: a row that got no rows once, with NULL function columns."""
    missing = np.setdiff1d(np.arange(n, dtype=np.int64), parents, assume_unique=False)
    if len(missing) == 0:
        return parents, columns
    all_parents = np.concatenate([parents, missing])
    order = np.argsort(all_parents, kind="stable")
    padded = [pa.concat_arrays([c, pa.nulls(len(missing), c.type)]).take(pa.array(order)) for c in columns]
    return all_parents[order], padded
