"""Flink's ``csv`` format: one line per record (a quoted field may hold line breaks), fields
by position.

Decoding reads a whole chunk with pyarrow's CSV reader; encoding builds every line in one
DuckDB query. Options are Flink's: ``csv.field-delimiter`` (``\\t`` for a tab),
``csv.quote-character``, ``csv.disable-quote-character``, ``csv.escape-character``,
``csv.allow-comments`` (lines starting with ``#`` are not records), ``csv.null-literal``,
``csv.ignore-parse-errors``, and sqlstream's ``csv.header`` (files start with a header line,
which is skipped on read and written on write).

As in Flink 2.3 (tests/oracle/bad_records.json records it), without ``csv.null-literal``
an empty field is the empty string for string columns, empty bytes for BYTES and FALSE for
BOOLEAN, and no value at all for a number, date or time: the record is bad (the job fails,
or with ``csv.ignore-parse-errors`` the field is NULL). NULL is written as an empty field,
so a file with NULL numbers is read back with ``'csv.null-literal' = ''``. A time or
timestamp keeps the fraction digits of its column's precision (``TIMESTAMP(3)`` of
``...56.1234`` is ``...56.123``).

What is written is what Flink writes (tests/oracle/sink_text.json): numbers as Java writes
them (``runtime.formats.java_text``), and a text value in quotes when Jackson's writer would
quote it (``CsvEncoder._quote_test``): longer than 24 characters, or holding a character
below the highest of the delimiter, the quote and the line feed (a space, '!', '#', '+', ...
with the defaults; so a timestamp is quoted), or a backslash (the escape character, if set).

With ``csv.ignore-parse-errors``, as in Flink, a field whose text does not fit its type is
NULL and the row is kept, and so are the missing fields of a line with too few; a line that
Jackson cannot split (an unclosed quote, text after a closing quote) or with too many
fields is skipped and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from catalog.connectors.formats import csv_char
from catalog.options import OptionBag
from catalog.types import parse_type
from planner.physical import Field
from runtime.batches import q
from runtime.formats.base import (
    FormatError,
    RecordDecoder,
    RecordError,
    SqlRecordEncoder,
    decode_base64_strings,
    non_finite_rows,
    parse_time_strings,
    parse_timestamp_strings,
)
from runtime.formats.csv_records import QuotedRecords
from runtime.formats.csv_text import CsvSyntax, contains, suspect_lines
from runtime.formats.java_text import decimal_sql, float_sql

_BYTES = ("BYTES", "BINARY", "VARBINARY")
_STRINGS = ("STRING", "VARCHAR", "CHAR")
_NESTED = ("ARRAY", "MULTISET", "MAP", "ROW")
_INTEGERS = ("TINYINT", "SMALLINT", "INT", "BIGINT")
# Flink reads a BOOLEAN as text 'true' or not (Boolean.parseBoolean of the trimmed text):
# 'yes' is FALSE. pyarrow takes these spellings; other text ('tRuE', ' true', 'yes') fails
# it and the record path reads it.
_TRUE, _FALSE = ["true", "True", "TRUE"], ["false", "False", "FALSE"]

_BLOCK_SIZE = 1 << 20


def _char(value: str, key: str, where: str) -> str:
    """A one-character option, read as Flink reads it (see ``csv_char``)."""
    text = csv_char(key, value)
    if text is None:
        raise FormatError(f"{where}: '{key}' = '{value}' must be a single character")
    return text


class _CsvOptions:
    def __init__(self, options: OptionBag, prefix: str) -> None:
        where = options.where
        self.delimiter = _char(
            options.get(f"{prefix}csv.field-delimiter") or ",", "csv.field-delimiter", where
        )
        self.quote = _char(options.get(f"{prefix}csv.quote-character") or '"', "csv.quote-character", where)
        self.disable_quote = options.get_bool(f"{prefix}csv.disable-quote-character", False)
        escape = options.get(f"{prefix}csv.escape-character")
        self.escape = _char(escape, "csv.escape-character", where) if escape else None
        self.allow_comments = options.get_bool(f"{prefix}csv.allow-comments", False)
        self.ignore_errors = options.get_bool(f"{prefix}csv.ignore-parse-errors", False)
        self.null_literal = options.get(f"{prefix}csv.null-literal")
        self.header = options.get_bool(f"{prefix}csv.header", False)


def _check_columns(fields: Sequence[Field], types: Sequence[Any], where: str) -> None:
    for f, t in zip(fields, types):
        if t.name in _NESTED:
            raise FormatError(
                f"{where}: the csv format cannot represent column '{f.name}' of type {t.sql()}",
                hint="use the json format for nested types",
            )


class CsvDecoder(RecordDecoder):
    """Records of ``record_fields``, by position; batches of those named in ``projection``
    (None: all), the only ones converted (Flink's CsvRowDataDeserializationSchema with a
    projected row type). Every record must still have every field."""

    def __init__(
        self,
        fields: Sequence[Field],
        options: OptionBag,
        prefix: str = "",
        projection: Sequence[str] | None = None,
    ) -> None:
        self.opts = _CsvOptions(options, prefix)
        self.record_fields = tuple(fields)
        wanted = {f.name for f in fields} if projection is None else set(projection)
        super().__init__(
            [f for f in fields if f.name in wanted],
            ignore_errors=self.opts.ignore_errors,
            name=f"{prefix}csv",
        )
        _check_columns(self.record_fields, [parse_type(f.type) for f in self.record_fields], options.where)
        self._read_mask = [f.name in wanted for f in self.record_fields]
        self.header_lines = 1 if self.opts.header else 0
        read_fields = []
        self._post: list[str | None] = []
        for f, t, af in zip(self.fields, self.types, self.schema):
            post = None
            read_type = af.type
            if t.name in ("TIMESTAMP", "TIMESTAMP_LTZ", "TIME", "DATE", "DECIMAL", *_BYTES):
                # DECIMAL, DATE: pyarrow's reader trims spaces, which Java's BigDecimal and
                # Date.valueOf refuse; Arrow's cast does not
                post = "BYTES" if t.name in _BYTES else t.name
                read_type = pa.string()
            read_fields.append(pa.field(f.name, read_type))
            self._post.append(post)
        o = self.opts
        quote = None if o.disable_quote else o.quote
        self._syntax = CsvSyntax(o.delimiter, quote, o.escape, o.allow_comments)
        self._hex_suspects = any(t.name in _INTEGERS for t in self.types)
        self._suspect_rows: np.ndarray | None = None
        self._empty_rows: np.ndarray | None = None
        self._parse_options = pcsv.ParseOptions(
            delimiter=o.delimiter,
            quote_char=False if o.disable_quote else o.quote,
            escape_char=o.escape or False,
            double_quote=True,
            newlines_in_values=False,
            ignore_empty_lines=False,
        )
        # checks that records holding a line break hold it inside quotes (``_bulk``)
        self._records = None if o.disable_quote else QuotedRecords(o.delimiter, o.quote, o.escape, False)
        # For records with a line break in a quoted field: Arrow then cuts its blocks only
        # at line breaks outside quotes (a little slower, so only where needed).
        self._multiline_options = pcsv.ParseOptions(
            delimiter=self._parse_options.delimiter,
            quote_char=self._parse_options.quote_char,
            escape_char=self._parse_options.escape_char,
            double_quote=True,
            newlines_in_values=True,
            ignore_empty_lines=False,
        )
        self._convert_options = pcsv.ConvertOptions(
            column_types=pa.schema(read_fields),
            include_columns=[f.name for f in self.fields],
            null_values=[o.null_literal] if o.null_literal is not None else [""],
            strings_can_be_null=o.null_literal is not None,
            quoted_strings_can_be_null=True,  # Jackson compares the null literal to the text, quoted or not
            true_values=_TRUE,
            false_values=_FALSE,
        )

    def _dropped(self, records: Sequence[bytes | None]) -> np.ndarray | None:
        if not self.opts.allow_comments:
            return super()._dropped(records)
        # Jackson skips the spaces that start a line in comment mode: '  #x' is a comment too
        drop = [i for i, r in enumerate(records) if r is None or r.lstrip(b" ").startswith(b"#")]
        return np.array(drop, dtype=np.int64) if drop else None

    def _bulk(self, records: list[bytes]) -> pa.RecordBatch:
        data = b"\n".join(records)
        ends = None  # the line breaks between records, when not every one is
        if data.count(b"\n") != len(records) - 1:  # values that end with a line break?
            records = [r.rstrip(b"\r\n") for r in records]
            data = b"\n".join(records)
            if data.count(b"\n") != len(records) - 1:
                # one in a quoted field, if each record closes the quotes it opens: else
                # Arrow could read two bad records (Kafka values) as two rows
                if self._records is None or not all(map(self._records.whole, records)):
                    raise RecordError("a record contains a line break")
                ends = np.cumsum([len(r) + 1 for r in records[:-1]], dtype=np.int64) - 1
        block_size = _BLOCK_SIZE
        if len(data) >= block_size and max(map(len, records)) * 2 >= block_size:
            block_size = len(data) + 1
        return self._read(data, self._read_options(block_size), ends, len(records), ends is not None)

    def _bulk_block(
        self, block: bytes | memoryview, count: int, newlines: np.ndarray | None
    ) -> pa.RecordBatch | None:
        if self.opts.allow_comments and (block[:1] == b"#" or contains(block, b"\n#")):
            raise RecordError("a comment line")  # not a row: the records' path drops it
        if newlines is None:
            newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
        if len(newlines) - (block[-1:] == b"\n") >= count:
            return None  # a record over several lines: the block is split into records
        # a row longer than a block fails: the block is split into records then
        return self._read(block, self._read_options(_BLOCK_SIZE), newlines, count)

    def _suspects(self, batch: pa.RecordBatch) -> np.ndarray | None:
        """Rows the record path must read: NULLs in NOT NULL columns, lines pyarrow may read
        otherwise than Flink (``suspect_lines``), and NaN or infinite numbers (pyarrow takes
        'nan' and 'inf', Java only 'NaN' and 'Infinity')."""
        mask = self._not_null_violations(batch)
        for extra in (self._suspect_rows, self._empty_rows, non_finite_rows(batch)):
            if extra is not None:
                mask = extra if mask is None else (mask | extra)
        return mask

    def _read_options(self, block_size: int) -> pcsv.ReadOptions:
        return pcsv.ReadOptions(
            column_names=[f.name for f in self.record_fields], use_threads=self.threads, block_size=block_size
        )

    def _read(
        self,
        data: bytes | memoryview,
        read_options: pcsv.ReadOptions,
        newlines: np.ndarray | None,
        count: int,
        multiline: bool = False,
    ) -> pa.RecordBatch:
        """``newlines``: where the records of ``data`` end (line breaks inside quoted fields
        excepted, with ``multiline``)."""
        self._suspect_rows = suspect_lines(data, count, newlines, self._syntax, self._hex_suspects)
        table = pcsv.read_csv(
            pa.BufferReader(data),
            read_options=read_options,
            parse_options=self._multiline_options if multiline else self._parse_options,
            convert_options=self._convert_options,
        )
        arrays = []
        empty = None  # rows with an empty field that is not text: Flink's error (``_one``)
        for col, post, af, t in zip(table.columns, self._post, self.schema, self.types):
            arr = col.combine_chunks()
            if post is not None:
                blank = pc.equal(arr, "")
                if post != "BYTES" and pc.any(blank).as_py():  # an empty BYTES is b''
                    empty = blank if empty is None else pc.or_(empty, blank)
                    arr = pc.if_else(blank, pa.scalar(None, pa.string()), arr)
                if post in ("TIMESTAMP", "TIMESTAMP_LTZ"):
                    arr = parse_timestamp_strings(arr, af.type)
                elif post == "TIME":
                    arr = parse_time_strings(arr)
                elif post in ("DECIMAL", "DATE"):
                    arr = pc.cast(arr, af.type)
                else:
                    arr = decode_base64_strings(arr)
            elif arr.null_count and self.opts.null_literal is None and t.name not in _STRINGS:
                if t.name == "BOOLEAN":  # empty: Boolean.parseBoolean("") is FALSE
                    arr = arr.fill_null(False)
                else:  # empty (the reader's null) is no number
                    empty = arr.is_null() if empty is None else pc.or_(empty, arr.is_null())
            arrays.append(arr if arr.type == af.type else arr.cast(af.type))
        self._empty_rows = None if empty is None else empty.to_numpy(zero_copy_only=False)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _one(self, record: bytes) -> list[Any]:
        text = record.decode("utf-8").rstrip("\r\n")
        o = self.opts
        values_text: list[str | None] = list(self._syntax.split(text))
        n = len(self.record_fields)
        if len(values_text) != n:
            # Flink: too many fields is Jackson's error, always; too few is an error only
            # without ignore-parse-errors, else the missing fields are NULL
            if not values_text or len(values_text) > n or not self.ignore_errors:
                raise RecordError(f"expected {n} fields, found {len(values_text)} in {text[:60]!r}")
            if self._nulled is not None:
                self._nulled.append(f"expected {n} fields, found {len(values_text)}")
            values_text += [None] * (n - len(values_text))
        values: list[Any] = []
        read = [s for s, keep in zip(values_text, self._read_mask) if keep]
        for s, f, t in zip(read, self.fields, self.types):
            if s is None or (o.null_literal is not None and s == o.null_literal):
                values.append(None)
            elif s == "" and t.name not in (*_STRINGS, *_BYTES, "BOOLEAN"):
                self._empty_field(f.name, t)
                values.append(None)
            else:
                values.append(self.convert_field(s, t, f.name, text=True))
        return self.check_nullability(values)

    def _empty_field(self, name: str, t: Any) -> None:
        """An empty field of a column that is not text: Flink's parsers fail on it, so the
        record is bad (RecordError), or with ignore-parse-errors the field is NULL (noted)."""
        problem = f"field '{name}': an empty field cannot be read as {t.sql()}"
        if self._nulled is None:
            raise RecordError(
                problem + " (to read empty fields as NULL, set 'csv.null-literal' = '' on the table)"
            )
        self._nulled.append(problem)


_UTF16_LENGTH = "flink_utf16_length"


def _utf16_lengths(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Java's String.length() of each text: a character beyond U+FFFF counts two."""
    return pa.array([len(t.encode("utf-16-le")) // 2 for t in texts.to_pylist()], pa.int32())


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class CsvEncoder(SqlRecordEncoder):
    """Lines as Flink's csv format (Jackson's CsvGenerator) writes them: numbers and booleans
    as they are (``runtime.formats.java_text``), text values (strings, dates, times,
    timestamps, base64 bytes) quoted by Jackson's loose rule (``_quote_test``)."""

    extension = "csv"

    def __init__(self, fields: Sequence[Field], options: OptionBag, prefix: str = "") -> None:
        self.opts = _CsvOptions(options, prefix)
        super().__init__(fields, name=f"{prefix}csv")
        _check_columns(self.fields, self.types, options.where)
        o = self.opts
        # Jackson quotes a value holding a character below this one (CsvEncoder._cfgMinSafeChar)
        self._min_safe = max(ord(o.delimiter), ord(o.quote), ord("\n")) + 1
        self._escape_or_backslash = o.escape or "\\"
        import duckdb.func  # with the encoder's connection (``SqlRecordEncoder``), not at import

        self._con.create_function(
            _UTF16_LENGTH,
            _utf16_lengths,
            [self._con.sqltype("VARCHAR")],
            self._con.sqltype("INTEGER"),
            type=duckdb.func.ARROW,
        )
        null_text = _sql_text(o.null_literal or "")
        texts = []
        quoted = []
        for i, (f, t) in enumerate(zip(self.fields, self.types)):
            col = q(f.name)
            is_text = True
            if t.name in _STRINGS:
                text = col
            elif t.name == "TIMESTAMP_LTZ":
                text = f"CAST(CAST({col} AS TIMESTAMP) AS VARCHAR) || 'Z'"
            elif t.name in _BYTES:
                text = f"to_base64({col})"
            else:
                is_text = t.name in ("DATE", "TIME", "TIMESTAMP")
                if t.name in ("FLOAT", "DOUBLE"):
                    text = float_sql(col, t.name == "FLOAT")
                elif t.name == "DECIMAL":
                    text = decimal_sql(col, t)
                else:
                    text = f"CAST({col} AS VARCHAR)"
            texts.append(f"{text} AS c{i}")
            quoted.append(self._quoted(f"c{i}", null_text) if is_text else f"coalesce(c{i}, {null_text})")
        sep = f" || {_sql_text(o.delimiter)} || "
        body = sep.join(quoted) if quoted else "''"
        inner = f"(SELECT {', '.join(texts)} FROM batch)" if texts else "batch"
        self._record_sql = f"SELECT {body} AS v FROM {inner}"
        self._line_sql = f"SELECT {body} || chr(10) AS v FROM {inner}"

    def _quote_test(self, v: str) -> str:
        """SQL of whether Jackson quotes the text ``v``: when it is longer than 24 UTF-16
        units (it checks no further then), holds a character below ``_min_safe`` (with
        the default ',' and '"': a space, '!', '#', '+', ...) or the escape character
        (without one, a backslash). An empty text is not quoted: it is an empty field, as
        NULL is."""
        tests = [
            f"length({v}) > 24",
            f"regexp_matches({v}, '[\\x{{0}}-\\x{{{self._min_safe - 1:x}}}]')",
            f"strpos({v}, {_sql_text(self._escape_or_backslash)}) > 0",
            # a 4-byte character (3 bytes more than it counts)? then count in Python (rarely)
            f"CASE WHEN strlen({v}) > length({v}) + 2 AND length({v}) > 12 "
            f"THEN {_UTF16_LENGTH}({v}) > 24 END",
        ]
        return " OR ".join(tests)

    def _needs_quotes(self, text: str) -> bool:
        """``_quote_test`` in Python (for the header line)."""
        if self.opts.disable_quote:
            return False
        units = len(text.encode("utf-16-le")) // 2
        return units > 24 or any(ord(c) < self._min_safe for c in text) or self._escape_or_backslash in text

    def _quoted(self, v: str, null_text: str) -> str:
        o = self.opts
        if o.disable_quote:
            return f"coalesce({v}, {null_text})"
        quoted = self._quote_sql(v)
        return (
            f"(CASE WHEN {v} IS NULL THEN {null_text} WHEN {self._quote_test(v)} THEN {quoted} ELSE {v} END)"
        )

    def _quote_sql(self, v: str) -> str:
        """SQL of ``v`` in quotes, as Jackson writes it: a quote doubled, and with an escape
        character, that doubled too (so the reader takes it as itself)."""
        o = self.opts
        q = _sql_text(o.quote)
        inner = f"replace({v}, {q}, {q} || {q})"
        if o.escape and o.escape != o.quote:
            e = _sql_text(o.escape)
            inner = f"replace(replace({v}, {e}, {e} || {e}), {q}, {q} || {q})"
        return f"{q} || {inner} || {q}"

    def file_header(self) -> bytes:
        if not self.opts.header:
            return b""
        o = self.opts
        names = []
        for f in self.fields:
            name = f.name
            if self._needs_quotes(name):
                if o.escape and o.escape != o.quote:  # as in _quote_sql
                    name = name.replace(o.escape, o.escape * 2)
                name = o.quote + name.replace(o.quote, o.quote * 2) + o.quote
            names.append(name)
        return (o.delimiter.join(names) + "\n").encode("utf-8")
