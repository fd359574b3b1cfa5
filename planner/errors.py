"""Errors the planner raises: all :class:`catalog.errors.SqlStreamError`, with a position.

>>> print(ParseError("unexpected 'FORM'", line=3, col=10, hint="did you mean 'FROM'?"))
unexpected 'FORM' (line 3, column 10)
Hint: did you mean 'FROM'?
"""

from __future__ import annotations

from catalog.errors import SqlStreamError


class ParseError(SqlStreamError):
    """SQL text we cannot read: a typo, a missing keyword, an unterminated string."""


class UnsupportedError(SqlStreamError):
    """Valid Flink SQL that sqlstream does not support (yet); the message names the construct."""


class PlanError(SqlStreamError):
    """A statement that parses but cannot be planned (wrong types, missing time attribute)."""
