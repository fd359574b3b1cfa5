"""Where CSV records end, when a quoted field may hold a line break (the filesystem source
cuts files into records with it; the csv decoder checks records with it).

A CSV writer (ours, Flink's, Python's) quotes a STRING value that holds a line break, so
with quoting enabled a record ends at a line break outside quotes, not at every line break;
Flink's reader (Jackson's CSV parser over the whole file) reads such records whole.

The rule, applied to a file's lines in order, each starting a record:

- a line with an even number of quote characters (and, with ``csv.escape-character``, no
  escape character) is a whole record. In a well-formed file a quoted field holds an even
  number of quotes (its two ends and doubled ones), so this is exact there, and it is the
  common case: one numpy pass over a chunk's bytes finds it, and a chunk without a quote
  byte needs nothing more;
- any other line starts a record read as Jackson reads one: a quote opens a quoted field
  only as a field's first character (elsewhere it is an ordinary character, as in
  ``12" pipe``); inside a quoted field a doubled quote is a quote, and delimiters and line
  breaks are part of the value; the escape character, when set, makes the character after
  it ordinary, quote and line break included, inside and outside quotes. The record ends
  at the first line break outside a quoted field that is not escaped.

A record whose quoted field is still open at the end of the file is a bad record (Jackson:
"Missing closing quote"); one still open after ``MAX_RECORD_BYTES`` fails the job rather
than reading the rest of the file into memory to look for its end.
"""

from __future__ import annotations

import re

import numpy as np

# Far above any real value (Jackson itself refuses a string of more than 20M characters).
MAX_RECORD_BYTES = 64 << 20
_HASH = ord("#")


class QuotedRecords:
    """Finds the line breaks that end records in a buffer of whole lines that starts at a
    record's first byte (see the module doc)."""

    def __init__(self, delimiter: str, quote: str, escape: str | None, comments: bool) -> None:
        self._quote = _byte(quote)
        self._escape = _byte(escape) if escape is not None and escape != quote else None
        self._comments = comments
        d, q = re.escape(delimiter.encode("utf-8")), re.escape(quote.encode("utf-8"))
        if self._escape is None:
            quoted = q + b"(?:[^" + q + b"]|" + q + q + b")*+" + q
            unquoted = b"[^" + q + d + b"\n][^" + d + b"\n]*+"
        else:
            e = re.escape(bytes([self._escape]))
            escaped = e + b"(?s:.)"  # the escape and the character it makes ordinary
            quoted = q + b"(?:[^" + q + e + b"]|" + q + q + b"|" + escaped + b")*+" + q
            first = b"(?:[^" + q + d + e + b"\n]|" + escaped + b")"
            unquoted = first + b"(?:[^" + d + e + b"\n]|" + escaped + b")*+"
        # after a closing quote, anything up to the next delimiter belongs to the field
        # (Jackson calls it an error; the decoder finds it): it cannot open a quote
        field = b"(?:" + quoted + b"[^" + d + b"\n]*+|" + unquoted + b"|)"
        self._record = re.compile(field + b"(?:" + d + field + b")*+(?:\n|\\Z)")

    def whole(self, record: bytes) -> bool:
        """Whether ``record`` is one record that closes every quote it opens (no line
        break outside quotes, no escape at its end)."""
        m = self._record.match(record)
        return m is not None and m.end() == len(record) and not record.endswith(b"\n")

    def ends(
        self, buf: bytes | memoryview, newlines: np.ndarray, eof: bool
    ) -> tuple[np.ndarray | None, int | None]:
        """Which of ``newlines`` (the positions of the line breaks in ``buf``) end records,
        as a boolean mask (None: every one does), and the offset of a record still open
        at the end of ``buf`` (None when there is none; at ``eof``, the bytes after the
        last line break count as the last line)."""
        data = np.frombuffer(buf, dtype=np.uint8)
        quotes = np.flatnonzero(data == self._quote)
        escapes = np.flatnonzero(data == self._escape) if self._escape is not None else quotes[:0]
        if not len(quotes) and not len(escapes):
            return None, None
        tail = eof and len(data) and (not len(newlines) or int(newlines[-1]) != len(data) - 1)
        line_ends = np.append(newlines, len(data)) if tail else newlines  # the last line's end, at eof
        odd = np.diff(np.searchsorted(quotes, line_ends), prepend=0) & 1
        suspect = odd.astype(bool)
        if len(escapes):
            suspect |= np.diff(np.searchsorted(escapes, line_ends), prepend=0) > 0
        if not suspect.any():
            return None, None
        mask = np.ones(len(newlines), dtype=bool)
        after = 0  # the first line that starts a record (lines before are done)
        for line in np.flatnonzero(suspect).tolist():
            if line < after:
                continue  # inside the last record read
            start = 0 if line == 0 else int(newlines[line - 1]) + 1
            first = start + _leading_spaces(data, start) if self._comments else -1
            if 0 <= first < len(data) and data[first] == _HASH:
                after = line + 1  # a comment line (Jackson skips spaces before '#') is not read for quotes
                continue
            m = self._record.match(buf, start)
            if m is None or (not eof and m.end() == len(data) and not m.group().endswith(b"\n")):
                mask[line:] = False  # open up to the end of what is read
                return mask, start
            end = int(np.searchsorted(newlines, m.end() - 1))  # its line break (or the tail)
            mask[line:end] = False
            after = end + 1
        return mask, None


def _leading_spaces(data: np.ndarray, start: int) -> int:
    at = start
    while at < len(data) and data[at] == 32:
        at += 1
    return at - start


def _byte(char: str) -> int:
    encoded = char.encode("utf-8")
    if len(encoded) != 1:  # a quote or escape outside ASCII: no byte scan finds it
        raise ValueError(f"'{char}' is not a one-byte character")
    return encoded[0]
