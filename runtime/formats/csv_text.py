"""How Flink's ``csv`` format splits a line into fields, and which lines of a block
pyarrow's CSV reader may read otherwise.

Flink reads a line with Jackson's CSV parser (``CsvDecoder``): a quote character opens a
quoted value only as a field's first character (elsewhere it is text); inside one, a
doubled quote is a quote and the delimiter is text; after the closing quote only spaces
(control characters and ' ') may come before the delimiter or the line's end, anything
else is an error, as is a quote that never closes. The escape character, quoted or not,
takes the next character as text, except ``0``, ``n``, ``r`` and ``t``, which stand for
NUL, a line feed, a carriage return and a tab; an escape character that ends the line is
an error. ``CsvSyntax.split`` does the same for the record path.

pyarrow reads RFC 4180 lines as Jackson does, but not these: it keeps text after a closing
quote (``"ab"c`` is ``abc``, ``"ab" `` is ``ab ``), reads no ``\\n`` escapes, and reads
``0x10`` as an integer 16 (Java's parsers refuse it). ``suspect_lines`` finds the lines of
a block that are not plain RFC 4180 (or hold ``0x``) with a few numpy passes over the
block, so that the bulk path sends only them to the record path.
"""

from __future__ import annotations

import re

import numpy as np

from runtime.formats.base import RecordError

# What Jackson reads an escaped character as, when not the character itself.
_UNESCAPED = {"0": "\0", "n": "\n", "r": "\r", "t": "\t"}
_LF, _CR = 10, 13


def _cls(chars: str) -> str:
    return "".join(re.escape(c) for c in chars)


class CsvSyntax:
    """One line's fields, as Jackson's CSV parser reads them with these characters.
    ``comments``: Jackson's comment mode, which also skips the spaces (' ') that start a
    line, so that '  #x' is a comment and '  a,b' reads 'a' and 'b'."""

    def __init__(self, delimiter: str, quote: str | None, escape: str | None, comments: bool = False) -> None:
        self.delimiter, self.quote, self.escape, self.comments = delimiter, quote, escape, comments
        d = _cls(delimiter)
        e = _cls(escape) if escape else ""
        any_escaped = f"|{e}." if escape else ""
        end = f"({d}|\\Z)"
        self._unquoted = re.compile(f"((?:[^{d}{e}]{any_escaped})*){end}", re.S)
        if quote is not None:
            q = _cls(quote)
            # spaces Jackson skips after a closing quote: below '!', not a line end or delimiter
            blank = _cls("".join(chr(c) for c in range(0x21) if chr(c) not in (delimiter, "\r", "\n")))
            value = f"{q}((?:[^{q}{e}]|{q}{q}{any_escaped})*){q}"
            self._quoted_value = re.compile(value, re.S)
            self._quoted = re.compile(f"{value}[{blank}]*{end}", re.S)
            self._in_quotes = re.compile(f"{q}{q}{any_escaped}", re.S)
        if escape:
            self._escaped = re.compile(f"{e}(.)", re.S)

    def split(self, text: str) -> list[str]:
        """The fields of ``text`` (one line, its line break removed), or RecordError."""
        if self.comments:
            text = text.lstrip(" ")
        if not text:
            return []
        fields: list[str] = []
        pos, n = 0, len(text)
        while True:
            if self.quote is not None and text.startswith(self.quote, pos):
                m = self._quoted.match(text, pos)
                if m is None:
                    raise RecordError(self._quote_error(text, pos))
                value = m.group(1)
                if self.quote in value or (self.escape and self.escape in value):
                    value = self._in_quotes.sub(self._one_quoted, value)
            else:
                m = self._unquoted.match(text, pos)
                if m is None:
                    raise RecordError(f"the escape character ends the line in {text[:60]!r}")
                value = m.group(1)
                if self.escape and self.escape in value:
                    value = self._escaped.sub(self._one_escaped, value)
            fields.append(value)
            pos = m.end()
            if not m.group(2):
                return fields
            if pos == n:  # a delimiter last: an empty field after it
                fields.append("")
                return fields

    def _one_quoted(self, m: re.Match[str]) -> str:
        text = m.group(0)
        return text[0] if text[0] == text[1] == self.quote else _UNESCAPED.get(text[1], text[1])

    @staticmethod
    def _one_escaped(m: re.Match[str]) -> str:
        return _UNESCAPED.get(m.group(1), m.group(1))

    def _quote_error(self, text: str, pos: int) -> str:
        closed = self._quoted_value.match(text, pos)
        if closed is None or text.startswith(self.quote or "", closed.end()):  # '"a""': the last two a quote
            return f"a quoted field has no closing quote in {text[:60]!r}"
        return (
            f"expected the field delimiter {self.delimiter!r} or the line's end after the closing "
            f"quote at character {closed.end()}, found {text[closed.end()]!r} in {text[:60]!r}"
        )


def suspect_lines(
    block: bytes | memoryview,
    count: int,
    newlines: np.ndarray | None,
    syntax: CsvSyntax,
    hex_numbers: bool,
) -> np.ndarray | None:
    """A mask of the ``count`` lines of ``block`` (``newlines``: the positions of its line
    breaks, found here when needed and not given) that pyarrow may read otherwise than
    ``syntax.split`` does; None when there is none.

    A line is plain when each quote either opens a field (first in the line, or after a
    delimiter, or right after a closing quote: a doubled quote) at an even count of quotes
    before it in the line, or closes one (before a delimiter, the line's end, or another
    quote) at an odd count, and the line holds an even count: RFC 4180, which both read
    alike. Lines with the escape character, or (``hex_numbers``) with ``0x``, are suspects
    too, and in comment mode lines that start with a space. Each test is a C search of the
    block first, so a block without quotes, escapes or ``x`` costs a few memchr."""
    raw, start, end = _span(block)
    data = np.frombuffer(block, dtype=np.uint8)
    at: list[np.ndarray] = []  # positions that make their lines suspects
    if syntax.escape is not None and raw.find(syntax.escape.encode(), start, end) >= 0:
        at.append(np.flatnonzero(data == ord(syntax.escape)))
    if hex_numbers and (raw.find(b"x", start, end) >= 0 or raw.find(b"X", start, end) >= 0):
        x = np.flatnonzero((data | 0x20) == ord("x"))  # memchr finds 'x' fast, not '0x'
        at.append(x[data[np.maximum(x - 1, 0)] == ord("0")])
    quoted = syntax.quote is not None and raw.find(syntax.quote.encode(), start, end) >= 0
    spaced = syntax.comments and raw.find(b" ", start, end) >= 0
    if not at and not quoted and not spaced:
        return None
    if newlines is None:
        newlines = np.flatnonzero(data == _LF)
    # the last line may have no line break (a file's end; records joined by them)
    line_ends = newlines if len(newlines) == count else np.append(newlines, len(data))
    if spaced:
        starts = np.concatenate([[0], line_ends[:-1] + 1])
        starts = starts[starts < len(data)]
        at.append(starts[data[starts] == ord(" ")])
    if quoted:
        at.append(_misplaced_quotes(data, line_ends, ord(syntax.quote or ""), ord(syntax.delimiter)))
    where = np.concatenate(at)
    if not len(where):
        return None
    mask = np.zeros(count, dtype=bool)
    mask[np.searchsorted(line_ends, where)] = True
    return mask


def contains(block: bytes | memoryview, needle: bytes) -> bool:
    """Whether ``needle`` occurs in ``block``, found with memchr and no copy of a view."""
    raw, start, end = _span(block)
    return raw.find(needle, start, end) >= 0


def _span(block: bytes | memoryview) -> tuple[bytes | bytearray, int, int]:
    """``block`` as a range of a bytes object, to search with memchr (``bytes.find``): a
    view's own object and where the view lies in it, without a copy."""
    if isinstance(block, bytes):
        return block, 0, len(block)
    obj = block.obj
    if isinstance(obj, bytes | bytearray) and block.c_contiguous and block.itemsize == 1 and block.nbytes:
        at = np.frombuffer(block, dtype=np.uint8).ctypes.data - np.frombuffer(obj, dtype=np.uint8).ctypes.data
        return obj, at, at + block.nbytes
    copy = bytes(block)
    return copy, 0, len(copy)


def _misplaced_quotes(data: np.ndarray, line_ends: np.ndarray, quote: int, delimiter: int) -> np.ndarray:
    """Positions in lines that are not plain RFC 4180 (see ``suspect_lines``): of a quote
    out of place, or of the end of a line with an odd count of quotes."""
    at = np.flatnonzero(data == quote)
    counts = np.diff(np.searchsorted(at, line_ends), prepend=0)  # each line's quotes
    odd = np.flatnonzero(counts & 1)
    rank = np.arange(len(at))
    if len(odd):  # ranks restart at each line
        rank -= np.repeat(np.cumsum(counts) - counts, counts)
    # else every line's first quote has an even rank in the block: no need to restart
    opens = (rank & 1) == 0
    before = data[np.maximum(at - 1, 0)]
    before[at == 0] = _LF
    after = data[np.minimum(at + 1, len(data) - 1)]
    after[at + 1 == len(data)] = _LF
    ok = np.where(
        opens,
        (before == delimiter) | (before == _LF) | (before == quote),
        (after == delimiter) | (after == _LF) | (after == _CR) | (after == quote),
    )
    return np.concatenate([at[~ok], line_ends[odd]])
