"""Flink's ``json`` format: one JSON object per record, fields by column name.

Decoding reads a whole chunk with pyarrow's JSON reader (an explicit schema, unknown fields
ignored); encoding builds every record's text in one DuckDB query over the batch.
Timestamps are written in Flink's ``SQL`` standard (``2020-04-15 08:05:00.123``, a trailing
``Z`` for TIMESTAMP_LTZ) or ``ISO-8601`` (``json.timestamp-format.standard``); on input both
are accepted. BYTES are base64 text, as in Flink.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from catalog.options import OptionBag
from catalog.types import DataType
from planner.physical import Field
from runtime.batches import q
from runtime.formats.base import (
    FormatError,
    RecordDecoder,
    RecordError,
    SqlRecordEncoder,
    decode_base64_strings,
    parse_time_strings,
)
from runtime.formats.java_text import decimal_sql, float_sql

_BLOCK_SIZE = 1 << 20
_OPEN, _CLOSE = b"{}"
_JSON_SPACE = b" \t\r\n"  # what JSON allows around a value (bytes.strip would take more)
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(_JSON_SPACE)] = True
_MAX_PAD = 4  # a line with more spaces around its object is read as a record
_BYTES = ("BYTES", "BINARY", "VARBINARY")


def _nested_bulk_ok(t: DataType) -> bool:
    """Whether pyarrow's JSON reader converts ``t`` inside arrays/rows by itself."""
    if t.name in ("MAP", "MULTISET", "DATE", "TIME", *_BYTES):
        return False
    return all(_nested_bulk_ok(c) for c in t.children)


class JsonDecoder(RecordDecoder):
    def __init__(self, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        ignore = options.get_bool(f"{prefix}json.ignore-parse-errors", False)
        self.fail_on_missing = options.get_bool(f"{prefix}json.fail-on-missing-field", False)
        # Input accepts both timestamp standards; the encoder's options are consumed too so
        # that one option bag serves a table used as source and sink.
        options.get(f"{prefix}json.timestamp-format.standard")
        options.get(f"{prefix}json.map-null-key.mode")
        options.get(f"{prefix}json.encode.decimal-as-plain-number")
        if ignore and self.fail_on_missing:
            raise FormatError(
                f"{options.where}: '{prefix}json.fail-on-missing-field' and "
                f"'{prefix}json.ignore-parse-errors' cannot both be true",
                hint="choose whether a record with a missing field fails the job or is skipped",
            )
        super().__init__(fields, ignore_errors=ignore, name=f"{prefix}json")
        read_fields = []
        self._post: list[str | None] = []
        self._bulk_ok = True
        for f, t, af in zip(self.fields, self.types, self.schema):
            post = None
            read_type = af.type
            if t.name in ("DATE", "TIME", *_BYTES):
                post = t.name if t.name not in _BYTES else "BYTES"
                read_type = pa.string()
            elif t.name in ("MAP", "MULTISET") or (not _nested_bulk_ok(t) and t.children):
                self._bulk_ok = False
            read_fields.append(pa.field(f.name, read_type))
            self._post.append(post)
        self._parse_options = pj.ParseOptions(
            explicit_schema=pa.schema(read_fields), unexpected_field_behavior="ignore"
        )

    def bulk_supported(self) -> bool:
        return self._bulk_ok

    def _precision(self, t: DataType) -> int | None:
        # Flink's json format keeps a TIME's milliseconds whatever its precision (its csv
        # format cuts them to it): tests/oracle/bad_records.json records both
        return 3 if t.name == "TIME" else super()._precision(t)

    @property
    def read_type(self) -> pa.StructType:
        """What pyarrow's reader reads a row object as (``convert`` makes the columns)."""
        return pa.struct(list(self._parse_options.explicit_schema))

    def convert(self, table: pa.Table) -> pa.RecordBatch:
        """Columns read as ``read_type``'s fields, as the declared columns (dates, times and
        bytes from their text)."""
        return self._convert(table)

    def _suspects(self, batch: pa.RecordBatch) -> Any:
        mask = self._not_null_violations(batch)
        if self.fail_on_missing:
            for col in batch.columns:
                if col.null_count:
                    nulls = col.is_null().to_numpy(zero_copy_only=False)
                    mask = nulls if mask is None else (mask | nulls)
        return mask

    def _bulk(self, records: list[bytes]) -> pa.RecordBatch:
        data = b"\n".join(records)
        if data.count(b"\n") != len(records) - 1:  # a record spans lines: JSON allows that
            data = b"\n".join(r.replace(b"\n", b" ") for r in records)
        for r in records:  # see lines_are_objects: each must be one object, even in bulk
            r = r.strip(_JSON_SPACE)
            if r[:1] != b"{" or r[-1:] != b"}":
                raise RecordError("not one object")
        return self._convert(self._read_all(data))

    def _bulk_block(
        self, block: bytes | memoryview, count: int, newlines: np.ndarray | None
    ) -> pa.RecordBatch:
        # Checked before the read, not beside it: pyarrow's reader crashes the process
        # (SIGSEGV, pyarrow 26) on a line that is a bare value such as ``null``.
        if not one_object_per_line(block, count, newlines):
            raise RecordError("a line is not one object")
        return self._convert(self._read_all(block))

    def _read_all(self, data: bytes | memoryview) -> pa.Table:
        try:
            return self._read(data, _BLOCK_SIZE)
        except pa.ArrowInvalid as e:
            if "straddl" not in str(e) and "block" not in str(e):
                raise
            return self._read(data, len(data) + 1)

    def _convert(self, table: pa.Table) -> pa.RecordBatch:
        arrays = []
        for name, post, af in zip(table.column_names, self._post, self.schema):
            col = table.column(name).combine_chunks()
            if post == "DATE":
                col = pc.cast(col, pa.date32())
            elif post == "TIME":
                col = parse_time_strings(col)
            elif post == "BYTES":
                col = decode_base64_strings(col)
            arrays.append(col if col.type == af.type else col.cast(af.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _read(self, data: bytes | memoryview, block_size: int) -> pa.Table:
        return pj.read_json(
            pa.BufferReader(data),  # zero copy, and no Python file calls under the GIL
            read_options=pj.ReadOptions(use_threads=self.threads, block_size=max(block_size, 1 << 16)),
            parse_options=self._parse_options,
        )

    def _one(self, record: bytes) -> list[Any]:
        if not record.strip():
            raise RecordError("empty record")
        obj = load_object(record, first_value=True)
        values = []
        for f, t in zip(self.fields, self.types):
            if f.name in obj:
                value = obj[f.name]
            elif self.fail_on_missing:
                raise RecordError(f"field '{f.name}' is missing (json.fail-on-missing-field is true)")
            else:
                value = None
            values.append(self.convert_field(value, t, f.name))
        return self.check_nullability(values)


def one_object_per_line(block: bytes | memoryview, count: int, newlines: np.ndarray | None) -> bool:
    """``lines_are_objects`` for the ``count`` lines of ``block`` (``newlines``: the
    positions of its line breaks, found here when not given)."""
    if newlines is None:
        newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    # the last line may have no line break (a file's end; values joined by them)
    ends = newlines if len(newlines) == count else np.append(newlines, len(block))
    return lines_are_objects(block, ends)


def lines_are_objects(block: bytes | memoryview, line_ends: np.ndarray) -> bool:
    """Whether every line of ``block`` (``line_ends``: where each ends, exclusive) starts
    with ``{`` and ends with ``}``, JSON's spaces around them aside (up to a few).

    pyarrow's reader takes a block as a stream of objects, whatever the lines: a line of
    two objects and a line of spaces, or an object over two lines, give as many rows as
    lines, where each line read alone is a bad record. With this check, a bulk read that
    gives one row per line has read each line as one object: a line break between ``}``
    and ``{`` cannot be inside an object or array (there ``}`` is followed by ``,``, ``}``
    or ``]``, and strings hold no raw line break, which the reader refuses), so each line
    holds whole objects, at least one, and as many objects as lines leave one each."""
    data = np.frombuffer(block, dtype=np.uint8)
    if not len(line_ends):
        return False
    if _tight(data, line_ends):
        return True
    first = np.empty(len(line_ends), dtype=np.int64)
    first[0] = 0
    first[1:] = line_ends[:-1] + 1
    if not bool((line_ends - first >= 2).all()):  # an empty line, or one of one byte
        return False
    last = line_ends - 1
    return _ends_are(data, first.copy(), _OPEN, last) and _ends_are(data, last, _CLOSE, first)


def _tight(data: np.ndarray, line_ends: np.ndarray) -> bool:
    """The common case, in one gather: ``}``, the line break, ``{`` around every line break
    between lines, ``{`` first and ``}`` last (each line then has both, so two bytes at least)."""
    inner, end = line_ends[:-1], int(line_ends[-1])
    if end < 1 or data[0] != _OPEN or data[end - 1] != _CLOSE:
        return False
    if not len(inner):
        return True
    if inner[0] < 1 or inner[-1] > len(data) - 3:
        return False
    # the four bytes from each position, read unaligned: a little-endian word's low three
    window = np.ndarray((len(data) - 3,), dtype="<u4", buffer=data, strides=(1,))
    return bool(((window[inner - 1] & 0xFFFFFF) == _CLOSE | 10 << 8 | _OPEN << 16).all())


def _ends_are(data: np.ndarray, at: np.ndarray, byte: int, bound: np.ndarray) -> bool:
    """Whether ``data`` holds ``byte`` at each of ``at``, or after a few JSON spaces from
    it towards ``bound`` (the line's other end, never passed; ``at`` moves)."""
    step = 1 if byte == _OPEN else -1
    found = data[at] == byte
    for _ in range(_MAX_PAD):
        if found.all():
            return True
        pad = ~found & _SPACE[data[at]] & (at != bound)
        if not pad.any():
            return False
        at[pad] += step
        found = data[at] == byte
    return bool(found.all())


_DECODER = json.JSONDecoder(parse_float=decimal.Decimal)


def load_object(record: bytes, first_value: bool = False) -> dict[str, Any]:
    """One record's JSON object (numbers with a fraction as Decimal), or RecordError.
    ``first_value``: what follows the record's first JSON value is not read, as Flink's
    json format reads a record (``{"a": 1} x`` is ``{"a": 1}``)."""
    try:
        if first_value:
            text = record.decode("utf-8")
            obj, _ = _DECODER.raw_decode(text, len(text) - len(text.lstrip(" \t\r\n")))
        else:
            obj = json.loads(record, parse_float=decimal.Decimal)
    except json.JSONDecodeError as e:
        raise RecordError(f"invalid JSON: {e.msg} at character {e.pos + 1}") from None
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__} {_clip(record)}")
    return obj


def _clip(record: bytes, n: int = 60) -> str:
    text = record.decode("utf-8", "replace")
    return repr(text if len(text) <= n else text[:n] + "...")


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_OWN_TEXT = ("TIMESTAMP", "TIMESTAMP_LTZ", "DECIMAL", "FLOAT", "DOUBLE", *_BYTES)


def _has_own_text(t: DataType) -> bool:
    """Whether ``t`` holds a value that DuckDB's to_json writes otherwise than Flink."""
    return t.name in _OWN_TEXT or any(_has_own_text(c) for c in t.children)


def json_value_sql(col: str, t: DataType, iso: bool, plain_decimals: bool = False, depth: int = 0) -> str:
    """DuckDB SQL giving the JSON text of column ``col`` (NULL for a null value); numbers as
    Flink writes them (``runtime.formats.java_text``), in an ARRAY, ROW or MAP too: those
    are written element by element (list_transform) when they hold such a value, else by
    to_json. ``depth``: how deep in such values ``col`` is (names the lambdas' variables)."""
    name = t.name
    if t.children and name != "MULTISET" and _has_own_text(t):
        return _nested_sql(col, t, iso, plain_decimals, depth)
    if name == "TIMESTAMP":
        text = f"CAST({col} AS VARCHAR)"
        return f"to_json(replace({text}, ' ', 'T'))" if iso else f"to_json({text})"
    if name == "TIMESTAMP_LTZ":
        text = f"CAST(CAST({col} AS TIMESTAMP) AS VARCHAR)"
        if iso:
            text = f"replace({text}, ' ', 'T')"
        return f"to_json({text} || 'Z')"
    if name in _BYTES:
        return f"to_json(to_base64({col}))"
    if name == "DECIMAL":
        return decimal_sql(col, t, plain_decimals)
    if name in ("FLOAT", "DOUBLE"):  # Jackson quotes what is not a number
        return float_sql(col, name == "FLOAT", quote_non_finite=True)
    return f"to_json({col})"


def _nested_sql(col: str, t: DataType, iso: bool, plain_decimals: bool, depth: int) -> str:
    """``json_value_sql`` of an ARRAY, ROW or MAP: its elements' texts joined."""

    def inner(x: str, child: DataType) -> str:
        return f"coalesce({json_value_sql(x, child, iso, plain_decimals, depth + 1)}, 'null')"

    x = f"x{depth}"
    if t.name == "ARRAY":
        items = f"list_transform({col}, lambda {x}: {inner(x, t.children[0])})"
        return f"('[' || array_to_string({items}, ',') || ']')"
    if t.name == "MAP":  # keys as text, as Flink writes them
        entry = f"to_json(CAST({x}.key AS VARCHAR)) || ':' || {inner(f'{x}.value', t.children[1])}"
        items = f"list_transform(map_entries({col}), lambda {x}: {entry})"
        return f"('{{' || array_to_string({items}, ',') || '}}')"
    parts = [
        _sql_text(("," if i else "") + json.dumps(n) + ":")
        + " || "
        + inner(f"struct_extract({col}, {_sql_text(n)})", c)
        for i, (n, c) in enumerate(zip(t.field_names, t.children))
    ]
    body = " || ".join(parts) if parts else "''"
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE '{{' || {body} || '}}' END"


class JsonEncoder(SqlRecordEncoder):
    extension = "json"

    def __init__(self, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        super().__init__(fields, name=f"{prefix}json")
        standard = options.get_choice(f"{prefix}json.timestamp-format.standard", ("SQL", "ISO-8601"), "sql")
        plain = options.get_bool(f"{prefix}json.encode.decimal-as-plain-number", False)
        options.get(f"{prefix}json.map-null-key.mode")  # Arrow maps have no null keys
        options.get(f"{prefix}json.ignore-parse-errors")
        options.get(f"{prefix}json.fail-on-missing-field")
        obj = json_object_sql(self.fields, self.types, standard == "iso-8601", plain)
        self._record_sql = f"SELECT {obj} AS v FROM batch"
        self._line_sql = f"SELECT {obj} || chr(10) AS v FROM batch"


def json_object_sql(
    fields: Sequence[Field], types: Sequence[DataType], iso: bool, plain_decimals: bool = False
) -> str:
    """DuckDB SQL giving each row's JSON object text (the row's columns by name)."""
    parts = []
    for i, (f, t) in enumerate(zip(fields, types)):
        key = json.dumps(f.name) + ":"
        sep = "" if i == 0 else ","
        parts.append(
            f"{_sql_text(sep + key)} || coalesce({json_value_sql(q(f.name), t, iso, plain_decimals)}, 'null')"
        )
    body = " || ".join(parts) if parts else "''"
    return f"('{{' || {body} || '}}')"
