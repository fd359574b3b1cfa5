"""The "does Enter submit?" rule, and the split of a submitted buffer into pieces.

A statement ends at a ``;`` outside quotes and comments. A statement set
(``BEGIN STATEMENT SET; ... END;`` or ``EXECUTE STATEMENT SET BEGIN ... END;``) is one
piece that stays open until a statement made of ``END`` alone. A meta command (``\\dt``,
``.mode table``, ``help``, ``quit``) is a piece that ends at its line's end.

>>> should_submit("SELECT 1")
False
>>> should_submit("SELECT ';' -- ;")
False
>>> should_submit("SELECT 1; SELECT 2;")
True
>>> [p.text for p in split("SELECT 1; \\\\dt\\nSELECT\\n 2;")]
['SELECT 1', '\\\\dt', 'SELECT\\n 2']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words that are a meta command when they are alone on their line (DuckDB/psql spelling).
BARE_COMMANDS = ("help", "quit", "exit")


class PieceKind(StrEnum):
    SQL = "sql"
    META = "meta"


@dataclass(frozen=True)
class Piece:
    """A statement (without its ``;``) or a meta command, and where it starts (1-based)."""

    kind: PieceKind
    text: str
    line: int
    col: int


@dataclass(frozen=True)
class Scan:
    pieces: list[Piece]
    rest: str  # text after the last complete piece (an unfinished statement, or blank)
    rest_offset: int  # where ``rest`` starts in the scanned text
    in_quote: str | None  # the quote character left open at the end, if any
    in_comment: bool  # inside a ``/* */`` comment at the end (a ``--`` one ends with the text)
    in_statement_set: bool


def _words(sql: str) -> list[str]:
    """The upper-cased words of a statement, outside quotes and comments."""
    return [w.upper() for w in _WORD.findall(strip_comments_and_strings(sql))]


def strip_comments_and_strings(sql: str) -> str:
    """The text with comments removed and string literals emptied (for word matching)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif c in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _opens_statement_set(words: list[str]) -> bool:
    return words[:3] == ["BEGIN", "STATEMENT", "SET"] or words[:4] == ["EXECUTE", "STATEMENT", "SET", "BEGIN"]


def _meta_at(text: str, i: int) -> int | None:
    """If a meta command starts at ``i``, the offset where its line ends; else None."""
    end = text.find("\n", i)
    end = len(text) if end < 0 else end
    line = text[i:end]
    if line.startswith("\\") or re.match(r"\.[A-Za-z]", line):
        return end
    if line.strip().rstrip(";").strip().lower() in BARE_COMMANDS:
        return end
    return None


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def scan(text: str) -> Scan:
    """Walk the text once, tracking quotes, comments and statement sets."""
    pieces: list[Piece] = []
    i, n = 0, len(text)
    start: int | None = None  # first non-blank character of the current piece
    set_start: int | None = None  # where an open statement set began
    quote: str | None = None
    comment: str | None = None  # "--" or "/*"
    rest_offset = 0
    while i < n:
        c = text[i]
        if comment == "--":
            if c == "\n":
                comment = None
            i += 1
            continue
        if comment == "/*":
            if text.startswith("*/", i):
                comment = None
                i += 2
            else:
                i += 1
            continue
        if quote is not None:
            if c == quote:
                if i + 1 < n and text[i + 1] == quote:
                    i += 2
                    continue
                quote = None
            i += 1
            continue
        if start is None:
            if c.isspace():
                i += 1
                continue
            if set_start is None:
                meta_end = _meta_at(text, i)
                if meta_end is not None:
                    body = text[i:meta_end].strip()
                    if body.lower().rstrip(";").strip() in BARE_COMMANDS:
                        body = body.rstrip(";").strip()
                    pieces.append(Piece(PieceKind.META, body, *_position(text, i)))
                    i = rest_offset = meta_end
                    continue
            if not text.startswith("--", i) and not text.startswith("/*", i):
                start = i
        if text.startswith("--", i):
            comment = "--"
            i += 2
            continue
        if text.startswith("/*", i):
            comment = "/*"
            i += 2
            continue
        if c in "'\"`":
            quote = c
            i += 1
            continue
        if c == ";":
            body_start = start if start is not None else i
            words = _words(text[body_start:i])
            if set_start is not None:
                if words == ["END"]:
                    pieces.append(
                        Piece(PieceKind.SQL, text[set_start:i].strip(), *_position(text, set_start))
                    )
                    set_start = None
                    rest_offset = i + 1
            elif _opens_statement_set(words):
                set_start = body_start
            elif start is not None:
                pieces.append(Piece(PieceKind.SQL, text[start:i].strip(), *_position(text, start)))
                rest_offset = i + 1
            else:
                rest_offset = i + 1  # a stray ';'
            start = None
            i += 1
            continue
        i += 1
    return Scan(
        pieces=pieces,
        rest=text[rest_offset:],
        rest_offset=rest_offset,
        in_quote=quote,
        in_comment=comment == "/*",
        in_statement_set=set_start is not None,
    )


def is_blank(sql: str) -> bool:
    """Only whitespace and comments."""
    return not strip_comments_and_strings(sql).strip()


def should_submit(text: str) -> bool:
    """Enter runs the buffer when every statement in it is finished (or it is blank).

    An unterminated statement, an open quote or comment, or an open statement set keeps
    the buffer open: Enter then inserts a newline.
    """
    s = scan(text)
    if s.in_quote or s.in_comment or s.in_statement_set:
        return False
    return is_blank(s.rest)


def split(text: str) -> list[Piece]:
    """The pieces to run, in order; an unfinished tail is run as a statement too (as psql
    does at the end of a file)."""
    s = scan(text)
    pieces = list(s.pieces)
    if not is_blank(s.rest):
        lead = len(s.rest) - len(s.rest.lstrip())
        offset = s.rest_offset + lead
        pieces.append(Piece(PieceKind.SQL, s.rest.strip(), *_position(text, offset)))
    return pieces
