"""Rows a Python function raised on, kept instead of failing the job:
``SET 'table.exec.udf-errors.sink' = '<table>'`` (Flink has no such option: a failing
function fails its job; our name follows ``table.exec.late-rows.sink``). The same policy
takes the rows an integer or DECIMAL division (or ``%``) by zero fails on, the one row
value that fails a Flink job in a projection or filter: unset, the job fails, as Flink's.

Every operator of an INSERT job that calls a Python function row by row or per batch in
its projection or filter (a Calc, an Expand) or as a table function (a Correlate), or
divides in its projection or filter (a Calc), then sends the input rows the function raised
on (or the division failed on: function ``/``) to its *udf-errors output*, and the job goes
on without them (the binder computes aggregate arguments that call one in a Calc below the
aggregate, as Flink projects them; a join condition over both sides is refused by name);
the planner adds a side sink (``planner.side_sinks``) fed by those outputs, so they land
in the user's table with:

    operator  STRING  the operator, e.g. 'Calc#2'
    function  STRING  the function that raised
    input     STRING  the operator's input row, its columns as a JSON object
    error     STRING  the exception and the function's own traceback

``SET 'table.exec.udf-errors.ignore' = 'true'`` drops those rows instead (counted in the
``udf_errors`` metric, as ``json.ignore-parse-errors`` drops and counts a bad record); it
needs no side sink, so it covers queries too. Setting both is refused.

A function that raises on a row raises on it again when the job replays it after a
restore, so the side sink's rows are as deterministic as the job's own and are written
exactly once on a transactional connector. Python aggregate functions are not covered:
their accumulator state could not be told apart from a half-folded row, so they still
fail the job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from catalog.config import UDF_ERRORS_SINK
from catalog.table import TableDef
from planner.errors import PlanError
from planner.numeric import DIVISION_BY_ZERO
from planner.physical import UDF_ERRORS_FIELDS, UDF_ERRORS_OUTPUT, CalcSpec, CorrelateSpec, ExpandSpec, Node
from planner.side_sinks import side_sink_nodes


def calls_python(node: Node, functions: Sequence[str]) -> bool:
    """Whether an operator calls one of ``functions``, or divides, in a way whose failures
    it can route."""
    spec = node.spec
    if isinstance(spec, CorrelateSpec):
        return spec.function is not None or any(_calls(a, functions) for a in spec.args)
    if isinstance(spec, CalcSpec):
        sql = (*(e for _, e in spec.common), *(e for _, e in spec.projections), spec.condition or "")
        return any(_calls(e, functions) or DIVISION_BY_ZERO in e for e in sql)
    if isinstance(spec, ExpandSpec):
        return any(_calls(e, functions) for row in spec.projections for _, e in row)
    return False


def check_covered(nodes: Sequence[Node], functions: Sequence[str], key: str) -> None:
    """Refuse a plan in which an operator that cannot route the rows a function raised on
    (a join's condition over both sides, ...) calls one of ``functions`` while ``key``
    (``table.exec.udf-errors.sink`` or ``.ignore``) promises that the job goes on. The
    binder computes aggregate arguments and one-sided join conditions in Calcs, so this is
    left to what reads both sides of a join at once."""
    for node in nodes:
        if isinstance(node.spec, CalcSpec | CorrelateSpec | ExpandSpec):
            continue
        called = [f for f in functions if _calls(repr(node.spec), [f])]
        if called:
            raise PlanError(
                f"'{key}' cannot go on without the rows function {called[0]} raises on in "
                f"{node.name.split('(')[0]} #{node.id}: only a projection, a filter or a table "
                "function can leave a row out",
                hint="compute the function in a subquery below the join, e.g. "
                "(SELECT *, f(x) AS fx FROM t), and use its column",
            )


def _calls(sql: str, functions: Sequence[str]) -> bool:
    return any(re.search(rf"\b{re.escape(f)}\s*\(", sql, re.IGNORECASE) for f in functions)


def udf_errors_nodes(
    nodes: tuple[Node, ...], functions: Sequence[str], table: TableDef, config: Mapping[str, str]
) -> tuple[Node, ...]:
    """The nodes that carry the failed rows of every operator of ``nodes`` that calls one of
    the scalar or table ``functions`` into ``table``. Empty when none does."""
    producers = [n for n in nodes if calls_python(n, functions)]
    key = UDF_ERRORS_SINK.name
    return side_sink_nodes(
        nodes, producers, UDF_ERRORS_OUTPUT, UDF_ERRORS_FIELDS, table, config, key, "udf-errors", None
    )
