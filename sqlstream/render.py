"""Rendering results as text: tables (tabulate), Flink-style changelog rows, messages.

Shared by the batch CLI and the REPL, so a statement prints the same way in both.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Any

ROW_KINDS = ("+I", "-U", "+U", "-D")


class Multiset(list[Any]):
    """A MULTISET value (COLLECT's): its elements with repetitions, as a list; printed as
    Flink's SQL client prints one, each distinct element with its count: ``{14=1, 81=2}``."""


class Float32(float):
    """A FLOAT value (4 bytes): it prints with the fewest digits that read back as that
    float, as Java's ``Float.toString`` does (``0.1``, not the double's ``0.10000000149011612``)."""


def format_value(value: Any, max_width: int | None = None) -> str:
    """A value as Flink's SQL client prints it: NULL as <NULL>, timestamps with a space,
    DOUBLE and FLOAT as Java's ``toString`` (``2.0E30``, ``NaN``), as CAST(x AS STRING) does."""
    if value is None:
        text = "<NULL>"
    elif isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, dt.datetime):  # a TIMESTAMP_LTZ: its wall time in its zone
        text = value.replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")
    elif isinstance(value, decimal.Decimal):
        text = format(value, "f")
    elif isinstance(value, bytes):
        text = "x'" + value.hex() + "'"
    elif isinstance(value, float):
        from runtime.formats.java_text import java_float  # numpy: not for a job's start-up

        text = java_float(value, single=isinstance(value, Float32))
    elif isinstance(value, list | dict):
        text = _nested(value)
    else:
        text = str(value)
    if max_width is not None and len(text) > max_width:
        text = text[: max(max_width - 3, 1)] + "..."
    return text


def _nested(value: Any) -> str:
    """An ARRAY, MAP or ROW value as Flink prints one: ``[1, NULL]``, ``{a=1}``, ``(1, a)``
    (Arrow gives a MAP as a list of key-value tuples, a ROW as a dict)."""
    if value is None:
        return "NULL"
    if isinstance(value, Multiset):
        counts: dict[str, int] = {}
        for x in value:
            counts[_nested(x)] = counts.get(_nested(x), 0) + 1
        return "{" + ", ".join(f"{x}={n}" for x, n in counts.items()) + "}"
    if isinstance(value, list):
        if value and all(isinstance(x, tuple) and len(x) == 2 for x in value):
            return "{" + ", ".join(f"{_nested(k)}={_nested(v)}" for k, v in value) + "}"
        return "[" + ", ".join(_nested(x) for x in value) + "]"
    if isinstance(value, dict):
        return "(" + ", ".join(_nested(v) for v in value.values()) + ")"
    return format_value(value)


def render_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    max_width: int | None = 30,
    full_width: Sequence[str] = (),
) -> str:
    """A boxed table like psql/DuckDB's shell, with a row count. Values of the
    ``full_width`` columns are never cut (an address cut short is no address)."""
    from tabulate import tabulate  # only where a table is shown, not for a job's start-up

    widths = [None if c in full_width else max_width for c in columns]
    body = [[format_value(v, w) for v, w in zip(row, widths)] for row in rows]
    text = tabulate(body, headers=list(columns), tablefmt="psql", disable_numparse=True)
    if not rows:
        text = tabulate([], headers=list(columns), tablefmt="psql")
    count = len(rows)
    return f"{text}\n{count} row{'s' if count != 1 else ''} in set"


def render_changelog_row(kind: int, row: Sequence[Any]) -> str:
    return f"{ROW_KINDS[kind]}[{', '.join(format_value(v) for v in row)}]"
