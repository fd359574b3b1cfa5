"""``values``: an in-memory source (the planner's SQL VALUES, and tests) and sink (tests).

Source options:
- ``data-id``: the name under which ``register_data`` stored an Arrow table; or
- ``rows``: a JSON list of rows (lists in column order; timestamps as ISO text); or
- ``query``: a DuckDB query whose result is the rows (the planner's SQL VALUES).
- ``batch-size`` (default 1024): rows per poll at most.
- ``changelog-mode`` = ``all``: the rows carry a row kind (the table's ``__row_kind``
  column, or a last element per JSON row), for tests of updating inputs.
Rows are dealt to subtasks in contiguous chunks (subtask i of p reads chunk i), in order.

Sink: ``sink-id`` names a list that ``collected(sink_id)`` returns (batches as written).
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pyarrow as pa

from planner.physical import SourceSpec
from runtime.batches import output_schema
from runtime.connectors.base import SinkWriter, SourceReader, SubtaskContext

_DATA: dict[str, pa.Table] = {}
_SINKS: dict[str, list[pa.RecordBatch]] = {}


def register_data(data_id: str, table: pa.Table) -> None:
    _DATA[data_id] = table


def collected(sink_id: str) -> list[pa.RecordBatch]:
    return _SINKS.setdefault(sink_id, [])


class ValuesSource(SourceReader):
    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        updating = spec.options.get("changelog-mode", "insert-only").lower() == "all"
        schema = output_schema(spec.columns, updating)
        opts = spec.options
        if "data-id" in opts:
            table = _DATA[opts["data-id"]].select(schema.names)
        elif "query" in opts:
            table = duckdb.connect().sql(opts["query"]).to_arrow_table().rename_columns(schema.names)
            table = table.cast(schema)
        else:
            rows = json.loads(opts.get("rows", "[]"))
            cols: list[Any] = list(zip(*rows)) if rows else [[] for _ in schema]
            table = pa.table(
                [
                    pa.array(list(c)).cast(f.type) if len(c) else pa.array([], f.type)
                    for c, f in zip(cols, schema)
                ],
                schema=schema,
            )
        n, p, i = table.num_rows, ctx.parallelism, ctx.subtask
        lo, hi = n * i // p, n * (i + 1) // p
        self._table = table.slice(lo, hi - lo)
        self._pos = 0
        self._batch = int(opts.get("batch-size", "1024"))

    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        take = min(max_rows, self._batch, self._table.num_rows - self._pos)
        part = self._table.slice(self._pos, take).combine_chunks()
        self._pos += take
        self.metrics.records_in += take
        batches = part.to_batches()
        return batches[0] if batches else None

    @property
    def finished(self) -> bool:
        return self._pos >= self._table.num_rows

    def position(self) -> dict[str, Any]:
        return {"row": self._pos}

    def restore(self, position: dict[str, Any]) -> None:
        self._pos = int(position.get("row", 0))


class ValuesSink(SinkWriter):
    async def write(self, batch: pa.RecordBatch) -> None:
        collected(self.spec.options.get("sink-id", self.spec.table)).append(batch)
        self.rows_written += batch.num_rows
