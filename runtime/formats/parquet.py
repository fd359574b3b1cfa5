"""The ``parquet`` format: files only (there is no per-record Parquet).

Reading maps the file's columns to the table's by name (exactly, else ignoring case);
a column the file lacks reads as NULL, and values are cast to the declared types (a cast
that fails is an error naming the file and column). Writing keeps one ParquetWriter per
part file; each written batch becomes a row group.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from catalog.types import parse_type
from planner.physical import Field
from runtime.formats.base import FormatError, nullable_schema

EXTENSION = "parquet"


def read_parquet(
    path: str, fields: Sequence[Field], start_row: int = 0, batch_size: int = 65536
) -> Iterator[pa.RecordBatch]:
    """Batches of ``fields`` from the Parquet file at ``path``, from row ``start_row`` on."""
    schema = nullable_schema(fields)
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise FormatError(f"cannot read the Parquet file {path}: {e}") from None
    names = pf.schema_arrow.names
    lowered = {n.lower(): n for n in names}
    source: list[str | None] = []
    for f in fields:
        source.append(f.name if f.name in names else lowered.get(f.name.lower()))
    for f, s in zip(fields, source):
        if s is None and not parse_type(f.type).nullable:
            raise FormatError(f"the Parquet file {path} has no column '{f.name}', which is declared NOT NULL")
    wanted = sorted({s for s in source if s is not None}, key=names.index)
    # Skip whole row groups before start_row, then slice the first batch.
    row_groups = list(range(pf.num_row_groups))
    skip = start_row
    while row_groups and skip >= pf.metadata.row_group(row_groups[0]).num_rows:
        skip -= pf.metadata.row_group(row_groups[0]).num_rows
        row_groups.pop(0)
    if not row_groups:
        return
    for batch in pf.iter_batches(batch_size=batch_size, row_groups=row_groups, columns=wanted):
        if skip:
            if skip >= batch.num_rows:
                skip -= batch.num_rows
                continue
            batch = batch.slice(skip)
            skip = 0
        arrays = []
        for f, s, af in zip(fields, source, schema):
            if s is None:
                arrays.append(pa.nulls(batch.num_rows, af.type))
                continue
            col = batch.column(s)
            if col.type != af.type:
                try:
                    col = col.cast(af.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    raise FormatError(
                        f"the Parquet file {path}: column '{s}' of type {col.type} cannot be read "
                        f"as {f.type}: {e}"
                    ) from None
            arrays.append(col)
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


class ParquetFileWriter:
    """Writes batches of ``fields`` to one Parquet file."""

    def __init__(self, path: str, fields: Sequence[Field]) -> None:
        self.schema = nullable_schema(fields)
        self._sink = pa.OSFile(path, "wb")
        self._writer = pq.ParquetWriter(self._sink, self.schema)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.schema != self.schema:
            columns = [batch.column(f.name) for f in self.schema]
            columns = [c if c.type == f.type else c.cast(f.type) for c, f in zip(columns, self.schema)]
            batch = pa.RecordBatch.from_arrays(columns, schema=self.schema)
        self._writer.write_batch(batch)

    @property
    def size(self) -> int:
        """Bytes written to the file so far (the footer comes on close)."""
        return int(self._sink.tell())

    def close(self) -> None:
        self._writer.close()
        self._sink.close()
