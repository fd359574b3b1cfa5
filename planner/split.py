"""Script splitting: where each statement of a script starts and ends.

The one splitter of sqlstream. ``planner.parse`` reads the statements it finds (so the CLI,
the session and ``\\i`` in the REPL all split alike), and the REPL asks it whether Enter
should run the buffer and what to run. It only looks at characters, so it also answers for
text that is not finished yet (an open string, comment or statement set).

A ``;`` ends a statement unless it is inside a string (``'...'``, ``''`` for a quote), a
quoted name (`` `...` ``), a comment (``--`` to the end of the line, or ``/* */``, which
nest as in our dialect's tokenizer) or a statement set: ``BEGIN STATEMENT SET; ... END``
or ``[EXECUTE | EXPLAIN] STATEMENT SET BEGIN ... END``, which ends at the ``END`` that
closes no ``CASE``. The last statement needs no ``;``. Comments before and after a statement
are not part of it.

>>> script = "SELECT ';' AS `a;b`; -- done\\nSELECT 2"
>>> [script[s.start : s.end] for s in split_script(script)]
["SELECT ';' AS `a;b`", 'SELECT 2']
>>> scan_script("SELECT 1; SELECT 'it''s").in_quote
"'"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# The quotes of our dialect: strings and names. A double quote is not one (Flink quotes
# names with backticks), so ``"a;b"`` splits as the tokenizer would read it.
QUOTES = ("'", "`")
_WORDS = re.compile(r"\w+|[^\s\w]")

CommandAt = Callable[[str, int], int | None]
"""Where a front end's own command (the REPL's ``\\dt``) starting at an offset ends, or
None when no command starts there. Asked only where a statement could start."""


@dataclass(frozen=True)
class Span:
    """One statement (or front-end command) of a script: ``text[start:end]``."""

    start: int
    end: int
    command: bool = False


@dataclass(frozen=True)
class ScriptScan:
    statements: tuple[Span, ...]  # the finished ones (ended by ';'), and commands, in order
    tail: Span | None  # an unfinished statement after them (no ';' yet), if any
    rest_offset: int  # where the text after the last finished statement starts
    in_quote: str | None  # the quote left open at the end, if any
    in_comment: bool  # inside a ``/* */`` comment at the end (a ``--`` one ends with the text)
    in_statement_set: bool


def split_script(text: str, command_at: CommandAt | None = None) -> list[Span]:
    """The statements of a script in order, an unfinished last one included (as psql runs
    the end of a file)."""
    scanned = scan_script(text, command_at)
    return [*scanned.statements, scanned.tail] if scanned.tail else list(scanned.statements)


def scan_script(text: str, command_at: CommandAt | None = None) -> ScriptScan:
    """Walk the text once, tracking quotes, comments and statement sets."""
    spans: list[Span] = []
    i, n = 0, len(text)
    start: int | None = None  # first character of the current statement
    code_end = 0  # just after its last character that is neither blank nor comment
    statement_set = _StatementSet()
    code: list[str] = []  # its text since the last ';' outside comments, strings emptied
    quote: str | None = None
    in_comment = False  # a /* */ comment left open at the end
    rest_offset = 0
    while i < n:
        c = text[i]
        if quote is not None:
            if c == quote:
                if text.startswith(quote, i + 1):
                    i += 2
                    continue
                quote = None
                code.append(c)
                code_end = i + 1
            i += 1
            continue
        if c.isspace() or text.startswith(("--", "/*"), i):
            code.append(" ")
            if c.isspace():
                i += 1
            elif c == "-":
                i = _line_comment_end(text, i)
            else:
                end = _block_comment_end(text, i)
                in_comment = end is None
                i = n if end is None else end
            continue
        if start is None and command_at is not None:
            command_end = command_at(text, i)
            if command_end is not None:
                spans.append(Span(i, command_end, command=True))
                i = rest_offset = command_end
                continue
        if c == ";":
            statement_set.read(_WORDS.findall("".join(code)))
            code = []
            if statement_set.open:
                statement_set.read([";"])
                code_end = i + 1  # a ';' inside a statement set is part of it
            else:
                if start is not None:
                    spans.append(Span(start, code_end))
                rest_offset = i + 1  # (after a stray ';' too)
                start = None
                statement_set = _StatementSet()
            i += 1
            continue
        if start is None:
            start = i
        if c in QUOTES:
            quote = c
        code.append(c)
        code_end = i + 1
        i += 1
    statement_set.read(_WORDS.findall("".join(code)))
    tail = None
    if start is not None:
        # An open string or comment stays in, so that reading it reports it.
        tail = Span(start, len(text.rstrip()) if quote or in_comment else code_end)
    return ScriptScan(tuple(spans), tail, rest_offset, quote, in_comment, statement_set.open)


class _StatementSet:
    """Whether a statement set is open, from the statement's words read so far.

    ``BEGIN STATEMENT SET`` as its first words or ``STATEMENT SET BEGIN`` anywhere opens
    one; the first ``END`` that closes no ``CASE`` closes it. A ``;`` ends the statement
    only when no set is open.
    """

    def __init__(self) -> None:
        self.words: list[str] = []
        self.open = False
        self.case_depth = 0

    def read(self, words: list[str]) -> None:
        for word in words:
            word = word.upper()
            self.words.append(word)
            if not self.open:
                last = self.words[-3:]
                self.open = last == ["STATEMENT", "SET", "BEGIN"] or (
                    len(self.words) == 3 and last == ["BEGIN", "STATEMENT", "SET"]
                )
                self.case_depth = 0
            elif word == "CASE":
                self.case_depth += 1
            elif word == "END":
                if self.case_depth:
                    self.case_depth -= 1
                else:
                    self.open = False


def _line_comment_end(text: str, i: int) -> int:
    """Where a ``--`` comment at i ends: at the end of its line (a CR ends it too)."""
    ends = [e for e in (text.find("\n", i), text.find("\r", i)) if e >= 0]
    return min(ends) if ends else len(text)


def _block_comment_end(text: str, i: int) -> int | None:
    """Just after the ``*/`` closing the ``/*`` at i, or None if it is never closed.

    Comments nest, and exactly as sqlglot's tokenizer sees them: a ``/*`` counts only
    one character after the previous delimiter (``/*/* */`` is one comment).
    """
    depth, i, n = 1, i + 2, len(text)
    while i < n:
        if text.startswith("*/", i):
            depth -= 1
            if not depth:
                return i + 2
        i += 1
        if text.startswith("/*", i):
            depth += 1
            i += 2
    return None
