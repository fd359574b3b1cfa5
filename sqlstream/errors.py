"""How an error is shown to a person: the message, where it happened, a caret under the
spot, and a hint. Tracebacks only with ``--debug``."""

from __future__ import annotations

from catalog.errors import SqlStreamError


def format_error(error: BaseException, source: str | None = None, filename: str | None = None) -> str:
    """The text the CLI and REPL print for an error.

    >>> e = SqlStreamError("column 'prce' not found", line=2, col=9, hint="did you mean 'price'?")
    >>> print(format_error(e, "SELECT\\n  item, prce FROM bids"))
    Error: column 'prce' not found
      at line 2, column 9
      |   item, prce FROM bids
      |         ^
    Hint: did you mean 'price'?
    """
    if not isinstance(error, SqlStreamError):
        name = type(error).__name__
        return f"Internal error: {name}: {error}\n(run with --debug to see the traceback)"
    lines = [f"Error: {error.message}"]
    if error.line is not None:
        where = f"{filename}:" if filename else ""
        lines.append(f"  at {where}line {error.line}, column {error.col or 1}")
        if source is not None:
            src_lines = source.splitlines()
            if 0 < error.line <= len(src_lines):
                text = src_lines[error.line - 1].expandtabs(1)
                lines.append(f"  | {text}")
                lines.append(f"  | {' ' * max((error.col or 1) - 1, 0)}^")
    if error.hint:
        lines.append(f"Hint: {error.hint}")
    return "\n".join(lines)
