"""What every format shares: the decoder that bisects a failing chunk, the encoder interface.

A decoder turns many records at once into one Arrow batch of the declared columns. The
fast path hands the whole chunk to a bulk reader (pyarrow's JSON or CSV reader); when that
fails, the chunk is split in halves until the pieces either decode in bulk or are small
enough to decode record by record with a lenient Python converter (Flink's conversions).
A record that fails there is a *bad record*: it is skipped and counted when the format's
``ignore-parse-errors`` option is on, and otherwise fails the job with an error that names
where the record came from (the caller's ``where``: a file and line, a Kafka offset).

With the option on, a record whose syntax is fine but one of whose fields holds a value
that does not fit its type ("abc" in an INT column) is not a bad record: that field is
NULL and the row is kept, as Flink's JSON and CSV converters do (each field's converter
returns null on an error when parse errors are ignored). Such records are counted apart
(``Decoded.nulled``), so the user still sees that their input had errors.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.errors import SqlStreamError
from catalog.types import DataType, parse_type
from planner.physical import Field
from runtime.arrow_types import to_arrow
from runtime.decimal_context import EXACT
from runtime.formats import java_text

# Pieces of a failing chunk this small are decoded record by record instead of bisected.
SMALL_PIECE = 16
# How many messages of skipped records a Decoded keeps (for logs and tests).
KEEP_MESSAGES = 10

Where = Callable[[int], str]


class FormatError(SqlStreamError):
    """A record the format cannot decode (and the format does not ignore), or a table
    whose columns the format cannot represent."""


class RecordError(ValueError):
    """One record is bad; the message says why (without the where, which the caller adds)."""


@dataclass
class Decoded:
    """The rows decoded from a chunk of records.

    ``kept[i]`` is the index of the input record that produced output row ``i`` (``None``
    when every record produced one row, in order), so a caller can line up per-record
    metadata (Kafka offsets, timestamps) with the rows that survived.
    """

    batch: pa.RecordBatch
    kept: np.ndarray | None = None
    skipped: int = 0
    messages: list[str] = field(default_factory=list)
    # Indices of the skipped records, where a format says (change records: one may give no row)
    bad: list[int] = field(default_factory=list)
    # Records kept with one or more fields set to NULL (ignore-parse-errors), and a few of
    # their messages
    nulled: int = 0
    null_messages: list[str] = field(default_factory=list)


def nullable_schema(fields: Sequence[Field]) -> pa.Schema:
    """The Arrow schema of batches of ``fields``: nullable everywhere, as every batch in
    the runtime is (NOT NULL is checked on the values, not declared on the schema)."""
    return pa.schema([pa.field(f.name, to_arrow(parse_type(f.type))) for f in fields])


# The step that cuts a time's fraction to a precision below the readers' microseconds:
# (pyarrow's floor_temporal unit, multiple), by precision.
_FRACTION_STEP = {0: ("second", 1), 1: ("millisecond", 100), 2: ("millisecond", 10), 3: ("millisecond", 1),
                  4: ("microsecond", 100), 5: ("microsecond", 10)}  # fmt: skip


def default_where(i: int) -> str:
    return f"record {i + 1} of the chunk"


class RecordDecoder(ABC):
    """Decodes chunks of records (bytes each) into Arrow batches of ``fields``."""

    #: Lines at the start of each file that are not records (a CSV header).
    header_lines: int = 0
    #: Whether blank lines in a file are skipped (JSON, CSV) or are records (raw).
    skip_blank_lines: bool = True
    #: Whether a bulk read may use Arrow's thread pool. Its threads cost ~10% more CPU per
    #: row; worth it for one subtask on two cores, not when every core runs a subtask.
    threads: bool = True
    _skip_blank: bool = False
    _mostly_slow: bool = False
    _slow_rows: int = 0
    _bulk_fails: int = 0
    _bulk_wins: int = 0
    _nulled: list[str] | None = None

    def __init__(self, fields: Sequence[Field], *, ignore_errors: bool, name: str) -> None:
        self.fields = tuple(fields)
        self.types: list[DataType] = [parse_type(f.type) for f in self.fields]
        self.schema = nullable_schema(self.fields)
        self.ignore_errors = ignore_errors
        self.name = name
        #: The option that skips bad records instead of failing, if the format has one.
        self.ignore_option: str | None = f"{name}.ignore-parse-errors"
        self._coarse = [
            (i, *_FRACTION_STEP[p]) for i, t in enumerate(self.types) if (p := self._precision(t)) is not None
        ]

    # ---- format hooks ------------------------------------------------------------------
    def _precision(self, t: DataType) -> int | None:
        """The fraction digits Flink keeps of a value of ``t`` that the reader gives with
        more (microseconds), None for all: a timestamp's precision; a time's, up to
        milliseconds (Flink's TIME is an int of milliseconds)."""
        if t.name in ("TIMESTAMP", "TIMESTAMP_LTZ") and t.precision is not None and t.precision < 6:
            return t.precision
        if t.name == "TIME":
            return min(t.precision or 0, 3)
        return None

    def bulk_supported(self) -> bool:
        """Whether ``_bulk`` can decode these columns at all (else record by record)."""
        return True

    @abstractmethod
    def _bulk(self, records: list[bytes]) -> pa.RecordBatch:
        """Decode all records at once, exactly one row each, or raise."""

    @abstractmethod
    def _one(self, record: Any) -> list[Any]:
        """Decode one record (bytes; None only if ``_dropped`` keeps Nones) into Python
        values, one per column, or raise RecordError."""

    def _bulk_block(
        self, block: bytes | memoryview, count: int, newlines: np.ndarray | None
    ) -> pa.RecordBatch | None:
        """Decode a whole block of ``count`` newline-separated records at once (``newlines``:
        the positions of its line breaks, if known), or raise; None when the format has no
        such reader (then every block is split into records)."""
        return None

    def _dropped(self, records: Sequence[bytes | None]) -> np.ndarray | None:
        """Indices of records that are not rows and not errors (tombstones, comments)."""
        missing = [i for i, r in enumerate(records) if r is None] if None in records else []
        return np.array(missing, dtype=np.int64) if missing else None

    def _suspects(self, batch: pa.RecordBatch) -> np.ndarray | None:
        """Rows of a bulk-decoded batch that must be re-checked record by record (e.g. a
        null that may be a missing field); a boolean mask or None."""
        return self._not_null_violations(batch)

    # ---- the algorithm -----------------------------------------------------------------
    def decode_block(
        self, block: bytes | memoryview, count: int, newlines: np.ndarray | None = None
    ) -> pa.RecordBatch | None:
        """The ``count`` newline-separated records of ``block`` (a file's whole lines, no
        blank one; ``newlines``: the positions of its line breaks, when the caller has
        them) decoded at once, when they decode in bulk to one row each and nothing
        needs a second look; None otherwise, and the caller splits the block into records
        for ``decode``, which finds the bad ones and says where they are. This is the
        first bulk try ``decode`` makes, on the same bytes, without making the records."""
        if not self.bulk_supported() or self._mostly_slow:
            return None
        try:
            batch = self._bulk_block(block, count, newlines)
        except (pa.ArrowException, ValueError, TypeError, ArithmeticError, UnicodeError):
            return None
        if batch is None or batch.num_rows != count:  # e.g. two objects on a line, or one over two
            return None
        suspects = self._suspects(batch)
        if suspects is not None and suspects.any():
            return None
        return self._fit_precision(batch)

    def decode_values(self, records: list[bytes | None], where: Where | None = None) -> Decoded:
        """``decode`` of whole values (a Kafka fetch's), tried first as one block of lines
        when no record is dropped and none holds a line break: each line is then exactly
        one record, so the block's rows are the records' rows, without the bookkeeping per
        record. Anything else (a bad record, a tombstone) goes the way ``decode`` goes."""
        if records and self._dropped(records) is None:
            block = b"\n".join(records)  # type: ignore[arg-type]  # no None: nothing dropped
            newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)  # faster than count
            if len(newlines) == len(records) - 1:
                batch = self.decode_block(block, len(records), newlines)
                if batch is not None:
                    return Decoded(batch)
        return self.decode(records, where)

    def decode(
        self, records: Sequence[bytes | None], where: Where | None = None, *, skip_blank: bool = False
    ) -> Decoded:
        """Decode ``records``; bad ones follow the error policy (see the module doc).
        ``skip_blank``: records of only whitespace are not rows (blank lines of a file)."""
        where = where or default_where
        self._skip_blank = skip_blank
        n = len(records)
        dropped = self._dropped(records)
        if dropped is None:
            todo = np.arange(n, dtype=np.int64)
        else:
            keep = np.ones(n, dtype=bool)
            keep[dropped] = False
            todo = np.flatnonzero(keep).astype(np.int64)
        out = Decoded(self._empty())
        pieces: list[tuple[np.ndarray, pa.RecordBatch]] = []
        self._slow_rows = self._bulk_fails = self._bulk_wins = 0
        bisect = not self._mostly_slow
        if len(todo):
            self._piece(records, todo, pieces, out, where, bisect=bisect)
        # When most of a chunk needed the slow path (say every record has a number in
        # quotes), bisecting the next chunk is wasted work: one bulk try, then record by
        # record. The chunk after that bisects again, to notice when the data gets better.
        self._mostly_slow = bisect and self._slow_rows * 2 > len(todo)
        return self._assemble(pieces, n, out)

    def _piece(
        self,
        records: Sequence[bytes | None],
        idx: np.ndarray,
        pieces: list[tuple[np.ndarray, pa.RecordBatch]],
        out: Decoded,
        where: Where,
        bisect: bool = True,
    ) -> None:
        if len(idx) <= SMALL_PIECE or not self.bulk_supported():
            self._one_by_one(records, idx, pieces, out, where)
            return
        try:
            batch = self._bulk([records[i] for i in idx.tolist()])
            if batch.num_rows != len(idx):
                raise RecordError("record count mismatch")
        except (pa.ArrowException, ValueError, TypeError, ArithmeticError, UnicodeError):
            self._bulk_fails += 1
            if not bisect or (self._bulk_fails > 16 and self._bulk_fails > 4 * self._bulk_wins):
                # Nearly every piece fails: the bad (or lenient) records are everywhere.
                self._one_by_one(records, idx, pieces, out, where)
                return
            mid = len(idx) // 2
            self._piece(records, idx[:mid], pieces, out, where)
            self._piece(records, idx[mid:], pieces, out, where)
            return
        self._bulk_wins += 1
        suspects = self._suspects(batch)
        if suspects is not None and suspects.any():
            good = ~suspects
            pieces.append((idx[good], batch.filter(pa.array(good))))
            self._one_by_one(records, idx[suspects], pieces, out, where)
        else:
            pieces.append((idx, batch))

    def _one_by_one(
        self,
        records: Sequence[bytes | None],
        idx: np.ndarray,
        pieces: list[tuple[np.ndarray, pa.RecordBatch]],
        out: Decoded,
        where: Where,
    ) -> None:
        rows: list[list[Any]] = []
        ok: list[int] = []
        self._slow_rows += len(idx)
        for i in idx.tolist():
            record = records[i]
            if self._skip_blank and record is not None and not record.strip():
                continue
            try:
                self._nulled = [] if self.ignore_errors else None
                rows.append(self._one(record))
                ok.append(i)
                if self._nulled:
                    out.nulled += 1
                    if len(out.null_messages) < KEEP_MESSAGES:
                        out.null_messages.append(f"{where(i)}: {'; '.join(self._nulled)} (set to NULL)")
            except (RecordError, ValueError, TypeError, ArithmeticError, UnicodeError) as e:
                message = f"{where(i)}: {self._describe(e)}"
                if not self.ignore_errors:
                    hint = "fix the record"
                    if self.ignore_option:
                        hint += f", or set '{self.ignore_option}' = 'true' to skip (and count) bad records"
                    raise FormatError(f"cannot decode a {self.name} record at {message}", hint=hint) from None
                out.skipped += 1
                if len(out.messages) < KEEP_MESSAGES:
                    out.messages.append(message)
        if rows:
            pieces.append((np.array(ok, dtype=np.int64), self._rows_to_batch(rows)))

    def convert_field(self, value: Any, t: DataType, path: str, *, text: bool = False) -> Any:
        """``convert_value`` for ``_one``: with ignore-parse-errors, a value that does not
        fit is NULL (the field's, or a nested element's), noted for ``Decoded.nulled``."""
        return convert_value(value, t, path, text=text, nulled=self._nulled)

    def _describe(self, e: Exception) -> str:
        text = str(e) or type(e).__name__
        return text if isinstance(e, RecordError) else f"{type(e).__name__}: {text}"

    def _fit_precision(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with the fraction digits of its times and timestamps that the column's
        precision does not hold cut off, as Flink keeps them (``TIMESTAMP(3)`` of
        ``12:34:56.1234`` is ``12:34:56.123``, TIME of ``12:34:56.789`` is ``12:34:56``):
        the readers keep microseconds."""
        if not self._coarse or not batch.num_rows:
            return batch
        columns = batch.columns
        for i, unit, multiple in self._coarse:
            columns[i] = pc.floor_temporal(columns[i], multiple=multiple, unit=unit)
        return pa.RecordBatch.from_arrays(columns, schema=batch.schema)

    def _assemble(self, pieces: list[tuple[np.ndarray, pa.RecordBatch]], n: int, out: Decoded) -> Decoded:
        out = self._assembled(pieces, n, out)
        out.batch = self._fit_precision(out.batch)
        return out

    def _assembled(self, pieces: list[tuple[np.ndarray, pa.RecordBatch]], n: int, out: Decoded) -> Decoded:
        if len(pieces) == 1 and len(pieces[0][0]) == n:
            out.batch = pieces[0][1]
            return out
        pieces = [p for p in pieces if len(p[0])]
        if not pieces:
            out.kept = np.zeros(0, dtype=np.int64)
            return out
        idx = np.concatenate([p[0] for p in pieces])
        table = pa.Table.from_batches([p[1] for p in pieces], schema=self.schema)
        if len(pieces) > 1 and bool((np.diff(idx) < 0).any()):
            order = np.argsort(idx, kind="stable")
            idx = idx[order]
            table = table.take(pa.array(order))
        batches = table.combine_chunks().to_batches()
        out.batch = batches[0] if batches else self._empty()
        out.kept = idx
        return out

    def _empty(self) -> pa.RecordBatch:
        return pa.RecordBatch.from_pylist([], schema=self.schema)

    def _rows_to_batch(self, rows: list[list[Any]]) -> pa.RecordBatch:
        columns = list(zip(*rows))
        arrays = [pa.array(list(col), type=f.type) for col, f in zip(columns, self.schema)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _not_null_violations(self, batch: pa.RecordBatch) -> np.ndarray | None:
        mask: np.ndarray | None = None
        for i, t in enumerate(self.types):
            if t.nullable:
                continue
            col = batch.column(i)
            if col.null_count:
                nulls = col.is_null().to_numpy(zero_copy_only=False)
                mask = nulls if mask is None else (mask | nulls)
        return mask

    def check_nullability(self, values: list[Any]) -> list[Any]:
        for v, f, t in zip(values, self.fields, self.types):
            if v is None and not t.nullable:
                raise RecordError(f"field '{f.name}' is null but the column is declared NOT NULL")
        return values


class RecordEncoder(ABC):
    """Encodes Arrow batches of ``fields``: one value per record (Kafka), or whole-file
    chunks of newline-terminated lines (files)."""

    #: The file name extension (without the dot) of files in this format.
    extension: str = "txt"

    def __init__(self, fields: Sequence[Field], *, name: str) -> None:
        self.fields = tuple(fields)
        self.types: list[DataType] = [parse_type(f.type) for f in self.fields]
        self.schema = nullable_schema(self.fields)
        self.name = name

    @abstractmethod
    def encode_records(self, batch: pa.RecordBatch) -> list[bytes | None]:
        """One encoded value per row (None for a null value of the raw format)."""

    @abstractmethod
    def encode_chunk(self, batch: pa.RecordBatch) -> bytes:
        """The rows as a piece of a file: each row one line ending with a newline."""

    def file_header(self) -> bytes:
        """What each new file starts with (a CSV header), if anything."""
        return b""


class SqlRecordEncoder(RecordEncoder):
    """An encoder whose records and lines are one DuckDB query over the batch (JSON, CSV):
    subclasses set ``_record_sql`` (one value per row) and ``_line_sql`` (a line per row),
    both over a relation named ``batch``."""

    _record_sql: str
    _line_sql: str

    def __init__(self, fields: Sequence[Field], *, name: str) -> None:
        super().__init__(fields, name=name)
        import duckdb  # here: the decoders, which a file source loads, never query DuckDB

        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        java_text.install(self._con)  # for decimal_sql

    def _run(self, sql: str, batch: pa.RecordBatch) -> pa.ChunkedArray:
        self._con.register("batch", batch)
        try:
            return self._con.sql(sql).to_arrow_table().column(0)
        finally:
            self._con.unregister("batch")

    def encode_records(self, batch: pa.RecordBatch) -> list[bytes | None]:
        if batch.num_rows == 0:
            return []
        return record_values(self._run(self._record_sql, batch))

    def encode_chunk(self, batch: pa.RecordBatch) -> bytes:
        if batch.num_rows == 0:
            return b""
        return strings_to_bytes(self._run(self._line_sql, batch))

    def encode_lines(self, batch: pa.RecordBatch) -> pa.Array:
        """Each row's line (newline included), in one query: a partitioned file sink cuts
        them by partition instead of querying once per partition. Columns of ``batch``
        the encoder does not know are left out."""
        lines = self._run(self._line_sql, batch)
        return lines.combine_chunks() if lines.num_chunks else pa.array([], pa.string())


# ---- shared helpers ---------------------------------------------------------------------


def strings_to_bytes(array: pa.Array | pa.ChunkedArray) -> bytes:
    """The concatenated bytes of a string array (nulls contribute nothing): the data
    buffer itself when there are no nulls."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], pa.string())
    if len(array) == 0:
        return b""
    if array.null_count == 0 and (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        offsets_dtype = np.int64 if pa.types.is_large_string(array.type) else np.int32
        buffers = array.buffers()
        offsets = np.frombuffer(buffers[1], dtype=offsets_dtype)[array.offset : array.offset + len(array) + 1]
        return buffers[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()
    values = pc.cast(array, pa.binary()).to_pylist()
    return b"".join(v or b"" for v in values)


def record_values(array: pa.Array | pa.ChunkedArray) -> list[bytes | None]:
    """Each value of a string array as bytes."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], pa.string())
    return pc.cast(array, pa.binary()).to_pylist()


def parse_timestamp_strings(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Strings in Flink's SQL format (``2020-01-01 12:00:00.123``) or ISO-8601
    (``2020-01-01T12:00:00.123Z``) to a timestamp array; a trailing ``Z`` is UTC. The
    regular expression that strips it runs only when a value has one: on 64k values it
    cost 4.7 ms, four times the cast, for csv files that never have one."""
    if pc.any(pc.ends_with(array, "Z")).as_py():
        array = pc.replace_substring_regex(array, pattern="Z$", replacement="")
    naive = pc.cast(array, pa.timestamp("us"))
    return naive.cast(target) if target != naive.type else naive


def parse_time_strings(array: pa.Array) -> pa.Array:
    """``HH:mm:ss[.fff]`` strings to time64[us]."""
    full = pc.binary_join_element_wise("1970-01-01 ", array, "")
    micros = pc.cast(pc.cast(full, pa.timestamp("us")), pa.int64())
    return pc.cast(micros, pa.time64("us"))


def decode_base64_strings(array: pa.Array) -> pa.Array:
    """Base64 text (Flink's encoding of BYTES in JSON and CSV) to binary."""
    values = array.to_pylist()
    return pa.array([None if v is None else base64.b64decode(v, validate=True) for v in values], pa.binary())


# ---- lenient conversion of one value (Flink's JSON/CSV converters) ----------------------


def convert_value(
    value: Any, t: DataType, path: str, *, text: bool = False, nulled: list[str] | None = None
) -> Any:
    """Convert a decoded JSON value (or CSV text when ``text``) to the Python value Arrow
    expects for ``t``; raises RecordError naming ``path`` when it does not fit, or, given
    ``nulled``, returns None and appends the error's message to it (Flink's nullable
    converters with ignore-parse-errors: at each level, so one bad element of an array
    is NULL, not the array)."""
    if value is None:
        return None
    if nulled is None:
        return _convert(value, t, path, text, None)
    try:
        return _convert(value, t, path, text, nulled)
    except RecordError as e:
        nulled.append(str(e))
        return None


def _convert(value: Any, t: DataType, path: str, text: bool, nulled: list[str] | None) -> Any:
    name = t.name
    try:
        if name == "BOOLEAN":
            if isinstance(value, bool):
                return value
            # Boolean.parseBoolean(text.trim()) in both formats: any other text, and in
            # JSON any number, object or array, is FALSE, never an error
            return isinstance(value, str) and value.strip(_JAVA_SPACE).lower() == "true"
        if name in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
            if isinstance(value, bool):
                raise RecordError(f"field '{path}': {value!r} is not a number")
            if isinstance(value, str):
                number = _java_int(value)
            elif isinstance(value, float | decimal.Decimal):
                number = int(value)
            else:
                number = int(value)
            bits = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}[name]
            if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
                raise RecordError(f"field '{path}': {value!r} is out of range for {name}")
            return number
        if name in ("FLOAT", "DOUBLE"):
            if isinstance(value, bool):
                raise RecordError(f"field '{path}': {value!r} is not a number")
            return _java_float(value) if isinstance(value, str) else float(value)
        if name in ("STRING", "VARCHAR", "CHAR"):
            if isinstance(value, str):
                return value
            return _json_text(value)
        if name == "DECIMAL":
            if isinstance(value, bool):
                raise RecordError(f"field '{path}': {value!r} is not a number")
            d = _java_decimal(value) if isinstance(value, str) else decimal.Decimal(str(value))
            scale, precision = t.scale or 0, t.precision or 10
            if d.is_finite() and d != 0 and d.adjusted() >= precision - scale:
                return None  # too many digits before the point (quantize would raise on 1e100)
            q = d.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP, context=EXACT)
            if len(q.as_tuple().digits) > precision and q != 0:
                return None  # Flink: a decimal that does not fit the precision becomes null
            return q
        if name == "DATE":
            if text:
                return _java_sql_date(value)
            return dt.date.fromisoformat(_text(value, path).strip())
        if name == "TIME":
            if text:  # LocalTime.parse: no spaces around it
                if not _LOCAL_TIME.fullmatch(value):
                    raise ValueError(f"not a time: {value!r}")
                return dt.time.fromisoformat(value)
            return dt.time.fromisoformat(_text(value, path).strip())
        if name in ("TIMESTAMP", "TIMESTAMP_LTZ"):
            stamp = dt.datetime.fromisoformat(_text(value, path).strip())
            if name == "TIMESTAMP_LTZ":
                if stamp.tzinfo is None:
                    return stamp.replace(tzinfo=dt.UTC)
                return stamp.astimezone(dt.UTC)
            if stamp.tzinfo is not None:
                stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
            return stamp
        if name in ("BYTES", "BINARY", "VARBINARY"):
            return base64.b64decode(_text(value, path), validate=True)
        if text:
            raise RecordError(f"field '{path}': the {name} type is not supported in this format")
        if name in ("ARRAY", "MULTISET"):
            if not isinstance(value, list):
                raise RecordError(f"field '{path}': expected an array")
            return [convert_value(v, t.children[0], f"{path}[]", nulled=nulled) for v in value]
        if name == "MAP":
            if not isinstance(value, dict):
                raise RecordError(f"field '{path}': expected an object")
            kt, vt = t.children
            return [
                # a key is never NULL (an Arrow map has none): a bad one nulls the map
                (convert_value(k, kt, f"{path}.key"), convert_value(v, vt, f"{path}.{k}", nulled=nulled))
                for k, v in value.items()
            ]
        if name == "ROW":
            if not isinstance(value, dict):
                raise RecordError(f"field '{path}': expected an object")
            return {
                n: convert_value(value.get(n), ct, f"{path}.{n}", nulled=nulled)
                for n, ct in zip(t.field_names, t.children)
            }
    except RecordError:
        raise
    except (ValueError, TypeError, ArithmeticError) as e:  # binascii.Error is a ValueError
        raise RecordError(f"field '{path}': cannot read {value!r} as {t.sql()} ({e})") from None
    raise RecordError(f"field '{path}': the type {t.sql()} is not supported")


# Text read as a number the way Flink's converters read it, with Java's parsers: Python's
# int(), float() and Decimal() take more ('1_000', 'inf', ' 1.5' as a DECIMAL, 'nan').
_JAVA_SPACE = "".join(map(chr, range(0x21)))  # what String.trim() removes
_JAVA_INT = re.compile(r"[+-]?\d+")  # Unicode digits, as Character.digit and int() take
_JAVA_FLOAT = re.compile(r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)")
_JAVA_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+[fFdD]?"
)
_JAVA_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


_SQL_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")  # java.sql.Date.valueOf's yyyy-[m]m-[d]d
_LOCAL_TIME = re.compile(r"\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?")


def _java_sql_date(text: str) -> dt.date:
    """java.sql.Date.valueOf(text), which Flink's CSV format reads a DATE with: one- or
    two-digit month and day, no spaces, and a day past the month's end rolls over into
    the next month ('2020-02-30' is 2020-03-01)."""
    m = _SQL_DATE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a date: {text!r}")
    year, month, day = (int(g) for g in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31) or year == 0:
        raise ValueError(f"not a date: {text!r}")
    return dt.date(year, month, 1) + dt.timedelta(days=day - 1)


def _java_int(text: str) -> int:
    """Long.parseLong(text.trim())."""
    trimmed = text.strip(_JAVA_SPACE)
    if not _JAVA_INT.fullmatch(trimmed):
        raise ValueError(f"not an integer: {text!r}")
    return int(trimmed)


def _java_float(text: str) -> float:
    """Double.parseDouble(text.trim()): 'NaN', 'Infinity', '1.5d', '0x1p3' too."""
    trimmed = text.strip(_JAVA_SPACE)
    if _JAVA_FLOAT.fullmatch(trimmed):
        return float(trimmed.rstrip("fFdD"))
    if _JAVA_HEX_FLOAT.fullmatch(trimmed):
        return float.fromhex(trimmed.rstrip("fFdD"))
    raise ValueError(f"not a floating point number: {text!r}")


def _java_decimal(text: str) -> decimal.Decimal:
    """new BigDecimal(text): no spaces around it, no NaN or Infinity."""
    if not _JAVA_DECIMAL.fullmatch(text):
        raise ValueError(f"not a decimal number: {text!r}")
    return decimal.Decimal(text)


def non_finite_rows(batch: pa.RecordBatch) -> np.ndarray | None:
    """A mask of the rows of ``batch`` with a NaN or an infinity in a FLOAT or DOUBLE
    column, which a bulk reader may have taken from text the format refuses; None if none."""
    mask: np.ndarray | None = None
    for col in batch.columns:
        if pa.types.is_floating(col.type) and len(col):
            bad = pc.invert(pc.fill_null(pc.is_finite(col), True)).to_numpy(zero_copy_only=False)
            if bad.any():
                mask = bad if mask is None else (mask | bad)
    return mask


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise RecordError(f"field '{path}': expected a string, got {value!r}")
    return value


def _json_text(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)
