"""What every way of reading a statement shares: its tokens and words, its position, errors
at a token, and finding where a parsed node or a keyword is in the text.
"""

from __future__ import annotations

from typing import Self

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from catalog.errors import SqlStreamError
from planner import statements as st
from planner.errors import ParseError, UnsupportedError
from planner.script import Piece, Position, Script


class ReaderBase:
    """One statement's tokens, read by the layers above."""

    def __init__(self, script: Script, piece: Piece) -> None:
        self.script = script
        self.piece = piece
        self.tokens = piece.tokens
        self.words = [t.text.upper() if t.token_type != TokenType.STRING else "" for t in self.tokens]
        self.line, self.col = script.position(piece.start)

    # -- helpers --
    @property
    def pos(self) -> Position:
        """The statement's text and position, for a statement dataclass's keywords."""
        return {"sql": self.piece.text, "line": self.line, "col": self.col}

    def parse_error(
        self, message: str, at: Token | int | None = None, hint: str | None = None
    ) -> SqlStreamError:
        return self.script.error(ParseError, message, self.tokens[0] if at is None else at, hint)

    def unsupported(
        self, construct: str, at: Token | int | None = None, hint: str | None = None
    ) -> SqlStreamError:
        return self.script.error(
            UnsupportedError, f"{construct} is not supported", self.tokens[0] if at is None else at, hint
        )

    def starts(self, *words: str) -> bool:
        return tuple(self.words[: len(words)]) == words

    def sub(self, first: int, last: int | None = None) -> Self:
        tokens = self.tokens[first:last]
        return type(self)(self.script, self.script.piece(tokens))

    def statement(self) -> st.Statement:
        """The statement these tokens hold; the top layer (``planner.parse.Reader``) picks how."""
        raise NotImplementedError

    def node_token(self, node: exp.Expr) -> Token | int:
        """Where a node starts: the smallest offset sqlglot recorded in its subtree."""
        starts = [
            sub.meta["start"] for sub in node.walk() if sub.meta and isinstance(sub.meta.get("start"), int)
        ]
        return min(starts) if starts else self.tokens[0]

    def keyword_before(self, word: str, at: Token | int) -> Token | int:
        offset = at if isinstance(at, int) else at.start
        found: Token | int = at
        for tok in self.tokens:
            if tok.start > offset:
                break
            quoted = tok.token_type in (TokenType.STRING, TokenType.IDENTIFIER)
            if not quoted and tok.text.upper().split(" ")[0] == word:  # "PRIMARY KEY" is one token
                found = tok
        return found
