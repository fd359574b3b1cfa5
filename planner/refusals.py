"""What the runtime cannot run, refused while planning: EXPLAIN refuses exactly what a job
would, with the construct and its position, before anything starts.

Each check is one function over the bound logical plan (what the user wrote, before the
rewrite rules); ``refuse`` runs them all. The runtime keeps no refusal of its own that a
plan could reach (``tests/unit/planner/test_refusals.py`` walks them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from planner.errors import UnsupportedError
from planner.internal_names import reserved
from planner.logical import (
    Aggregate,
    BatchOver,
    Calc,
    Collect,
    Correlate,
    Join,
    LogicalNode,
    LookupJoin,
    Match,
    OverAggregate,
    Rank,
    Scan,
    Sink,
    Sort,
    Union,
    Values,
    WatermarkAssigner,
    WindowAssign,
)
from planner.physical import ROW_KIND_COLUMN


def walk(node: LogicalNode) -> Iterator[LogicalNode]:
    yield node
    for child in node.inputs:
        yield from walk(child)


def session_without_aggregation(node: LogicalNode) -> None:
    """A SESSION window's bounds are known only once the session closes, so its TVF is
    only runnable under a window aggregation (GROUP BY window_start, window_end)."""
    if isinstance(node, WindowAssign) and node.window.type == "session":
        raise UnsupportedError(
            "a SESSION window table function must be followed by an aggregation",
            hint="GROUP BY window_start, window_end (and the keys) over the SESSION TVF",
        ).with_position(node.line, node.col)


def rank_without_range(node: LogicalNode) -> None:
    """``ROW_NUMBER() OVER`` runs only as Flink runs it on a stream: as Top-N or
    deduplication, bounded by a filter on its result in the query around it."""
    if isinstance(node, Rank) and node.end is None:
        raise UnsupportedError(
            "ROW_NUMBER() OVER (...) is only supported for Top-N and deduplication",
            hint="rank in a subquery and filter the rank around it: SELECT * FROM (SELECT *, "
            "ROW_NUMBER() OVER (PARTITION BY k ORDER BY t) AS rn FROM x) WHERE rn <= N",
        ).with_position(node.line, node.col)


# nodes whose operators run no statement over their rows' columns by name in DuckDB beside
# columns of their own (a Calc's expressions are the user's; a union passes batches on)
_PASSING = (Scan, Values, Calc, WatermarkAssigner, Union, Sink, Collect)
_CONSTRUCTS = {
    Aggregate: "an aggregation",
    Join: "a join",
    LookupJoin: "a lookup join",
    Correlate: "a table function",
    OverAggregate: "an OVER aggregation",
    BatchOver: "an OVER aggregation",
    Rank: "a Top-N or deduplication",
    Match: "MATCH_RECOGNIZE",
    Sort: "ORDER BY",
    WindowAssign: "a window table function",
}


def internal_column_name(node: LogicalNode) -> None:
    """A column named as one of the runtime's own (``__id``, ``__seq``: see
    ``planner.internal_names``) would be mistaken for it inside a stateful operator's
    statements and give a wrong answer; it is refused by name, with the way around it.
    ``__row_kind`` is a batch's row kinds in every operator and sink: refused anywhere.
    Checked after the rewrite rules (``refuse_rewritten``): a column the query does not
    read has been pruned away by then and is no reason to refuse."""
    passing = isinstance(node, _PASSING)
    names = [f.name for f in node.fields] + [f.name for child in node.inputs for f in child.fields]
    for name in names:
        if name.lower() == ROW_KIND_COLUMN if passing else reserved(name):
            construct = next((v for k, v in _CONSTRUCTS.items() if isinstance(node, k)), "this query")
            raise UnsupportedError(
                f"column name '{name}' in {construct}: sqlstream uses the name for a column of its own",
                hint=f"rename the column in a subquery or view first: SELECT `{name}` AS some_name, ...",
            ).with_position(*_position(node))


def _position(node: LogicalNode) -> tuple[int | None, int | None]:
    """Where the node's construct was written, if the plan kept it."""
    if isinstance(node, Aggregate) and node.aggs:
        return node.aggs[0].line, node.aggs[0].col
    return getattr(node, "line", None), getattr(node, "col", None)


CHECKS: tuple[Callable[[LogicalNode], None], ...] = (
    session_without_aggregation,
    rank_without_range,
)


def refuse(root: LogicalNode) -> None:
    """Raise the first refusal of the plan under ``root``, if any."""
    for node in walk(root):
        for check in CHECKS:
            check(node)


def refuse_rewritten(root: LogicalNode) -> None:
    """Raise the first refusal of the rewritten plan under ``root``: the checks that
    look at the columns each operator really gets."""
    for node in walk(root):
        internal_column_name(node)
