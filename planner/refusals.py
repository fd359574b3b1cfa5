"""What the runtime cannot run, refused while planning: EXPLAIN refuses exactly what a job
would, with the construct and its position, before anything starts.

Each check is one function over the bound logical plan (what the user wrote, before the
rewrite rules); ``refuse`` runs them all. The runtime keeps no refusal of its own that a
plan could reach (``tests/unit/planner/test_refusals.py`` walks them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from planner.errors import UnsupportedError
from planner.logical import Aggregate, LogicalNode, WindowAssign


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


CHECKS: tuple[Callable[[LogicalNode], None], ...] = (
    retracting_aggregates,
    session_without_aggregation,
)


def refuse(root: LogicalNode) -> None:
    """Raise the first refusal of the plan under ``root``, if any."""
    for node in walk(root):
        for check in CHECKS:
            check(node)


