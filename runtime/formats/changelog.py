"""Flink's change-record formats: ``debezium-json``, ``canal-json`` and ``maxwell-json``.

A record is one change (Debezium, Maxwell) or several (Canal's ``data`` array); decoding
gives rows with their row kind (``ROW_KIND_COLUMN`` last), as Flink's deserializers do:

- debezium-json: ``op`` c/r -> +I(after); u -> -U(before), +U(after); d -> -D(before).
  A null ``before`` of an update or delete is an error (the source table logs only keys:
  PostgreSQL's REPLICA IDENTITY FULL). With ``debezium-json.schema-include`` the change
  is the record's ``payload``.
- canal-json: ``type`` INSERT -> +I per ``data`` row; UPDATE -> -U/+U per row, the
  before row being ``old``'s fields over ``data``'s (``old`` holds what changed, a null
  there meaning unchanged); DELETE -> -D per row; CREATE (DDL) skipped;
  ``canal-json.database.include`` / ``.table.include`` keep only matching records.
- maxwell-json: ``type`` insert / update / delete with ``data`` (one row) and ``old``
  (the changed fields; a field absent there is unchanged, one present with null was null).

An empty record (a Kafka tombstone) is no change. Anything else (not JSON, an unknown
op/type, a field that does not fit its column) is a bad record: it fails the job, or with
``<format>.ignore-parse-errors`` is skipped and counted.

Encoding is Flink's: +I and +U become inserts, -U and -D deletes (Debezium
``{"before":null,"after":{..},"op":"c"}`` / ``{"before":{..},"after":null,"op":"d"}``,
Canal ``{"data":[{..}],"type":"INSERT"|"DELETE"}``, Maxwell
``{"data":{..},"type":"insert"|"delete"}``), one DuckDB query a batch.

Decoding reads each record with Python's JSON parser (the envelopes nest the row); the
rows' values then go through the JSON format's converters.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from catalog.options import OptionBag
from planner.physical import ROW_KIND_COLUMN, Field
from runtime.batches import ROW_KIND_TYPE, q
from runtime.formats.base import (
    KEEP_MESSAGES,
    Decoded,
    FormatError,
    RecordError,
    SqlRecordEncoder,
    Where,
    convert_value,
    default_where,
    nullable_schema,
)
from runtime.formats.json import JsonDecoder, json_object_sql, load_object, one_object_per_line

INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE = 0, 1, 2, 3
_REPLICA_IDENTITY = (
    'the "before" field of the {} message is null; if it comes from Debezium\'s PostgreSQL '
    "connector, set the table's REPLICA IDENTITY to FULL"
)

Change = tuple[int, Any]  # a row kind and the row's JSON object


class ChangelogDecoder:
    """Decodes change records into rows of ``fields`` plus their row kind."""

    def __init__(self, name: str, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        self.name = f"{prefix}{name}"
        self.fields = tuple(fields)
        from catalog.types import parse_type

        self.types = [parse_type(f.type) for f in self.fields]
        self.schema = nullable_schema(self.fields).append(pa.field(ROW_KIND_COLUMN, ROW_KIND_TYPE))
        self.ignore_errors = options.get_bool(f"{prefix}{name}.ignore-parse-errors", False)
        self.ignore_option = f"{prefix}{name}.ignore-parse-errors"
        for key in ("timestamp-format.standard", "map-null-key.mode", "map-null-key.literal",
                    "encode.decimal-as-plain-number"):  # fmt: skip
            options.get(f"{prefix}{name}.{key}")  # inputs accept both timestamp standards
        self.schema_include = (
            options.get_bool(f"{prefix}{name}.schema-include", False) if name == "debezium-json" else False
        )
        db = options.get(f"{prefix}{name}.database.include") if name == "canal-json" else None
        table = options.get(f"{prefix}{name}.table.include") if name == "canal-json" else None
        self.database = re.compile(db) if db else None
        self.table = re.compile(table) if table else None
        self._json = JsonDecoder(self.fields, OptionBag({}, options.where))
        self._bulk_env: pa.Schema | None = None
        if name == "debezium-json" and self._json.bulk_supported():
            row = self._json.read_type
            change = pa.struct([("before", row), ("after", row), ("op", pa.string())])
            self._bulk_env = pa.schema([("payload", change)] if self.schema_include else list(change))
        self._changes = {
            "debezium-json": self._debezium,
            "canal-json": self._canal,
            "maxwell-json": self._maxwell,
        }[name]

    def decode(self, records: Sequence[bytes | None], where: Where | None = None) -> Decoded:
        """The rows of ``records``; ``kept[i]``: the record row ``i`` came from. Debezium
        records are read in bulk when they all decode and need no second look; otherwise
        (and for Canal and Maxwell) each record on its own."""
        if self._bulk_env is not None and len(records) > 1:
            with contextlib.suppress(pa.ArrowException, ValueError, TypeError, ArithmeticError, KeyError):
                fast = self._debezium_bulk(records)
                if fast is not None:
                    return fast
        where = where or default_where
        out = Decoded(pa.RecordBatch.from_pylist([], schema=self.schema))
        kinds: list[int] = []
        rows: list[list[Any]] = []
        kept: list[int] = []
        for i, record in enumerate(records):
            if record is None or not record.strip():
                continue  # a tombstone: no change
            try:
                changes = self._record(record)
            except (RecordError, ValueError, TypeError, ArithmeticError, UnicodeError, KeyError) as e:
                text = str(e) if isinstance(e, RecordError) else f"{type(e).__name__}: {e}"
                message = f"{where(i)}: {text}"
                if not self.ignore_errors:
                    raise FormatError(
                        f"cannot decode a {self.name} record at {message}",
                        hint=f"fix the record, or set '{self.ignore_option}' = 'true' to skip (and count) "
                        "bad records",
                    ) from None
                out.skipped += 1
                out.bad.append(i)
                if len(out.messages) < KEEP_MESSAGES:
                    out.messages.append(message)
                continue
            for kind, values in changes:
                kinds.append(kind)
                rows.append(values)
                kept.append(i)
        if rows:
            columns = list(zip(*rows))
            arrays = [pa.array(list(c), type=f.type) for c, f in zip(columns, self.schema)]
            arrays.append(pa.array(kinds, ROW_KIND_TYPE))
            out.batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        out.kept = np.array(kept, dtype=np.int64)
        return out

    def _record(self, record: bytes) -> list[list[Any] | Any]:
        root = load_object(record)
        return [(kind, self._row(values)) for kind, values in self._changes(root)]

    def _row(self, obj: Any) -> list[Any]:
        if not isinstance(obj, dict):
            raise RecordError(f"expected a row object, got {json.dumps(obj, default=str)[:60]}")
        values = [convert_value(obj.get(f.name), t, f.name) for f, t in zip(self.fields, self.types)]
        for v, f, t in zip(values, self.fields, self.types):
            if v is None and not t.nullable:
                raise RecordError(f"field '{f.name}' is null but the column is declared NOT NULL")
        return values

    def _debezium_bulk(self, records: Sequence[bytes | None]) -> Decoded | None:
        """Every record read at once by pyarrow's JSON reader; None when a record needs
        the per-record path (a tombstone, an op that is not c/r/u/d, a missing before, a
        NULL in a NOT NULL column), which also finds and reports bad ones."""
        if any(not r for r in records):
            return None
        lines = [r for r in records if r]
        data = b"\n".join(lines)
        if data.count(b"\n") != len(lines) - 1:
            data = b"\n".join(r.replace(b"\n", b" ") for r in lines)
        if not one_object_per_line(data, len(lines), None):  # as the json format checks: two
            return None  # objects on a line beside a blank one would pass as two good records
        assert self._bulk_env is not None
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(use_threads=True, block_size=max(len(data) + 1, 1 << 16)),
            parse_options=pj.ParseOptions(explicit_schema=self._bulk_env, unexpected_field_behavior="ignore"),
        )
        n = len(lines)
        if table.num_rows != n:
            return None
        change = table.column("payload").combine_chunks() if self.schema_include else table.to_struct_array()
        if isinstance(change, pa.ChunkedArray):
            change = change.combine_chunks()
        before, after = change.field("before"), change.field("after")
        ops = change.field("op").to_numpy(zero_copy_only=False)
        insert, update, delete = np.isin(ops, ("c", "r")), ops == "u", ops == "d"
        if not (insert | update | delete).all():
            return None
        if before.is_null().to_numpy(zero_copy_only=False)[update | delete].any():
            return None
        if after.is_null().to_numpy(zero_copy_only=False)[insert | update].any():
            return None
        counts = np.where(update, 2, 1)
        kept = np.repeat(np.arange(n, dtype=np.int64), counts)
        first = np.cumsum(counts) - counts  # each record's first output row
        kinds = np.where(insert, INSERT, np.where(update, UPDATE_BEFORE, DELETE)).astype(np.int8)[kept]
        take = np.where(np.repeat(insert, counts), kept + n, kept)  # before rows, then after rows + n
        second = first[update] + 1
        kinds[second] = UPDATE_AFTER
        take[second] = kept[second] + n
        rows = pa.Table.from_struct_array(pa.concat_arrays([before, after])).take(pa.array(take))
        batch = self._json.convert(rows)
        for col, t in zip(batch.columns, self.types):
            if not t.nullable and col.null_count:
                return None
        out = pa.RecordBatch.from_arrays([*batch.columns, pa.array(kinds, ROW_KIND_TYPE)], schema=self.schema)
        return Decoded(out, kept=kept)

    # ---- the three envelopes ---------------------------------------------------------
    def _debezium(self, root: dict[str, Any]) -> list[Change]:
        payload = root.get("payload") if self.schema_include else root
        if not isinstance(payload, dict):
            raise RecordError("no \"payload\" object ('debezium-json.schema-include' is true)")
        op = payload.get("op")
        before, after = payload.get("before"), payload.get("after")
        if op in ("c", "r"):
            return [(INSERT, after)]
        if op == "u":
            if before is None:
                raise RecordError(_REPLICA_IDENTITY.format("UPDATE"))
            return [(UPDATE_BEFORE, before), (UPDATE_AFTER, after)]
        if op == "d":
            if before is None:
                raise RecordError(_REPLICA_IDENTITY.format("DELETE"))
            return [(DELETE, before)]
        raise RecordError(f'unknown "op" value {json.dumps(op)}')

    def _canal(self, root: dict[str, Any]) -> list[Change]:
        if self.database is not None and not self.database.fullmatch(str(root.get("database"))):
            return []
        if self.table is not None and not self.table.fullmatch(str(root.get("table"))):
            return []
        kind = root.get("type")
        data = root.get("data") or []
        if kind == "INSERT":
            return [(INSERT, row) for row in data]
        if kind == "DELETE":
            return [(DELETE, row) for row in data]
        if kind == "UPDATE":
            old = root.get("old") or []
            out: list[Change] = []
            for i, row in enumerate(data):
                changed = old[i] if i < len(old) and isinstance(old[i], dict) else {}
                before = {**row, **{k: v for k, v in changed.items() if v is not None}}
                out += [(UPDATE_BEFORE, before), (UPDATE_AFTER, row)]
            return out
        if kind == "CREATE":
            return []  # a DDL event
        raise RecordError(f'unknown "type" value {json.dumps(kind)}')

    def _maxwell(self, root: dict[str, Any]) -> list[Change]:
        kind = root.get("type")
        data = root.get("data")
        if kind == "insert":
            return [(INSERT, data)]
        if kind == "delete":
            return [(DELETE, data)]
        if kind == "update":
            old = root.get("old") or {}
            if not isinstance(data, dict) or not isinstance(old, dict):
                raise RecordError('"data" and "old" of an update must be objects')
            return [(UPDATE_BEFORE, {**data, **old}), (UPDATE_AFTER, data)]
        raise RecordError(f'unknown "type" value {json.dumps(kind)}')


class ChangelogEncoder(SqlRecordEncoder):
    """Encodes rows with their row kind (``ROW_KIND_COLUMN``; none: every row +I)."""

    extension = "json"

    def __init__(self, name: str, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        super().__init__(fields, name=f"{prefix}{name}")
        standard = options.get_choice(f"{prefix}{name}.timestamp-format.standard", ("SQL", "ISO-8601"), "sql")
        for key in ("ignore-parse-errors", "map-null-key.mode", "map-null-key.literal",
                    "database.include", "table.include"):  # fmt: skip
            options.get(f"{prefix}{name}.{key}")
        plain = options.get_bool(f"{prefix}{name}.encode.decimal-as-plain-number", False)
        if options.get_bool(f"{prefix}{name}.schema-include", False):
            raise FormatError(
                f"{options.where}: writing '{prefix}debezium-json.schema-include' = 'true' (a Kafka Connect "
                "schema in each record) is not supported",
                hint="leave 'debezium-json.schema-include' false on tables that are written",
            )
        obj = json_object_sql(self.fields, self.types, standard == "iso-8601", plain)
        inserted = f"{q(ROW_KIND_COLUMN)} IN ({INSERT}, {UPDATE_AFTER})"
        if name == "debezium-json":
            value = (
                f'CASE WHEN {inserted} THEN \'{{"before":null,"after":\' || {obj} || \',"op":"c"}}\' '
                f'ELSE \'{{"before":\' || {obj} || \',"after":null,"op":"d"}}\' END'
            )
        elif name == "canal-json":
            value = (
                f'\'{{"data":[\' || {obj} || \'],"type":"\' || '
                f"CASE WHEN {inserted} THEN 'INSERT' ELSE 'DELETE' END || '\"}}'"
            )
        else:
            value = (
                f'\'{{"data":\' || {obj} || \',"type":"\' || '
                f"CASE WHEN {inserted} THEN 'insert' ELSE 'delete' END || '\"}}'"
            )
        self._record_sql = f"SELECT {value} AS v FROM batch"
        self._line_sql = f"SELECT {value} || chr(10) AS v FROM batch"

    def _run(self, sql: str, batch: pa.RecordBatch) -> pa.ChunkedArray:
        if ROW_KIND_COLUMN not in batch.schema.names:
            kinds = pa.array(np.zeros(batch.num_rows, dtype=np.int8), ROW_KIND_TYPE)
            batch = batch.append_column(pa.field(ROW_KIND_COLUMN, ROW_KIND_TYPE), kinds)
        return super()._run(sql, batch)
