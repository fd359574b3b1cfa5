"""Flink's ``raw`` format: the record's bytes are the value of the table's single column.

A STRING column decodes the bytes with ``raw.charset`` (UTF-8 by default; bytes that do not
decode become U+FFFD, as in Java), a BYTES column
takes them as they are; a null record (a Kafka tombstone) is a NULL value. In files each
line is one record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.options import OptionBag
from planner.physical import Field
from runtime.formats.base import FormatError, RecordDecoder, RecordEncoder

_STRINGS = ("STRING", "VARCHAR", "CHAR")
_BYTES = ("BYTES", "BINARY", "VARBINARY")


def _check(fields: Sequence[Field], types: Sequence[Any], where: str) -> bool:
    """Whether the single column is a string (else bytes); raises for anything else."""
    if len(fields) != 1 or types[0].name not in (*_STRINGS, *_BYTES):
        cols = ", ".join(f"{f.name} {t.sql()}" for f, t in zip(fields, types))
        raise FormatError(
            f"{where}: the raw format needs exactly one STRING or BYTES column, the table has: {cols}",
        )
    return bool(types[0].name in _STRINGS)


def _charset(options: OptionBag, prefix: str) -> str:
    charset = options.get(f"{prefix}raw.charset") or "UTF-8"
    endianness = options.get(f"{prefix}raw.endianness") or "big-endian"
    if endianness.lower() not in ("big-endian", "little-endian"):
        raise FormatError(f"{options.where}: 'raw.endianness' must be big-endian or little-endian")
    try:
        "".encode(charset)
    except LookupError:
        raise FormatError(f"{options.where}: unknown 'raw.charset' '{charset}'") from None
    return charset


class RawDecoder(RecordDecoder):
    skip_blank_lines = False

    def __init__(self, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        self.charset = _charset(options, prefix)
        super().__init__(fields, ignore_errors=False, name=f"{prefix}raw")
        self.is_string = _check(self.fields, self.types, options.where)
        self._utf8 = self.charset.replace("-", "").replace("_", "").lower() == "utf8"

    def _dropped(self, records: Sequence[bytes | None]) -> np.ndarray | None:
        return None  # a null record is a NULL value

    def _bulk(self, records: list[bytes]) -> pa.RecordBatch:
        arr: pa.Array = pa.array(records, pa.binary())
        if self.is_string:
            if self._utf8:
                arr = pc.cast(arr, pa.string())
            else:
                arr = pa.array(
                    [None if r is None else r.decode(self.charset, "replace") for r in records],
                    pa.string(),
                )
        return pa.RecordBatch.from_arrays([arr], schema=self.schema)

    def _one(self, record: Any) -> list[Any]:
        if record is None:
            return self.check_nullability([None])
        if not self.is_string:
            return [bytes(record)]
        # Like Java's String(bytes, charset): undecodable bytes become U+FFFD, never an error.
        return [record.decode(self.charset, "replace")]


class RawEncoder(RecordEncoder):
    extension = "txt"

    def __init__(self, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        self.charset = _charset(options, prefix)
        super().__init__(fields, name=f"{prefix}raw")
        self.is_string = _check(self.fields, self.types, options.where)
        self._utf8 = self.charset.replace("-", "").replace("_", "").lower() == "utf8"

    def encode_records(self, batch: pa.RecordBatch) -> list[bytes | None]:
        col = batch.column(self.fields[0].name)
        if not self.is_string or self._utf8:
            return pc.cast(col, pa.binary()).to_pylist()
        return [None if v is None else v.encode(self.charset) for v in col.to_pylist()]

    def encode_chunk(self, batch: pa.RecordBatch) -> bytes:
        values = self.encode_records(batch)
        if not values:
            return b""
        return b"\n".join(v or b"" for v in values) + b"\n"
