"""Flink's ``raw`` format: the record's bytes are the value of the table's single column.

A STRING column decodes the bytes with ``raw.charset`` (UTF-8 by default; bytes that do not
decode become U+FFFD, as in Java); a BYTES column takes them as they are; BOOLEAN, TINYINT,
SMALLINT, INT, BIGINT, FLOAT and DOUBLE are their fixed-size binary form in
``raw.endianness`` (big-endian by default, as in Flink). A null record (a Kafka tombstone)
is a NULL value. In files each line is one record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.options import OptionBag
from catalog.types import DataType
from planner.physical import Field
from runtime.formats.base import FormatError, RecordDecoder, RecordEncoder, RecordError

_STRINGS = ("STRING", "VARCHAR", "CHAR")
_BYTES = ("BYTES", "BINARY", "VARBINARY")
_NUMBERS = {
    "BOOLEAN": "u1",
    "TINYINT": "i1",
    "SMALLINT": "i2",
    "INT": "i4",
    "BIGINT": "i8",
    "FLOAT": "f4",
    "DOUBLE": "f8",
}


class _RawOptions:
    def __init__(self, fields: Sequence[Field], types: Sequence[DataType], options: OptionBag, prefix: str):
        where = options.where
        self.charset = options.get(f"{prefix}raw.charset") or "UTF-8"
        endianness = (options.get(f"{prefix}raw.endianness") or "big-endian").lower()
        if endianness not in ("big-endian", "little-endian"):
            raise FormatError(f"{where}: '{prefix}raw.endianness' must be big-endian or little-endian")
        try:
            "".encode(self.charset)
        except LookupError:
            raise FormatError(f"{where}: unknown '{prefix}raw.charset' '{self.charset}'") from None
        if len(fields) != 1 or types[0].name not in (*_STRINGS, *_BYTES, *_NUMBERS):
            cols = ", ".join(f"{f.name} {t.sql()}" for f, t in zip(fields, types))
            raise FormatError(
                f"{where}: the raw format needs exactly one column of a string, binary or "
                f"numeric type; the table has: {cols}",
            )
        self.kind = types[0].name
        self.is_string = self.kind in _STRINGS
        self.utf8 = self.charset.replace("-", "").replace("_", "").lower() == "utf8"
        code = _NUMBERS.get(self.kind)
        self.dtype = np.dtype((">" if endianness == "big-endian" else "<") + code) if code else None


class RawDecoder(RecordDecoder):
    skip_blank_lines = False

    def __init__(self, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        super().__init__(fields, ignore_errors=False, name=f"{prefix}raw")
        self.ignore_option = None
        self.o = _RawOptions(self.fields, self.types, options, prefix)

    def _dropped(self, records: Sequence[bytes | None]) -> np.ndarray | None:
        return None  # a null record is a NULL value

    def _bulk(self, records: list[bytes]) -> pa.RecordBatch:
        o = self.o
        if o.dtype is not None:
            return self._numbers(records, o.dtype)
        arr: pa.Array = pa.array(records, pa.binary())
        if o.is_string:
            if o.utf8:
                arr = pc.cast(arr, pa.string())
            else:
                arr = pa.array(
                    [None if r is None else r.decode(o.charset, "replace") for r in records], pa.string()
                )
        return pa.RecordBatch.from_arrays([arr], schema=self.schema)

    def _numbers(self, records: list[bytes], dtype: np.dtype) -> pa.RecordBatch:
        nulls = None
        if None in records:
            nulls = np.array([r is None for r in records])
            records = [bytes(dtype.itemsize) if r is None else r for r in records]
        data = b"".join(records)
        if len(data) != dtype.itemsize * len(records):
            raise RecordError("a record has the wrong size")
        values = np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="))
        if self.o.kind == "BOOLEAN":
            values = values != 0
        arr = pa.array(values, mask=nulls, type=self.schema.field(0).type)
        return pa.RecordBatch.from_arrays([arr], schema=self.schema)

    def _one(self, record: Any) -> list[Any]:
        o = self.o
        if record is None:
            return self.check_nullability([None])
        if o.dtype is not None:
            if len(record) != o.dtype.itemsize:
                raise RecordError(f"a {o.kind} takes {o.dtype.itemsize} bytes, the record has {len(record)}")
            value = np.frombuffer(record, dtype=o.dtype)[0].item()
            return [bool(value) if o.kind == "BOOLEAN" else value]
        if not o.is_string:
            return [bytes(record)]
        # Like Java's String(bytes, charset): undecodable bytes become U+FFFD, never an error.
        return [record.decode(o.charset, "replace")]


class RawEncoder(RecordEncoder):
    extension = "txt"

    def __init__(self, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        super().__init__(fields, name=f"{prefix}raw")
        self.o = _RawOptions(self.fields, self.types, options, prefix)

    def encode_records(self, batch: pa.RecordBatch) -> list[bytes | None]:
        o = self.o
        col = batch.column(self.fields[0].name)
        if o.dtype is not None:
            size = o.dtype.itemsize
            filled = pc.fill_null(col, False if o.kind == "BOOLEAN" else 0)
            data = filled.to_numpy(zero_copy_only=False).astype(o.dtype).tobytes()
            valid = col.is_valid().to_numpy(zero_copy_only=False)
            return [data[i * size : (i + 1) * size] if ok else None for i, ok in enumerate(valid)]
        if not o.is_string or o.utf8:
            return pc.cast(col, pa.binary()).to_pylist()
        return [None if v is None else v.encode(o.charset) for v in col.to_pylist()]

    def encode_chunk(self, batch: pa.RecordBatch) -> bytes:
        values = self.encode_records(batch)
        if not values:
            return b""
        return b"\n".join(v or b"" for v in values) + b"\n"
