"""Flink's ``avro`` format, with fastavro: a Kafka record is one Avro datum of the table's
schema (``catalog.connectors.avro``: binary, no header, as Flink's
AvroRowDataSerializationSchema writes it); a file is an Avro object container file
compressed with ``avro.codec`` (snappy by default, as in Flink).

Decoding reads each record with fastavro's compiled reader and checks that it used every
byte (a container block would read a misaligned record silently into the next), then
builds the batch at once; a chunk that fails is bisected by ``RecordDecoder`` down to the
bad records (a datum that does not parse, or one with bytes left over); a bad record fails
the job, naming where it is (Flink's avro format has no option to skip them).

fastavro compresses snappy and zstandard with optional libraries; Arrow has both codecs,
so they are registered from it when those libraries are missing (the block layouts are
Avro's: snappy data followed by the CRC32 of the uncompressed bytes).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

import fastavro
import fastavro._read as _fa_read  # noqa: PLC2701 - its codec table has no public name
import fastavro._write as _fa_write  # noqa: PLC2701 - likewise
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.connectors.avro import avro_schema
from catalog.options import OptionBag
from catalog.types import DataType, parse_type
from planner.physical import Field
from runtime.formats.base import FormatError, RecordDecoder, RecordEncoder, RecordError, nullable_schema

EXTENSION = "avro"
_INT_RANGE = {"TINYINT": 1 << 7, "SMALLINT": 1 << 15}


# ---- codecs Arrow provides --------------------------------------------------------------
def _write_long(fo: BinaryIO, n: int) -> None:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    fo.write(bytes(out))


def _read_long(fo: BinaryIO) -> int:
    shift = n = 0
    while True:
        b = fo.read(1)[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (n >> 1) ^ -(n & 1)


def _snappy_write(fo: BinaryIO, block: bytes, level: int | None) -> None:
    data = pa.compress(block, "snappy", asbytes=True)
    _write_long(fo, len(data) + 4)
    fo.write(data)
    fo.write(struct.pack(">I", zlib.crc32(block) & 0xFFFFFFFF))


def _snappy_read(fo: BinaryIO) -> io.BytesIO:
    data = fo.read(_read_long(fo) - 4)
    fo.read(4)  # the CRC
    return io.BytesIO(pa.decompress(data, _snappy_length(data), "snappy", asbytes=True))


def _snappy_length(data: bytes) -> int:
    """The uncompressed length a snappy block starts with (a varint)."""
    shift = n = 0
    for b in data:
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return n


def _zstd_write(fo: BinaryIO, block: bytes, level: int | None) -> None:
    data = pa.compress(block, "zstd", asbytes=True)
    _write_long(fo, len(data))
    fo.write(data)


def _zstd_read(fo: BinaryIO) -> io.BytesIO:
    data = fo.read(_read_long(fo))
    return io.BytesIO(pa.input_stream(pa.BufferReader(data), compression="zstd").read())


def _install_codecs() -> None:
    codecs = (("snappy", _snappy_write, _snappy_read), ("zstandard", _zstd_write, _zstd_read))
    for name, write, read in codecs:
        try:
            fastavro.writer(io.BytesIO(), {"type": "record", "name": "probe", "fields": []}, [{}], codec=name)
        except ValueError:  # "you need to install one of the following libraries"
            _fa_write.BLOCK_WRITERS[name] = write  # type: ignore[attr-defined]
            _fa_read.BLOCK_READERS[name] = read


_install_codecs()


# ---- values between Arrow and fastavro -------------------------------------------------
def _has_map(t: DataType) -> bool:
    return t.name in ("MAP", "MULTISET") or any(_has_map(c) for c in t.children)


def _to_avro(value: Any, t: DataType) -> Any:
    """Arrow's Python value to fastavro's: maps are dicts (Arrow gives key-value pairs)."""
    if value is None:
        return None
    if t.name in ("MAP", "MULTISET"):
        vt = t.children[1] if t.name == "MAP" else None
        return {k: (_to_avro(v, vt) if vt is not None else v) for k, v in value}
    if t.name == "ARRAY":
        return [_to_avro(v, t.children[0]) for v in value]
    if t.name == "ROW":
        return {n: _to_avro(value.get(n), ct) for n, ct in zip(t.field_names, t.children)}
    return value


def _options(options: OptionBag, prefix: str) -> tuple[bool, str]:
    legacy = (options.get(f"{prefix}avro.timestamp_mapping.legacy") or "true").lower() == "true"
    return legacy, (options.get(f"{prefix}avro.codec") or "snappy").lower()


def table_schema(fields: Sequence[Field], legacy: bool) -> dict[str, Any]:
    try:
        return avro_schema([(f.name, parse_type(f.type)) for f in fields], legacy)
    except Exception as e:  # AvroTypeError (an OptionError): the table was checked at CREATE
        raise FormatError(str(e)) from None


def parsed_schema(fields: Sequence[Field], legacy: bool) -> Any:
    return fastavro.parse_schema(table_schema(fields, legacy))


# Logical types of top-level columns that Arrow turns into their Avro integers (and back)
# for a whole column at once: fastavro's own conversion costs twice its encoding. The
# value is the unit of the integer.
_TIME_TYPES = {
    "timestamp-millis": "ms", "timestamp-micros": "us", "local-timestamp-millis": "ms",
    "local-timestamp-micros": "us", "date": "day", "time-millis": "ms",
}  # fmt: skip


def _time_columns(schema: dict[str, Any]) -> dict[str, str]:
    """Top-level fields of a date/time logical type -> the unit of their integer."""
    out = {}
    for f in schema["fields"]:
        t = f["type"]
        base = t[1] if isinstance(t, list) else t
        if isinstance(base, dict) and base.get("logicalType") in _TIME_TYPES:
            out[f["name"]] = _TIME_TYPES[base["logicalType"]]
    return out


def _plain(schema: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """``schema`` with the logical types of the top-level fields ``names`` dropped: the
    same bytes, read as the integers they are."""
    fields = []
    for f in schema["fields"]:
        if f["name"] in names:
            t = f["type"]
            plain = (t[1] if isinstance(t, list) else t)["type"]
            f = {**f, "type": ["null", plain] if isinstance(t, list) else plain}
        fields.append(f)
    return {**schema, "fields": fields}


def _to_ints(col: pa.Array, unit: str) -> pa.Array:
    """A date/time column as Avro's integers: days, or ms/us since the epoch (or midnight),
    ms rounded down as Flink's TimestampData.getMillisecond."""
    if unit == "day":
        return pc.cast(col, pa.int32())
    micros = pc.cast(col, pa.int64())  # Arrow holds timestamps and times in us here
    if unit == "us":
        return micros
    values = np.floor_divide(pc.fill_null(micros, 0).to_numpy(zero_copy_only=False), 1000)
    return pa.array(values, mask=pc.is_null(micros).to_numpy(zero_copy_only=False), type=pa.int64())


def _from_ints(col: pa.Array, unit: str, target: pa.DataType) -> pa.Array:
    """Avro's integers of a date/time column as the column's Arrow type."""
    if unit == "day":
        return pc.cast(pc.cast(col, pa.int32()), target)
    micros = pc.cast(col, pa.int64())
    if unit == "ms":
        micros = pc.multiply(micros, 1000)
    return pc.cast(micros, target)


class AvroDecoder(RecordDecoder):
    def __init__(self, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        super().__init__(fields, ignore_errors=False, name=f"{prefix}avro")
        self.ignore_option = None  # Flink's avro format has no ignore-parse-errors
        legacy, _ = _options(options, prefix)
        schema = table_schema(self.fields, legacy)
        self.avro = fastavro.parse_schema(schema)
        self._names = [f.name for f in self.fields]
        # The bulk path reads date/time columns as integers and converts whole columns.
        self._times = _time_columns(schema)
        self._plain = fastavro.parse_schema(_plain(schema, set(self._times)))
        self._plain_schema = pa.schema(
            [pa.field(f.name, pa.int64()) if f.name in self._times else f for f in self.schema]
        )

    def _datum(self, record: bytes | None, plain: bool = False) -> dict[str, Any]:
        if record is None:
            raise RecordError("a null record is not an Avro datum")
        stream = io.BytesIO(record)
        try:
            datum = fastavro.schemaless_reader(stream, self._plain if plain else self.avro, None)
        except (EOFError, IndexError, ValueError, KeyError, UnicodeDecodeError, struct.error) as e:
            raise RecordError(f"not an Avro datum of the table's schema ({type(e).__name__}: {e})") from None
        if stream.tell() != len(record):
            raise RecordError(f"{len(record) - stream.tell()} bytes follow the Avro datum")
        assert isinstance(datum, dict)
        return datum

    def _bulk(self, records: list[bytes]) -> pa.RecordBatch:
        if not self._times:
            return pa.RecordBatch.from_pylist([self._datum(r) for r in records], schema=self.schema)
        data = [self._datum(r, plain=True) for r in records]
        raw = pa.RecordBatch.from_pylist(data, schema=self._plain_schema)
        arrays = [
            _from_ints(raw.column(i), self._times[f.name], f.type) if f.name in self._times else raw.column(i)
            for i, f in enumerate(self.schema)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _one(self, record: Any) -> list[Any]:
        datum = self._datum(record)
        values = [datum.get(n) for n in self._names]
        for v, f, t in zip(values, self.fields, self.types):
            limit = _INT_RANGE.get(t.name)
            if limit is not None and v is not None and not -limit <= v < limit:
                raise RecordError(f"field '{f.name}': {v} is out of range for {t.name}")
        return self.check_nullability(values)


class AvroEncoder(RecordEncoder):
    extension = EXTENSION

    def __init__(self, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        super().__init__(fields, name=f"{prefix}avro")
        legacy, _ = _options(options, prefix)
        schema = table_schema(self.fields, legacy)
        self.avro = fastavro.parse_schema(schema)
        self._maps = [(f.name, t) for f, t in zip(self.fields, self.types) if _has_map(t)]
        self._times = _time_columns(schema)  # given as integers, which fastavro takes as they are

    def rows(self, batch: pa.RecordBatch) -> list[dict[str, Any]]:
        data = batch.select([f.name for f in self.fields])
        if self._times:
            names = data.schema.names
            times = self._times
            columns = [_to_ints(c, times[n]) if n in times else c for n, c in zip(names, data.columns)]
            data = pa.RecordBatch.from_arrays(columns, names=names)
        rows = data.to_pylist()
        for name, t in self._maps:
            for r in rows:
                r[name] = _to_avro(r[name], t)
        return rows

    def encode_records(self, batch: pa.RecordBatch) -> list[bytes | None]:
        out: list[bytes | None] = []
        for row in self.rows(batch):
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, self.avro, row)
            out.append(buf.getvalue())
        return out

    def encode_chunk(self, batch: pa.RecordBatch) -> bytes:
        raise FormatError("internal: Avro files are written by AvroFileWriter, not as lines")


class AvroFileWriter:
    """One Avro container file of ``fields``, written batch by batch with ``avro.codec``."""

    def __init__(self, path: str, fields: Sequence[Field], options: OptionBag) -> None:
        self._encoder = AvroEncoder(fields, options)
        _, codec = _options(options, "")
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._writer = fastavro.write.Writer(self._file, self._encoder.avro, codec=codec)

    @property
    def size(self) -> int:
        """Bytes in the file (fastavro flushes a block every ~16 kB: close enough to roll)."""
        return self._file.tell()

    def write(self, batch: pa.RecordBatch) -> None:
        for row in self._encoder.rows(batch):
            self._writer.write(row)

    def close(self) -> None:
        self._writer.flush()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


def read_avro(
    path: str, fields: Sequence[Field], legacy: bool, start_row: int = 0, batch_size: int = 65536
) -> Iterator[pa.RecordBatch]:
    """Batches of ``fields`` from the Avro container file at ``path``, from row ``start_row``
    on; the file's fields are matched by name (a missing nullable one reads as NULL)."""
    schema = nullable_schema(fields)
    names = [f.name for f in fields]
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
        reader = fastavro.reader(f)
    except (OSError, ValueError) as e:
        raise FormatError(f"cannot read the Avro file {path}: {e}") from None
    with f:
        rows: list[dict[str, Any]] = []
        for i, datum in enumerate(reader):
            if i < start_row:
                continue
            assert isinstance(datum, dict)
            rows.append({n: datum.get(n) for n in names})
            if len(rows) == batch_size:
                yield _to_batch(rows, schema, path)
                rows = []
        if rows:
            yield _to_batch(rows, schema, path)


def _to_batch(rows: list[dict[str, Any]], schema: pa.Schema, path: str) -> pa.RecordBatch:
    try:
        return pa.RecordBatch.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise FormatError(f"the Avro file {path} does not fit the table's columns: {e}") from None
