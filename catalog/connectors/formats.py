"""The formats a connector's records can have, and their options (Flink's keys)."""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence

from catalog.connectors.avro import CODECS, avro_schema
from catalog.connectors.spec import FormatSpec, OptionType, TableInfo
from catalog.connectors.spec import option as _o
from catalog.errors import OptionError

_I, _B, _D, _E = OptionType.INT, OptionType.BOOL, OptionType.DURATION, OptionType.ENUM

FORMATS: dict[str, FormatSpec] = {
    "json": FormatSpec(
        "json",
        (
            _o("json.ignore-parse-errors", _B, default="false"),
            _o("json.fail-on-missing-field", _B, default="false"),
            _o("json.timestamp-format.standard", _E, default="SQL", choices=("sql", "iso-8601")),
            _o("json.encode.decimal-as-plain-number", _B, default="false"),
            _o("json.map-null-key.mode", _E, default="FAIL", choices=("fail", "drop", "literal")),
        ),
    ),
    "csv": FormatSpec(
        "csv",
        (
            _o("csv.field-delimiter", default=","),
            _o("csv.quote-character", default='"'),
            _o("csv.disable-quote-character", _B, default="false"),
            _o("csv.allow-comments", _B, default="false"),
            _o("csv.ignore-parse-errors", _B, default="false"),
            _o("csv.null-literal"),
            _o("csv.escape-character"),
            _o("csv.header", _B, default="false", description="sqlstream: first line is a header"),
        ),
    ),
    **{
        name: FormatSpec(
            name,
            (
                _o(f"{name}.ignore-parse-errors", _B, default="false"),
                _o(f"{name}.timestamp-format.standard", _E, default="SQL", choices=("sql", "iso-8601")),
                _o(f"{name}.map-null-key.mode", _E, default="FAIL", choices=("fail", "drop", "literal")),
                _o(f"{name}.map-null-key.literal", default="null"),
                _o(f"{name}.encode.decimal-as-plain-number", _B, default="false"),
                *extra,
            ),
        )
        for name, extra in (
            ("debezium-json", (_o("debezium-json.schema-include", _B, default="false"),)),
            ("canal-json", (_o("canal-json.database.include"), _o("canal-json.table.include"))),
            ("maxwell-json", ()),
        )
    },
    "parquet": FormatSpec("parquet", ()),
    "avro": FormatSpec(
        "avro",
        (
            _o("avro.codec", _E, default="snappy", choices=CODECS),
            _o("avro.timestamp_mapping.legacy", _B, default="true"),
        ),
    ),
    "raw": FormatSpec(
        "raw", (_o("raw.charset", default="UTF-8"), _o("raw.endianness", default="big-endian"))
    ),
}

#: Formats whose records are changes (+I/-U/+U/-D), not rows: a scan is a changelog, and a
#: sink takes one (Flink's debezium-json, canal-json, maxwell-json).
CHANGELOG_FORMATS = ("debezium-json", "canal-json", "maxwell-json")

#: Flink's formats that keep their schemas in a Confluent schema registry: refused by name
#: (no registry service could be run here to build and test them against).
REGISTRY_FORMATS = ("avro-confluent", "debezium-avro-confluent")

#: Formats that have no per-record form: only a file holds them.
FILE_ONLY_FORMATS = ("parquet",)

_NESTED = ("ARRAY", "MULTISET", "MAP", "ROW")
_RAW_TYPES = (
    "STRING", "VARCHAR", "CHAR", "BYTES", "BINARY", "VARBINARY",
    "BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE",
)  # fmt: skip


# Java's escapes, as Apache Commons' StringEscapeUtils.unescapeJava reads them (Flink reads
# 'csv.field-delimiter' so): a backslash with nothing after it stands for nothing.
_JAVA_ESCAPE = re.compile(r"\\(u+[0-9a-fA-F]{4}|[0-3][0-7]{0,2}|[4-7][0-7]?|[btnfr\\'\"]|$)")
_JAVA_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "": ""}


def unescape_java(text: str) -> str:
    """``text`` with Java's backslash escapes (``\\t``, ``\\u0001``, ``\\001``) read."""

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code[:1] == "u":
            return chr(int(code.lstrip("u"), 16))
        if code[:1].isdigit():
            return chr(int(code, 8))
        return _JAVA_ESCAPES.get(code, code)

    return _JAVA_ESCAPE.sub(one, text)


def csv_char(key: str, value: str) -> str | None:
    """The character that csv option ``key`` (no prefix) = ``value`` stands for, as Flink
    reads it: the field delimiter through Java's escapes (``\\t`` is a tab), the quote and
    escape characters as written (``\\`` is a backslash, as users write it); None when that
    is not exactly one character."""
    text = unescape_java(value) if key == "csv.field-delimiter" else value
    return text if len(text) == 1 else None


def _char(options: Mapping[str, str], prefix: str, key: str, where: str) -> None:
    value = options.get(prefix + key)
    if value is None:
        return
    char = csv_char(key, value)
    if char is None:
        raise OptionError(f"{where}: '{prefix}{key}' = '{value}' must be a single character")
    if not char.isascii():  # Jackson takes any; pyarrow's reader and our byte scans one byte
        raise OptionError(
            f"{where}: '{prefix}{key}' = '{value}' is not supported yet: sqlstream reads csv "
            "with one-byte (ASCII) delimiter, quote and escape characters"
        )


def check_format(fmt: str, prefix: str, table: TableInfo, fields: Sequence[str], files: bool) -> None:
    """The rules of format ``fmt`` whose options start with ``prefix`` ("", "key.",
    "value."), for the record fields ``fields`` of ``table``: refused when the table is
    created, as the format would refuse them when a job starts.
    ``files``: whether the connector holds whole files (only they can be Parquet)."""
    options, where = table.options, table.where
    name = fmt.lower()
    if name in CHANGELOG_FORMATS:
        if prefix == "key.":
            raise OptionError(f"{where}: the {name} format describes a record's value, not its key")
        if table.options.get("key.format"):
            raise OptionError(
                f"{where}: a {name} value with a 'key.format' is not supported yet",
                hint="drop 'key.format' and 'key.fields' (the change record holds the whole row)",
            )
        regexes = (f"{prefix}canal-json.database.include", f"{prefix}canal-json.table.include")
        for key in regexes:
            if key in options:
                try:
                    re.compile(options[key])
                except re.error as e:
                    raise OptionError(f"{where}: '{key}' is not a regex: {e}") from None
    if name in FILE_ONLY_FORMATS and not files:
        raise OptionError(
            f"{where}: the {name} format has no per-record form; only the filesystem connector reads it"
        )
    types = dict(table.columns)
    typed = [(f, types[f]) for f in fields if f in types]
    if name == "json":
        if options.get(f"{prefix}json.ignore-parse-errors", "false").lower() == "true" and (
            options.get(f"{prefix}json.fail-on-missing-field", "false").lower() == "true"
        ):
            raise OptionError(
                f"{where}: '{prefix}json.fail-on-missing-field' and "
                f"'{prefix}json.ignore-parse-errors' cannot both be true",
                hint="choose whether a record with a missing field fails the job or is skipped",
            )
    elif name == "csv":
        for key in ("csv.field-delimiter", "csv.quote-character", "csv.escape-character"):
            _char(options, prefix, key, where)
        if f"{prefix}csv.quote-character" in options and (
            options.get(f"{prefix}csv.disable-quote-character", "false").lower() == "true"
        ):
            raise OptionError(
                f"{where}: '{prefix}csv.quote-character' and '{prefix}csv.disable-quote-character' = 'true' "
                "cannot both be set",
                hint="drop one of them",
            )
        for f, t in typed:
            if t.name in _NESTED:
                raise OptionError(
                    f"{where}: the csv format cannot represent column '{f}' of type {t.sql()}",
                    hint="use the json format for nested types",
                )
    elif name == "avro":
        legacy = options.get(f"{prefix}avro.timestamp_mapping.legacy", "true").lower() == "true"
        try:
            avro_schema(typed, legacy)
        except OptionError as e:
            raise OptionError(f"{where}: {e.message}", hint=e.hint) from None
    elif name == "raw":
        endianness = options.get(f"{prefix}raw.endianness", "big-endian").lower()
        if endianness not in ("big-endian", "little-endian"):
            raise OptionError(f"{where}: '{prefix}raw.endianness' must be big-endian or little-endian")
        charset = options.get(f"{prefix}raw.charset", "UTF-8")
        try:
            codecs.lookup(charset)
        except LookupError:
            raise OptionError(f"{where}: unknown '{prefix}raw.charset' '{charset}'") from None
        if typed and (len(typed) != 1 or typed[0][1].name not in _RAW_TYPES):
            cols = ", ".join(f"{f} {t.sql()}" for f, t in typed)
            raise OptionError(
                f"{where}: the raw format needs exactly one column of a string, binary or "
                f"numeric type; the table has: {cols}",
            )
