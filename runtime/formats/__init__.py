"""Formats: decode chunks of records into Arrow batches and encode batches back.

Look a format up by its Flink name::

    decoder = create_decoder("json", fields, OptionBag(options, "table t"))
    decoded = decoder.decode([b'{"a": 1}', b'{"a": 2}'], where=lambda i: f"offset {i}")
    encoder = create_encoder("json", fields, bag)
    encoder.encode_records(decoded.batch)   # [b'{"a":1}', b'{"a":2}']

``prefix`` selects Kafka's key/value options (``value.`` reads ``value.json.*``).
Parquet has no per-record form; the filesystem connector uses
``runtime.formats.parquet`` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from catalog.errors import did_you_mean
from catalog.options import OptionBag
from planner.physical import Field
from runtime.formats.base import Decoded, FormatError, RecordDecoder, RecordEncoder

if TYPE_CHECKING:
    from runtime.formats.changelog import ChangelogDecoder

__all__ = [
    "FORMAT_NAMES",
    "Decoded",
    "FormatError",
    "RecordDecoder",
    "RecordEncoder",
    "create_changelog_decoder",
    "create_decoder",
    "create_encoder",
    "file_extension",
    "is_changelog",
    "is_container_file",
    "is_file_only",
]

CHANGELOG_NAMES = ("debezium-json", "canal-json", "maxwell-json")
FORMAT_NAMES = ("json", "csv", "raw", "parquet", "avro", *CHANGELOG_NAMES)
_FILE_ONLY = ("parquet",)
# Formats whose files are containers of their own, not lines of records: the filesystem
# connector reads and writes them whole (Avro's records have a per-record form too: Kafka).
_CONTAINER_FILES = ("parquet", "avro")


def _check(name: str, where: str) -> str:
    key = name.lower()
    if key not in FORMAT_NAMES:
        raise FormatError(
            f"{where}: unknown format '{name}'",
            hint=did_you_mean(name, FORMAT_NAMES) or f"known formats: {', '.join(FORMAT_NAMES)}",
        )
    if key in _FILE_ONLY:
        raise FormatError(
            f"{where}: the {key} format has no per-record form; only the filesystem connector reads it"
        )
    return key


def is_changelog(name: str) -> bool:
    """Whether records of the format are changes with a row kind (debezium-json, ...)."""
    return name.lower() in CHANGELOG_NAMES


def create_changelog_decoder(
    name: str, fields: Sequence[Field], options: OptionBag, prefix: str = ""
) -> ChangelogDecoder:
    """A decoder of the change-record format ``name`` (rows plus their row kind)."""
    from runtime.formats.changelog import ChangelogDecoder

    return ChangelogDecoder(_check(name, options.where), fields, options, prefix)


def create_decoder(
    name: str,
    fields: Sequence[Field],
    options: OptionBag,
    prefix: str = "",
    projection: Sequence[str] | None = None,
) -> RecordDecoder:
    """A decoder of format ``name`` for records of ``fields``, configured from (and
    consuming) options. With ``projection`` (a scan the planner narrowed) its batches hold
    only those fields, in ``fields``' order, and nothing else of a record is converted,
    so a bad value elsewhere is no error (Flink's ProjectableDecodingFormat); CSV still
    splits every field, by position."""
    key = _check(name, options.where)
    factory: Callable[[Sequence[Field], OptionBag, str], RecordDecoder]
    if key in CHANGELOG_NAMES:
        raise FormatError(f"{options.where}: internal: {key} records decode with create_changelog_decoder")
    if key == "csv":
        from runtime.formats.csv import CsvDecoder

        return CsvDecoder(fields, options, prefix, projection)
    if projection is not None:
        wanted = set(projection)
        fields = [f for f in fields if f.name in wanted]
    if key == "json":
        from runtime.formats.json import JsonDecoder as factory
    elif key == "avro":
        from runtime.formats.avro import AvroDecoder as factory
    else:
        from runtime.formats.raw import RawDecoder as factory
    return factory(fields, options, prefix)


def create_encoder(name: str, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> RecordEncoder:
    """An encoder of format ``name`` for ``fields``, configured from (and consuming) options."""
    key = _check(name, options.where)
    factory: Callable[[Sequence[Field], OptionBag, str], RecordEncoder]
    if key in CHANGELOG_NAMES:
        from runtime.formats.changelog import ChangelogEncoder

        return ChangelogEncoder(key, fields, options, prefix)
    if key == "json":
        from runtime.formats.json import JsonEncoder as factory
    elif key == "csv":
        from runtime.formats.csv import CsvEncoder as factory
    elif key == "avro":
        from runtime.formats.avro import AvroEncoder as factory
    else:
        from runtime.formats.raw import RawEncoder as factory
    return factory(fields, options, prefix)


def is_file_only(name: str) -> bool:
    """Whether the format exists only as whole files (Parquet)."""
    return name.lower() in _FILE_ONLY


def is_container_file(name: str) -> bool:
    """Whether the filesystem connector reads and writes the format's files whole (Parquet,
    Avro container files), not as lines of records."""
    return name.lower() in _CONTAINER_FILES


def file_extension(name: str) -> str:
    return {"csv": "csv", "raw": "txt", "parquet": "parquet", "avro": "avro"}.get(name.lower(), "json")
