"""The Avro schema of a table's columns, derived as Flink's AvroSchemaConverter derives it
(the ``avro`` format writes records of this schema and reads records written with it).

The record is ``org.apache.flink.avro.generated.record``, a nested ROW field ``f`` the
record ``<parent name>_f``; a nullable type is the union ``["null", T]`` (a nullable field
defaults to null). Types: BOOLEAN boolean; TINYINT, SMALLINT, INT int; BIGINT long; FLOAT
float; DOUBLE double; CHAR, VARCHAR, STRING string; BINARY, VARBINARY, BYTES bytes; DECIMAL
bytes (logical decimal); DATE int (date); TIME(p <= 3) int (time-millis); ARRAY array; MAP
with string keys and MULTISET map; ROW record. TIMESTAMP: with the legacy mapping
(``avro.timestamp_mapping.legacy``, true by default) TIMESTAMP(p <= 3) is timestamp-millis
and TIMESTAMP_LTZ has none; without it TIMESTAMP is local-timestamp-millis/-micros and
TIMESTAMP_LTZ timestamp-millis/-micros.

>>> from catalog.types import parse_type
>>> schema = avro_schema([("id", parse_type("BIGINT NOT NULL")), ("ts", parse_type("TIMESTAMP(3)"))])
>>> schema["fields"][0], schema["fields"][1]["type"]
({'name': 'id', 'type': 'long'}, ['null', {'type': 'long', 'logicalType': 'timestamp-millis'}])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from catalog.errors import OptionError
from catalog.types import DataType

RECORD_NAME = "org.apache.flink.avro.generated.record"
#: Flink's names for ``avro.codec`` (the filesystem's Avro files; Kafka records have none).
CODECS = ("null", "deflate", "snappy", "bzip2", "xz", "zstandard")

_PLAIN = {
    "BOOLEAN": "boolean", "TINYINT": "int", "SMALLINT": "int", "INT": "int", "BIGINT": "long",
    "FLOAT": "float", "DOUBLE": "double", "CHAR": "string", "VARCHAR": "string", "STRING": "string",
    "BINARY": "bytes", "VARBINARY": "bytes", "BYTES": "bytes",
}  # fmt: skip


class AvroTypeError(OptionError):
    """A column type the Avro format cannot represent."""


def avro_schema(columns: Sequence[tuple[str, DataType]], legacy: bool = True) -> dict[str, Any]:
    """The Avro record schema (as JSON data) of ``columns``; raises ``AvroTypeError``."""
    return {"type": "record", "name": RECORD_NAME, "fields": _fields(columns, RECORD_NAME, legacy)}


def _fields(columns: Sequence[tuple[str, DataType]], name: str, legacy: bool) -> list[dict[str, Any]]:
    out = []
    for column, t in columns:
        entry: dict[str, Any] = {"name": column, "type": avro_type(t, f"{name}_{column}", legacy)}
        if t.nullable:
            entry["default"] = None
        out.append(entry)
    return out


def avro_type(t: DataType, name: str, legacy: bool) -> Any:
    """The Avro schema of one Flink type (``name``: the record name if it is a ROW)."""
    base = _base(t, name, legacy)
    return ["null", base] if t.nullable else base


def _base(t: DataType, name: str, legacy: bool) -> Any:
    kind = t.name
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "DECIMAL":
        return {"type": "bytes", "logicalType": "decimal", "precision": t.precision, "scale": t.scale}
    if kind == "DATE":
        return {"type": "int", "logicalType": "date"}
    if kind == "TIME":
        if (t.precision or 0) > 3:
            raise AvroTypeError(f"Avro does not support TIME type with precision {t.precision}, only up to 3")
        return {"type": "int", "logicalType": "time-millis"}
    if kind in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        p = 6 if t.precision is None else t.precision
        if legacy:
            if kind == "TIMESTAMP_LTZ":
                raise AvroTypeError(
                    f"the avro format cannot derive a schema for {t.sql()} with the legacy timestamp mapping",
                    hint="set 'avro.timestamp_mapping.legacy' = 'false' (TIMESTAMP_LTZ is then "
                    "Avro's timestamp)",
                )
            if p > 3:
                raise AvroTypeError(
                    f"Avro does not support TIMESTAMP type with precision {p} (TIMESTAMP alone is "
                    "TIMESTAMP(6)) with the legacy timestamp mapping, only up to 3",
                    hint="declare TIMESTAMP(3), or set 'avro.timestamp_mapping.legacy' = 'false'",
                )
            return {"type": "long", "logicalType": "timestamp-millis"}
        if p > 6:
            raise AvroTypeError(f"sqlstream's Avro timestamps have at most precision 6, not {p}")
        unit = "millis" if p <= 3 else "micros"
        return {"type": "long", "logicalType": f"{'local-' if kind == 'TIMESTAMP' else ''}timestamp-{unit}"}
    if kind == "ARRAY":
        return {"type": "array", "items": avro_type(t.children[0], name, legacy)}
    if kind in ("MAP", "MULTISET"):
        key = t.children[0]
        if key.name not in ("CHAR", "VARCHAR", "STRING"):
            raise AvroTypeError(
                f"Avro format doesn't support non-string as key type of map: {t.sql()}",
                hint="make the key a STRING",
            )
        values = avro_type(t.children[1], name, legacy) if kind == "MAP" else ["null", "int"]
        return {"type": "map", "values": values}
    if kind == "ROW":
        columns = list(zip(t.field_names, t.children))
        return {"type": "record", "name": name, "fields": _fields(columns, name, legacy)}
    raise AvroTypeError(f"the avro format cannot represent the type {t.sql()}")
