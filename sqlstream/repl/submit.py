"""The "does Enter submit?" rule, and the split of a submitted buffer into pieces.

Statements are found by ``planner.split``, the splitter ``planner.parse`` uses too, so the
shell runs what a script file would run. On top of it the shell has meta commands
(``\\dt``, ``.mode table``, ``help``, ``quit``): a piece that ends at its line's end.

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

from planner.split import Span, scan_script, split_script

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
    """The statements and meta commands of the text, and what is left open at its end."""
    scanned = scan_script(text, _meta_at)
    pieces = [_piece(text, span) for span in scanned.statements]
    return Scan(
        pieces=pieces,
        rest=text[scanned.rest_offset :],
        rest_offset=scanned.rest_offset,
        in_quote=scanned.in_quote,
        in_comment=scanned.in_comment,
        in_statement_set=scanned.in_statement_set,
    )


def should_submit(text: str) -> bool:
    """Enter runs the buffer when every statement in it is finished (or it is blank).

    An unterminated statement, an open quote or comment, or an open statement set keeps
    the buffer open: Enter then inserts a newline.
    """
    scanned = scan_script(text, _meta_at)
    return scanned.tail is None and not scanned.in_quote and not scanned.in_comment


def split(text: str) -> list[Piece]:
    """The pieces to run, in order; an unfinished tail is run as a statement too (as psql
    does at the end of a file)."""
    return [_piece(text, span) for span in split_script(text, _meta_at)]


def _piece(text: str, span: Span) -> Piece:
    if not span.command:
        return Piece(PieceKind.SQL, text[span.start : span.end], *_position(text, span.start))
    body = text[span.start : span.end].strip()
    if body.lower().rstrip(";").strip() in BARE_COMMANDS:
        body = body.rstrip(";").strip()
    return Piece(PieceKind.META, body, *_position(text, span.start))
