"""What the runtime cannot run, refused while planning: EXPLAIN refuses exactly what a job
would, with the construct and its position, before anything starts.

Each check is one function over the bound logical plan (what the user wrote, before the
rewrite rules); ``refuse`` runs them all. The runtime keeps no refusal of its own that a
plan could reach (``tests/unit/planner/test_refusals.py`` walks them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from planner.errors import UnsupportedError
from planner.logical import LogicalNode, Rank, WindowAssign


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


CHECKS: tuple[Callable[[LogicalNode], None], ...] = (
    session_without_aggregation,
    rank_without_range,
)


def refuse(root: LogicalNode) -> None:
    """Raise the first refusal of the plan under ``root``, if any."""
    for node in walk(root):
        for check in CHECKS:
            check(node)
