"""A script of Flink SQL as our dialect's tokenizer sees it: its tokens, line and column of
any offset, the statements it holds (each a run of tokens), and sqlglot's errors turned into
ours with the position in the whole script and a hint for a misspelt keyword.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from catalog.errors import SqlStreamError
from planner.dialect import Flink
from planner.errors import ParseError
from planner.split import split_script

DIALECT = Flink()

# First words of statements sqlglot reads for us.
SQL_STARTS = ("SELECT", "WITH", "VALUES", "(", "INSERT", "CREATE", "DROP", "ALTER")
FRONT_STARTS = ("SET", "RESET", "SHOW", "DESCRIBE", "DESC", "STOP", "EXPLAIN", "EXECUTE", "BEGIN")
_KEYWORDS = (
    *SQL_STARTS[:3], *SQL_STARTS[4:], *FRONT_STARTS, "FROM", "WHERE", "GROUP", "BY", "ORDER",
    "HAVING", "JOIN", "LEFT", "RIGHT", "INNER", "OUTER", "FULL", "CROSS", "ON", "AS", "AND",
    "OR", "NOT", "NULL", "INTERVAL", "TABLE", "VIEW", "DESCRIPTOR", "WATERMARK", "PRIMARY",
    "KEY", "ENFORCED", "METADATA", "VIRTUAL", "COMMENT", "INTO", "OVERWRITE", "UNION", "ALL",
    "DISTINCT", "CASE", "WHEN", "THEN", "ELSE", "END", "BETWEEN", "LIKE", "IN", "IS", "CAST",
    "TUMBLE", "HOP", "CUMULATE", "SESSION", "TEMPORARY", "EXISTS", "IF", "FILTER", "LIMIT",
    # Flink's type names, for a misspelt column type
    "STRING", "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BOOLEAN", "DOUBLE", "FLOAT",
    "DECIMAL", "VARCHAR", "CHAR", "BYTES", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ", "ROW",
    "ARRAY", "MAP",
)  # fmt: skip


# ---- the script: tokens, positions, statement boundaries ---------------------------------


class Position(TypedDict):
    sql: str
    line: int
    col: int


@dataclass(frozen=True)
class Piece:
    """One statement's tokens (positions relative to the whole script) and text."""

    tokens: list[Token]
    text: str
    start: int


class Script:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(sql) if ch == "\n"]
        tokenizer = DIALECT.tokenizer()
        try:
            self.tokens: list[Token] = tokenizer.tokenize(sql)
        except TokenError:
            raise self._token_error(tokenizer.tokens) from None

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def error(
        self, cls: type[SqlStreamError], message: str, at: Token | int, hint: str | None = None
    ) -> SqlStreamError:
        offset = at if isinstance(at, int) else at.start
        line, col = self.position(offset)
        return cls(message, line=line, col=col, hint=hint)

    def locate(self, node: exp.Expr) -> None:
        """Make the ``line``/``col`` sqlglot keeps in nodes' meta (the end of their token)
        the line and column where the token starts, as in our errors."""
        for sub in node.walk():
            start = sub.meta.get("start") if sub.meta else None
            if isinstance(start, int):
                sub.meta["line"], sub.meta["col"] = self.position(start)

    def _token_error(self, done: Sequence[Token]) -> ParseError:
        offset = done[-1].end + 1 if done else 0
        while offset < len(self.sql) and self.sql[offset].isspace():
            offset += 1
        rest = self.sql[offset:]
        if rest.startswith("'"):
            what, hint = "string", "close it with ' (write '' for a quote inside it)"
        elif rest.startswith("`"):
            what, hint = "quoted identifier", "close it with `"
        elif rest.startswith("/*"):
            what, hint = "comment", "close it with */"
        else:
            what, hint = "text", None
        line, col = self.position(offset)
        return ParseError(f"unterminated {what}", line=line, col=col, hint=hint)

    def translate(self, e: SqlglotParseError) -> ParseError:
        """sqlglot's error (its positions are the script's: we parse the script's tokens)."""
        info = e.errors[0] if e.errors else {}
        description = str(info.get("description") or e).split(". Line ")[0]
        highlight = str(info.get("highlight") or "")
        line = int(info.get("line") or 1)
        end_col = int(info.get("col") or 1)
        col = end_col - len(highlight) + 1 if "\n" not in highlight else end_col
        near = f"'{highlight}'" if highlight else "the end of the statement"
        if description.startswith("Invalid expression / Unexpected token"):
            message = f"unexpected {near}"
        elif description.startswith("Expecting "):
            message = f"expected {description[len('Expecting ') :]} but found {near}"
        elif description.startswith("Expected "):
            message = f"{description[0].lower()}{description[1:]}, at {near}"
        elif description.startswith("Required keyword"):
            message = f"incomplete or malformed SQL at {near}"
        else:
            message = f"{description} (at {near})"
        offset = self._line_starts[min(line, len(self._line_starts)) - 1] + col - 1
        if self._ends_at(offset):
            message = f"the statement ends too early, after {near}"
            if description.startswith("Expecting "):
                message += f": expected {description[len('Expecting ') :]}"
        return ParseError(_short(message), line=line, col=max(col, 1), hint=self._hint(offset))

    def _ends_at(self, offset: int) -> bool:
        """Whether the token at offset is the last of its statement."""
        after = [t for t in self.tokens if t.start > offset]
        return not after or after[0].token_type == TokenType.SEMICOLON

    def _hint(self, offset: int) -> str | None:
        """'did you mean FROM' when the failing token or the one before is a misspelt keyword."""
        if self.sql[offset : offset + 1] == '"':
            return "Flink quotes strings with ' and names with `"
        index = next((i for i, t in enumerate(self.tokens) if t.start >= offset), len(self.tokens))
        for tok in self.tokens[max(index - 1, 0) : index + 1][::-1]:
            if tok.token_type != TokenType.VAR or tok.text.upper() in _KEYWORDS:
                continue
            match = difflib.get_close_matches(tok.text.upper(), _KEYWORDS, n=1, cutoff=0.75)
            if match:
                return f"did you mean {match[0]} instead of '{tok.text}'?"
        return None

    def pieces(self) -> list[Piece]:
        """The statements, as ``planner.split`` finds them, each with its tokens."""
        starts = [t.start for t in self.tokens]
        out: list[Piece] = []
        for span in split_script(self.sql):
            tokens = self.tokens[
                bisect.bisect_left(starts, span.start) : bisect.bisect_left(starts, span.end)
            ]
            if tokens:
                out.append(self.piece(tokens))
        return out

    def piece(self, tokens: list[Token]) -> Piece:
        start = tokens[0].start
        return Piece(tokens, self.sql[start : tokens[-1].end + 1], start)


def _short(message: str) -> str:
    """Keep messages one short line: sqlglot may quote a whole class path."""
    return message.replace("<class 'sqlglot.expressions.", "<").replace("'>", ">")
