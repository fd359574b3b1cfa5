"""Errors a user can cause, with where they happened and what to do.

Every layer raises a subclass of :class:`SqlStreamError`; the CLI and REPL print its
``str()`` (message, position, hint) and never a traceback unless ``--debug``.
The base lives in ``catalog`` because it is the bottom layer: every other package may
import it, and it imports nothing of ours.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SqlStreamError(Exception):
    """A problem the user can fix: says what, where (line/column) and how."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        self.hint = hint

    def with_position(self, line: int | None, col: int | None) -> SqlStreamError:
        """Attach a position if the error does not know one yet (callers know the statement)."""
        if self.line is None and line is not None:
            self.line, self.col = line, col
        return self

    def __str__(self) -> str:
        text = self.message
        if self.line is not None:
            text += f" (line {self.line}, column {self.col or 1})"
        if self.hint:
            text += f"\nHint: {self.hint}"
        return text


class CatalogError(SqlStreamError):
    """A missing, duplicate or invalid table, view or function."""


class OptionError(SqlStreamError):
    """A WITH option or SET key that is unknown, missing or has a bad value."""


class TypeParseError(SqlStreamError):
    """A data type written in a form we do not understand."""


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelled name, for "did you mean" hints."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint sentence suggesting the closest candidate, or None."""
    best = closest(name, candidates)
    return f"did you mean '{best}'?" if best else None
