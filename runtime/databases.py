"""The operators' in-memory DuckDB databases, opened ahead while a job builds.

DESIGN.md gives each stateful subtask a database of its own, and a Calc that runs a query
gets a connection of its own. Opening an in-memory database costs ~13-25 ms of CPU (DuckDB
builds its catalog of functions). The operators opened theirs in ``open``, when the sources
had begun reading on both cores. Nexmark q3 and q8 open three each.

Before a job builds its graph (``graph.build``), it counts the databases its operators will
open (``opens_database``) and starts opening them on a thread of their own (``open_ahead``).
The job's event loop then spends ~60 ms importing the operators' modules and building, on
one core, and the other core is idle. DuckDB releases the GIL while it opens a database, so
that core opens them. An operator's ``open`` then takes one already open (``open_database``).

The answer of ``opens_database`` decides only when the databases are opened, never which
database an operator gets: every one is new and empty. A database opened ahead that no
operator takes stays for the next job in the process. An operator that finds none opens
its own.
"""

from __future__ import annotations

import queue
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from planner.physical import CalcSpec, CorrelateSpec, LookupJoinSpec, Node, PhysicalPlan, WindowAssignSpec
from runtime.batches import column_named

if TYPE_CHECKING:
    import duckdb

_OPENER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duckdb-open")
_AHEAD: queue.SimpleQueue[Future[duckdb.DuckDBPyConnection]] = queue.SimpleQueue()

#: The operator kinds that open a database in every subtask's ``open``: keyed state, or a
#: query for every batch.
_EVERY_SUBTASK = frozenset(
    {
        "expand",
        "window_aggregate",
        "group_aggregate",
        "changelog_normalize",
        "sink_materializer",
        "join",
        "rank",
        "over_aggregate",
        "match",
        "batch_over",
        "batch_query",
        "window_rank",
        "interval_join",
        "window_join",
        "temporal_join",
        "sort",
    }
)


def _open() -> duckdb.DuckDBPyConnection:
    import duckdb  # a job that computes nothing (a source into a sink) never imports it

    return duckdb.connect(":memory:", config={"threads": 1})


def open_database() -> duckdb.DuckDBPyConnection:
    """A new in-memory database that runs each query on one thread (the job's thread pool
    runs the subtasks' queries side by side): one opened ahead, or else one opened now."""
    try:
        ahead = _AHEAD.get_nowait()
    except queue.Empty:
        return _open()
    return ahead.result()


def open_ahead(count: int) -> None:
    """Start opening databases until ``count`` are open or opening and not yet taken."""
    missing = count - _AHEAD.qsize()
    if missing <= 0:
        return
    import duckdb  # noqa: F401 - here, not beside the job's own imports on the opener's thread

    for _ in range(missing):
        _AHEAD.put(_OPENER.submit(_open))


def opens_database(node: Node, plan: PhysicalPlan) -> bool:
    """Whether the operator of ``node`` opens a database in ``open``, as its ``open``
    decides it. A Calc runs no query when it only selects columns, or calls Python
    functions on them (``CalcOp._direct``, which may not apply: then it opens one
    unannounced)."""
    spec = node.spec
    if node.kind in _EVERY_SUBTASK:
        return True
    if isinstance(spec, CalcSpec):
        if spec.condition or spec.common:
            return True
        plain = all(column_named(expr) is not None for _, expr in spec.projections)
        return not plain and not plan.functions
    if isinstance(spec, CorrelateSpec):
        return not all(column_named(arg) is not None for arg in spec.args)
    if isinstance(spec, LookupJoinSpec):
        return bool(spec.residual)
    if isinstance(spec, WindowAssignSpec):
        return spec.window.type != "session"  # which its ``open`` refuses
    return False
