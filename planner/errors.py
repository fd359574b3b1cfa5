"""Errors the planner raises: all :class:`catalog.errors.SqlStreamError`, with a position.

>>> print(ParseError("unexpected 'FORM'", line=3, col=10, hint="did you mean 'FROM'?"))
unexpected 'FORM' (line 3, column 10)
Hint: did you mean 'FROM'?
"""

from __future__ import annotations

from sqlglot import exp

from catalog.errors import SqlStreamError


class ParseError(SqlStreamError):
    """SQL text we cannot read: a typo, a missing keyword, an unterminated string."""


class UnsupportedError(SqlStreamError):
    """Valid Flink SQL that sqlstream does not support (yet); the message names the construct.

    Most refusals name only the construct ("JOIN ... USING"), which alone does not say
    that it was refused; such a message is led by "not supported:" here, once, so that
    every refusal reads the same wherever it is raised.

    >>> print(UnsupportedError("JOIN ... USING", line=1, col=20))
    not supported: JOIN ... USING (line 1, column 20)
    >>> print(UnsupportedError("FULL temporal joins are not supported"))
    FULL temporal joins are not supported
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        if "support" not in message.lower():
            message = f"not supported: {message}"
        super().__init__(message, line=line, col=col, hint=hint)


class PlanError(SqlStreamError):
    """A statement that parses but cannot be planned (wrong types, missing time attribute)."""


def position(node: exp.Expr) -> tuple[int | None, int | None]:
    """Line and column of a node, from the token meta sqlglot keeps on identifiers."""
    for sub in node.walk():
        meta = sub.meta if isinstance(sub, exp.Expr) else {}
        if "line" in meta:
            return meta["line"], meta.get("col")
    return None, None
