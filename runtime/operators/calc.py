"""Projection and filter: one DuckDB query per batch (or zero-copy column selection, or,
for plain columns and Python functions of plain columns, the functions called on the whole
batch without a query: ``runtime.udf.direct_call``).

When a projection passes on a column of strings (or other variable-width values) unchanged,
its plain columns do not go through DuckDB: the query computes only the other expressions,
and the row's position in the batch; the plain columns are taken from the batch itself
(filtered to the positions the query kept). Converting a long string column into DuckDB and back cost as much
as the rest of a Nexmark query's Calc (benchmarks/README.md, issue #14, "scalar functions
and Calc"). A DATE_FORMAT of a TIMESTAMP column to whole days, hours, minutes or seconds is
taken out of the query too, and formatted once per distinct grain of the batch (``grained``).

With ``table.exec.udf-errors.sink`` set, a batch on which a Python function raised (or a
division by zero failed) is split in halves until the rows it fails on stand alone (only
failing batches pay for this); those rows go to the udf-errors output (or are dropped,
with ``table.exec.udf-errors.ignore``), the others on as usual, in order. Unset, a
division by zero fails the job naming the row, as Flink's does.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from catalog.config import UDF_ERRORS_SINK, python_search_path
from catalog.errors import SqlStreamError
from planner.numeric import DIVISION_BY_ZERO as _DIVISION_BY_ZERO
from planner.physical import INPUT_RELATION, ROW_KIND_COLUMN, CalcSpec, SourceSpec
from runtime import udf
from runtime.batches import (
    announcement,
    column_named,
    conform,
    is_announcement,
    numpy_array,
    output_schema,
    q,
    split_of,
    with_split,
)
from runtime.messages import Message
from runtime.operator import Operator
from runtime.operators.grained import Grained, grained
from runtime.repeated_query import RepeatedQuery

if TYPE_CHECKING:  # imported where a query runs: a Calc that only selects columns needs none
    import duckdb

POSITION_COLUMN = "__calc_position"
"""The row's position in its batch, added to the query's input (no schema lists it); with
underscores after it when the input has a column of that name (a Calc refuses no name)."""


def _one_chunk(batch: pa.RecordBatch) -> int:
    """The Arrow chunk size that keeps a Calc's result of ``batch`` (no more rows than it)
    one batch: at DuckDB's default (131,072 rows) a bounded source's batch of 262,144
    left the Calc as two, and each operator behind it ran its statements twice."""
    return max(batch.num_rows, 1)


class CalcOp(Operator):
    direct: list[str | udf.DirectCall] | None = None  # see _direct
    # Each output column: an input column's name, the index of the query's column that
    # computes it, or a timestamp's text computed per grain (see _passing_on); None when the
    # query computes the whole output.
    passed: list[str | int | Grained] | None = None

    async def open(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, CalcSpec)
        self.schema = output_schema(self.node.schema, self.ctx.updating)
        keep_kind = self.ctx.input_updating(0)
        items = [f"{expr} AS {q(name)}" for name, expr in spec.projections]
        if keep_kind:
            items.append(q(ROW_KIND_COLUMN))
        self.sql = f"SELECT {', '.join(items)} FROM {spec.source(INPUT_RELATION)}"
        if spec.condition:
            self.sql += f" WHERE {spec.condition}"
        # Pure column selection without a filter: no query at all.
        self.columns: list[str] | None = None
        if not spec.condition and not spec.common:
            names = [column_named(expr) for _, expr in spec.projections]
            if None not in names:
                self.columns = [n for n in names if n is not None]
                if keep_kind:
                    self.columns.append(ROW_KIND_COLUMN)
        # Plain columns and calls of Python functions on plain columns: no query either.
        if not spec.condition and not spec.common and self.columns is None and self.ctx.plan.functions:
            self.direct = self._direct(spec, keep_kind)
        if self.columns is None and self.direct is None:
            self._passing_on(spec, keep_kind)
        # Only a query needs DuckDB (a connection costs ~12 ms of CPU to open): a Calc that
        # selects or renames columns, or calls Python functions on them, opens none.
        self.con = (
            await self.ctx.run(self.ctx.duckdb) if self.columns is None and self.direct is None else None
        )
        self.query = RepeatedQuery(self.con, self.sql) if self.con is not None else None
        self.keeps_errors = udf.keeps_errors(self.node.id, self.ctx.plan)
        self.catches_errors = udf.catches_errors(self.node.id, self.ctx.plan, self.ctx.config)
        self.failed: list[tuple[pa.RecordBatch, udf.FunctionFailedError]] = []

    def _passing_on(self, spec: CalcSpec, keep_kind: bool) -> None:
        """When some projections are plain columns of strings (or other variable-width
        values), or format a timestamp per grain (``grained``): a query of only the others
        (and the positions of the rows it keeps), in ``self.sql``, or none when there are
        no others and no condition; see :meth:`_query`."""
        passed: list[str | int | Grained] = []
        computed: list[str] = []
        common = {name for name, _ in spec.common}  # columns of the query's, not the batch's
        inputs = self.ctx.plan.node(self.node.inputs[0].source).schema
        readable = {f.name: f for f in inputs if f.name not in common}
        for name, expr in spec.projections:
            named = column_named(expr)
            per_grain = None if named is not None else grained(expr, readable)
            if named is not None and named not in common:
                passed.append(named)
            elif per_grain is not None:
                passed.append(per_grain)
            else:
                passed.append(len(computed))
                computed.append(f"{expr} AS {q(name)}")
        wide = [not pa.types.is_primitive(f.type) for f, p in zip(self.schema, passed) if isinstance(p, str)]
        if not any(wide) and not any(isinstance(p, Grained) for p in passed):
            return  # numbers and times cross into DuckDB and back for next to nothing
        self.passed = [*passed, ROW_KIND_COLUMN] if keep_kind else passed
        taken = {f.name.lower() for f in inputs}
        position = POSITION_COLUMN
        while position in taken:  # DuckDB's names are case-insensitive
            position += "_"
        self.position_field = pa.field(position, pa.int64())
        if not computed and not spec.condition:  # every row, every column from the batch
            self.sql = ""
            return
        self.sql = f"SELECT {', '.join([*computed, q(position)])} FROM {spec.source(INPUT_RELATION)}"
        if spec.condition:
            self.sql += f" WHERE {spec.condition}"

    def _direct(self, spec: CalcSpec, keep_kind: bool) -> list[str | udf.DirectCall] | None:
        """Each projection as a column name or a :class:`runtime.udf.DirectCall`; None
        when one is neither (DuckDB then runs the projection)."""
        items: list[str | udf.DirectCall] = []
        path = python_search_path(self.ctx.config)
        for _, expr in spec.projections:
            named = column_named(expr)
            call = None if named is not None else udf.direct_call(expr, self.ctx.plan.functions, path)
            if call is not None:
                items.append(call)
            elif named is not None:
                items.append(named)
            else:
                return None
        if not any(isinstance(i, udf.DirectCall) for i in items):
            return None
        return [*items, ROW_KIND_COLUMN] if keep_kind else items

    def _project(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        assert self.direct is not None
        if batch.num_rows == 0:  # DuckDB would not call the functions either
            return []
        arrays = [batch.column(i) if isinstance(i, str) else i(batch) for i in self.direct]
        return conform(pa.RecordBatch.from_arrays(arrays, names=self.schema.names), self.schema)

    def _run_keeping_errors(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        import duckdb

        try:
            if self.direct is not None:
                return self._project(batch)
            return conform(self._query(batch), self.schema)  # not _run: its division error is final
        except udf.FunctionFailedError as e:
            failure = e
        except duckdb.Error as e:
            failure = udf.failure_in(e) or _division_failure(e)  # type: ignore[assignment]
            if failure is None:
                raise
        # outside the handler: a retry's error must not chain (and quote) this one
        if batch.num_rows == 1:
            self.failed.append((batch, failure))
            return []
        half = batch.num_rows // 2
        first = self._run_keeping_errors(batch.slice(0, half))
        return first + self._run_keeping_errors(batch.slice(half))

    def _run(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        if self.direct is not None:
            return self._project(batch)
        import duckdb

        try:
            return conform(self._query(batch), self.schema)
        except duckdb.InvalidInputException as e:
            if _DIVISION_BY_ZERO not in str(e):
                raise
            raise self._failed_row(batch, str(e)) from None

    def _query(self, batch: pa.RecordBatch) -> pa.Table | pa.RecordBatch:
        if self.passed is not None:
            return self._query_passing_on(batch)
        assert self.con is not None and self.query is not None
        self.con.register(INPUT_RELATION, batch)
        try:
            return self.query.arrow(_one_chunk(batch))
        finally:
            self.con.unregister(INPUT_RELATION)

    def _query_passing_on(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The output of :meth:`_passing_on`'s query: its computed columns, and the plain
        columns of the rows it kept, matched by position (not by the order of its result)."""
        assert self.passed is not None and self.con is not None and self.query is not None
        n = batch.num_rows
        # the batch's columns that go on as they are, or formatted per grain
        names = list(
            dict.fromkeys(
                p if isinstance(p, str) else p.column for p in self.passed if not isinstance(p, int)
            )
        )
        plain = batch.select(names)
        result = None
        if self.sql:
            numbered = pa.RecordBatch.from_arrays(  # not append_column: that validates every string
                [*batch.columns, numpy_array(pa.int64(), np.arange(n, dtype=np.int64), n)],
                schema=batch.schema.append(self.position_field),
            )
            self.con.register(INPUT_RELATION, numbered)
            try:
                result = self.query.arrow(_one_chunk(batch))
            finally:
                self.con.unregister(INPUT_RELATION)
            last = result.column(result.num_columns - 1).combine_chunks()
            # (not to_numpy: that imports pandas, 0.4 s, on its first call)
            positions = np.frombuffer(
                last.buffers()[1], dtype=np.int64, count=len(last), offset=8 * last.offset
            )
            if len(positions) > 1 and not bool(np.all(np.diff(positions) > 0)):  # not in the batch's order
                plain = plain.take(numpy_array(pa.int64(), positions, len(positions)))
            elif len(positions) < n:  # the rows the condition kept (filter is cheaper than take)
                keep = np.zeros(n, dtype=bool)
                keep[positions] = True
                plain = plain.filter(numpy_array(pa.bool_(), np.packbits(keep, bitorder="little"), n))
        columns = []
        for p in self.passed:
            if isinstance(p, str):
                columns.append(plain.column(names.index(p)))
            elif isinstance(p, Grained):
                columns.append(p.values(self.con, plain.column(names.index(p.column))))
            else:
                assert result is not None
                columns.append(result.column(p).combine_chunks())
        return pa.RecordBatch.from_arrays(columns, names=[str(i) for i in range(len(columns))])

    def _failed_row(self, batch: pa.RecordBatch, message: str) -> SqlStreamError:
        """The job fails on a row's value (an integer division by zero, as Flink's does):
        say which expression, which row (its values, and where in the batch from which
        source) by halving the batch down to the first row that fails."""
        import duckdb

        lo, n = 0, batch.num_rows  # the first failing row is in [lo, lo + n)
        while n > 1:
            half = n // 2
            try:
                self._query(batch.slice(lo, half))
                lo, n = lo + half, n - half
            except duckdb.InvalidInputException:
                n = half
        what = message[message.index(_DIVISION_BY_ZERO) :].splitlines()[0]
        row = {k: v for k, v in batch.slice(lo, 1).to_pylist()[0].items() if k != ROW_KIND_COLUMN}
        sources = ", ".join(self._sources()) or "the input"
        return SqlStreamError(
            f"{what}, at the row {json.dumps(row, default=str, ensure_ascii=False)} "
            f"(row {lo + 1} of a batch of {batch.num_rows} read from {sources})",
            hint="guard the divisor, e.g. CASE WHEN d <> 0 THEN n / d END, or NULLIF(d, 0); "
            f"or SET '{UDF_ERRORS_SINK.name}' to a table that keeps such rows",
        )

    def _sources(self) -> list[str]:
        """The tables this operator's input is read from."""
        plan, names, todo = self.ctx.plan, [], [e.source for e in self.node.inputs]
        seen: set[int] = set()
        while todo:
            node = plan.node(todo.pop())
            if node.id in seen:
                continue
            seen.add(node.id)
            if isinstance(node.spec, SourceSpec):
                names.append(node.spec.table)
            todo += [e.source for e in node.inputs]
        return sorted(names)

    async def process_batch(self, batch: pa.RecordBatch, input_index: int) -> list[Message]:
        if is_announcement(batch):  # a source's split, on its way to the watermark assigner
            return [announcement(self.schema, split_of(batch) or b"")]
        if self.columns is not None:
            out = conform(batch.select(self.columns), self.schema)
        else:
            out = await self.ctx.run(self._run_keeping_errors if self.catches_errors else self._run, batch)
        split = split_of(batch)  # keep a source split's tag for the watermark assigner
        messages: list[Message] = [with_split(b, split) for b in out] if split is not None else list(out)
        if self.failed:
            failed, self.failed = self.failed, []
            messages += udf.failed_rows(f"Calc#{self.node.id}", failed, self.keeps_errors, self.metrics)
        return messages

    async def close(self) -> None:
        con = getattr(self, "con", None)  # None: open failed early, or never needed one
        if con is not None:
            con.close()


def _division_failure(error: duckdb.Error) -> udf.FunctionFailedError | None:
    """A division by zero, as the udf-errors output records a failure (function ``/``)."""
    text = str(error)
    if _DIVISION_BY_ZERO not in text:
        return None
    failure = udf.FunctionFailedError(text[text.index(_DIVISION_BY_ZERO) :].splitlines()[0])
    failure.function = "/"
    return failure
