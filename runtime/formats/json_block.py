"""A second reader of blocks of JSON lines: DuckDB's JSON functions, kept exact by checks.

DuckDB's ``json_transform_strict`` reads a line faster than pyarrow's reader, but more
leniently than Flink (and ``JsonDecoder._one``): it takes trailing commas and ``nan``/``inf``
literals, reads ``1.7`` or ``"12"`` or ``true`` into a BIGINT, and gives a number's or an
array's text for a VARCHAR. So every field is read as text (a string's value, any other
value's JSON text as DuckDB writes it), the columns are made from that text with Arrow's
strict casts, and a block is taken only when

- each column's text is one that every JSON value giving it decodes to the same value in
  the record path (digits for an integer, ``true``/``false`` for a BOOLEAN, one timestamp
  layout, and for a string column no text a number, array, literal or object could give),
  which also means no field's raw text is shorter than its minimal JSON form; and
- each line is exactly as long as the minimal JSON of an object of the declared keys with
  those values: no other key, no space, no escape, no trailing comma anywhere in the line
  (a longer field cannot be made up by a shorter one, by the first point).

Otherwise ``read`` gives None and the caller reads the block the usual way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.types import DataType

_INTS = ("TINYINT", "SMALLINT", "INT", "BIGINT")
_STRINGS = ("STRING", "VARCHAR", "CHAR")
_STAMPS = ("TIMESTAMP", "TIMESTAMP_LTZ")

# A string column's values that DuckDB's text of a non-string JSON value could be: those
# starting with one of _NOT_PLAIN, or true (4 bytes), false (5), nan/inf (3), infinity (8)
_NOT_PLAIN = np.zeros(256, dtype=bool)
_NOT_PLAIN[list(b"[{-+0123456789")] = True
_WORD_LENGTH = np.zeros((2, 256), dtype=np.int64)  # by first byte: up to two lengths of a word
_WORD_LENGTH[0, [ord("t"), ord("f")]] = (4, 5)
_WORD_LENGTH[:, list(b"nNiI")] = [[3], [8]]
_NON_STRING_TEXT = (
    r"^(?:[\[{].*|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|[+-]?(?i:nan|inf|infinity))$"
)
_STAMP_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z?$"
# 'yyyy-MM-dd HH:mm:ss[.S..]' (or 'T'): the separators' places; the other places are digits
_STAMP_SEPARATORS = {4: b"-", 7: b"-", 10: b" T", 13: b":", 16: b":", 19: b"."}
_DIGIT_OR_MINUS = np.zeros(256, dtype=bool)
_DIGIT_OR_MINUS[list(b"0123456789-")] = True
_EMPTY = pa.array([], pa.null())  # what a checked column not read gives
_NULL_TEXT = 4  # len("null")
_YEAR_1 = pa.scalar(-62135596800 * 1_000_000, pa.timestamp("us"))  # 0001-01-01: Python's first


def _kind(t: DataType) -> str | None:
    if t.name in _INTS:
        return "int"
    if t.name in _STRINGS:
        return "string"
    if t.name == "BOOLEAN":
        return "bool"
    if t.name in _STAMPS:
        return "stamp"
    return None


class DuckDbBlockReader:
    """Reads blocks of one-object lines into a batch of ``schema`` (see the module doc)."""

    def __init__(
        self, names: Sequence[str], kinds: Sequence[str], read: Sequence[str], schema: pa.Schema
    ) -> None:
        self._kinds = list(kinds)
        self._schema = schema
        # where each column of ``schema`` is among the lines' fields (the others are checked only)
        self._read = {names.index(n): i for i, n in enumerate(read)}
        structure = json.dumps({n: "VARCHAR" for n in names})
        self._sql = f"SELECT j.* FROM (SELECT json_transform_strict(line, '{structure.replace(chr(39), chr(39) * 2)}') AS j FROM lines)"
        # braces, commas, and each key's shortest JSON text with its colon
        self._fixed = (
            2 + (len(names) - 1) + sum(len(json.dumps(n, ensure_ascii=False).encode()) + 1 for n in names)
        )
        self._con = duckdb.connect(config={"threads": 1})

    @classmethod
    def for_columns(
        cls, held: Sequence[tuple[str, DataType]], read: Sequence[str], schema: pa.Schema
    ) -> DuckDbBlockReader | None:
        """A reader of lines of the ``held`` fields giving the ``read`` ones (``schema``),
        None when a type is one it does not read, or the names are ones DuckDB's struct
        cannot hold (equal but for case)."""
        names = [n for n, _ in held]
        kinds = [_kind(t) for _, t in held]
        if (
            not names
            or None in kinds
            or len({n.lower() for n in names}) != len(names)
            or not set(read) <= set(names)
        ):
            return None
        return cls(names, [k for k in kinds if k is not None], read, schema)

    def read(self, block: bytes | memoryview, count: int, newlines: np.ndarray) -> pa.RecordBatch | None:
        """The block's rows, or None when the checks do not hold (the caller reads it as before)."""
        data = np.frombuffer(block, dtype=np.uint8)
        if not count or len(data) >= 2**31 or len(newlines) not in (count, count - 1):
            return None
        starts = np.empty(count, dtype=np.int64)
        starts[0] = 0
        starts[1:] = newlines[: count - 1] + 1
        ends = newlines if len(newlines) == count else np.append(newlines, len(data))
        # each line is one object with nothing around it; two bytes at least
        if data[0] != 0x7B or not (data[ends - 1] == 0x7D).all() or not (data[starts] == 0x7B).all():
            return None
        offsets = np.empty(count + 1, dtype=np.int32)
        offsets[:count] = starts
        offsets[count] = len(data)
        lines = pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(block))
        self._con.register("lines", pa.table({"line": lines}))
        try:
            table = self._con.sql(self._sql).to_arrow_table()
        except Exception:  # noqa: BLE001 - malformed JSON, a missing or duplicate key, bad UTF-8 (a UnicodeDecodeError of its message)
            return None
        finally:
            self._con.unregister("lines")
        expected = np.full(count, self._fixed, dtype=np.int64)
        arrays: list[pa.Array] = [None] * len(self._schema)  # type: ignore[list-item]
        for i, (kind, chunked) in enumerate(zip(self._kinds, table.columns)):
            at = self._read.get(i)
            target = self._schema.field(at).type if at is not None else None
            column = _column(kind, chunked.combine_chunks(), target, expected)
            if column is None:
                return None
            if at is not None:
                arrays[at] = column
        if not (expected == ends - starts).all():
            return None
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema)


def _column(
    kind: str, text: pa.StringArray, target: pa.DataType | None, expected: np.ndarray
) -> pa.Array | None:
    """The column from its text, adding each value's minimal JSON length to ``expected``;
    None when a value is not one the record path reads the same from any JSON giving it.
    ``target`` None: a column not read, checked only (an empty array when it passes)."""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + len(text) + 1]
    buffer = text.buffers()[2]
    chars = (
        np.frombuffer(buffer, dtype=np.uint8) if buffer is not None and buffer.size else np.zeros(1, np.uint8)
    )
    lengths = np.diff(offsets).astype(np.int64)
    valid = text.is_valid().to_numpy(zero_copy_only=False) if text.null_count else None
    quoted = 2 if kind in ("string", "stamp") else 0
    if valid is None:
        expected += lengths + quoted
    else:
        expected += np.where(valid, lengths + quoted, _NULL_TEXT)
    try:
        if kind == "int":  # Arrow's cast takes digits and a minus only, and hex: not 1.5, true, "+1"
            if target is None:  # no cast to refuse the rest
                return _EMPTY if _DIGIT_OR_MINUS[chars[offsets[0] : offsets[-1]]].all() else None
            used = bytes(memoryview(buffer)[offsets[0] : offsets[-1]]) if buffer is not None else b""
            if b"x" in used or b"X" in used:
                return None
            return pc.cast(text, target)
        if kind == "bool":
            if pc.any(pc.invert(pc.is_in(text, pa.array(["true", "false", None])))).as_py():
                return None
            return pc.equal(text, "true") if target is not None else _EMPTY
        if kind == "stamp":
            return _timestamps(text, target, offsets, chars, lengths, valid)
        first = chars[np.minimum(offsets[:-1], len(chars) - 1)]
        suspect = _NOT_PLAIN[first]
        suspect |= (_WORD_LENGTH[0, first] == lengths) | (_WORD_LENGTH[1, first] == lengths)
        suspect &= lengths > 0
        if valid is not None:
            suspect &= valid
        if suspect.any():
            closer = text.filter(pa.array(suspect))
            if pc.any(pc.match_substring_regex(closer, _NON_STRING_TEXT)).as_py():
                return None
        return text if target is not None else _EMPTY
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _timestamps(
    text: pa.StringArray,
    target: pa.DataType | None,
    offsets: np.ndarray,
    chars: np.ndarray,
    lengths: np.ndarray,
    valid: np.ndarray | None,
) -> pa.Array | None:
    """Timestamps of one layout, ``yyyy-MM-dd HH:mm:ss`` with up to 6 fraction digits (or
    ``T``; a ``Z`` after is UTC, as in the record path); Arrow's cast checks the ranges."""
    width = int(lengths[0]) if len(lengths) else 0
    if valid is None and width in (19, 21, 22, 23, 24, 25, 26) and (lengths == width).all():
        # one width, no nulls (the common case): the values as rows of a byte matrix
        grid = chars[offsets[0] : offsets[-1]].reshape(-1, width)
        digits = np.ones(width, dtype=bool)
        for at, allowed in _STAMP_SEPARATORS.items():
            if at < width:
                digits[at] = False
                column = grid[:, at]
                ok = column == allowed[0]
                if len(allowed) > 1:
                    ok |= column == allowed[1]
                if not ok.all():
                    return None
        if not ((grid[:, digits] - 48) < 10).all():
            return None
        stripped = text
    else:
        if not pc.all(pc.match_substring_regex(text, _STAMP_TEXT)).as_py() in (True, None):
            return None
        stripped = pc.replace_substring_regex(text, "Z$", "")
    if target is None:
        return _EMPTY
    naive = pc.cast(stripped, pa.timestamp("us"))
    low = pc.min(naive)
    if low.is_valid and low.as_py() < _YEAR_1.as_py():
        return None
    return naive.cast(target)
