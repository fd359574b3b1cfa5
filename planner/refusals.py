"""What the runtime cannot run, refused while planning: EXPLAIN refuses exactly what a job
would, with the construct and its position, before anything starts.

Each check is one function over the bound logical plan (what the user wrote, before the
rewrite rules); ``refuse`` runs them all. The runtime keeps no refusal of its own that a
plan could reach (``tests/unit/planner/test_refusals.py`` walks them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from catalog.connectors import FORMATS, NESTED_TYPES, connector_spec
from catalog.table import TableDef
from catalog.types import DataType
from planner.errors import UnsupportedError
from planner.logical import Aggregate, LogicalNode, Scan, Sink, WindowAssign


def walk(node: LogicalNode) -> Iterator[LogicalNode]:
    yield node
    for child in node.inputs:
        yield from walk(child)


def retracting_aggregates(node: LogicalNode) -> None:
    """MIN, MAX and DISTINCT keep no per-value state that a retraction could undo: over an
    updating input (a GROUP BY over a GROUP BY, an upsert source) they would be wrong."""
    if not isinstance(node, Aggregate) or node.window is not None or not node.input.updating:
        return
    for agg in node.aggs:
        line, col = agg.line, agg.col
        if agg.func in ("min", "max"):
            raise UnsupportedError(
                f"{agg.text or agg.func.upper()}: {agg.func.upper()} over an updating input "
                "(retractions) is not supported",
                hint="aggregate an insert-only stream, or use COUNT/SUM/AVG",
            ).with_position(line, col)
        if agg.distinct:
            raise UnsupportedError(
                f"{agg.text or agg.func.upper()}: {agg.func.upper()}(DISTINCT ...) over an "
                "updating input (retractions) is not supported",
                hint="aggregate an insert-only stream, or drop DISTINCT",
            ).with_position(line, col)


def session_without_aggregation(node: LogicalNode) -> None:
    """A SESSION window's bounds are known only once the session closes, so its TVF is
    only runnable under a window aggregation (GROUP BY window_start, window_end)."""
    if isinstance(node, WindowAssign) and node.window.type == "session":
        raise UnsupportedError(
            "a SESSION window table function must be followed by an aggregation",
            hint="GROUP BY window_start, window_end (and the keys) over the SESSION TVF",
        ).with_position(node.line, node.col)


def column_types(node: LogicalNode) -> None:
    """A table's columns must be of types its connector and formats can carry: a csv
    record has no nested values, PostgreSQL has no MAP or ROW."""
    if isinstance(node, Scan):
        _check_table(node.table, "source")
    elif isinstance(node, Sink):
        _check_table(node.table, "sink")


def _check_table(table: TableDef, role: str) -> None:
    spec = connector_spec(table.connector)
    columns = [(c.name, c.type) for c in table.schema.physical]
    if spec.carries is not None:
        for name, t in columns:
            if not spec.carries(t):
                raise UnsupportedError(
                    f"table '{table.name}': column '{name}' has type {t.sql()}, which the "
                    f"'{spec.name}' {role} cannot carry",
                    hint="declare a supported type (numbers, strings, bytes, dates, times, "
                    "timestamps, arrays of those), e.g. JSON text for maps and rows",
                )
    for fkey in spec.format_keys:
        fmt = FORMATS.get(table.options.get(fkey, "").lower())
        if fmt is None:
            continue
        carried = _format_columns(table, fkey, columns)
        if not fmt.nested_types:
            for name, t in carried:
                if t.name in NESTED_TYPES:
                    raise UnsupportedError(
                        f"table '{table.name}': the {fmt.name} format cannot represent column "
                        f"'{name}' of type {t.sql()}",
                        hint="use the json format for nested types",
                    )
        if fmt.one_column_of and (len(carried) != 1 or carried[0][1].name not in fmt.one_column_of):
            cols = ", ".join(f"{n} {t.sql()}" for n, t in carried)
            raise UnsupportedError(
                f"table '{table.name}': the {fmt.name} format ('{fkey}') needs exactly one column "
                f"of a string, binary or numeric type; it would carry: {cols or 'none'}",
            )


def _format_columns(
    table: TableDef, fkey: str, columns: list[tuple[str, DataType]]
) -> list[tuple[str, DataType]]:
    """The columns a table's format option ``fkey`` encodes: a Kafka key format its key
    fields (upsert-kafka: the primary key), a value format the rest when
    'value.fields-include' = 'EXCEPT_KEY', otherwise every physical column."""
    options = table.options
    if table.connector.lower() == "upsert-kafka":
        keys = set(table.schema.primary_key)
    else:
        keys = {k.strip() for k in options.get("key.fields", "").split(";") if k.strip()}
    if fkey == "key.format":
        return [(n, t) for n, t in columns if n in keys]
    if options.get("value.fields-include", "ALL").upper() == "EXCEPT_KEY":
        return [(n, t) for n, t in columns if n not in keys]
    return columns


CHECKS: tuple[Callable[[LogicalNode], None], ...] = (
    retracting_aggregates,
    session_without_aggregation,
    column_types,
)


def refuse(root: LogicalNode) -> None:
    """Raise the first refusal of the plan under ``root``, if any."""
    for node in walk(root):
        for check in CHECKS:
            check(node)


