"""Two-phase window aggregation (Flink's ``table.optimizer.agg-phase-strategy``).

A window aggregate over an exchange ships every input row to the subtask of its key. With
two phases, each producer subtask first aggregates the rows of each batch per key and
window slice (the local phase, Flink's LocalWindowAggregate, chained to the producer) and
the exchange ships those partial rows, one per key and slice of a batch, to the window
aggregate (the global phase, Flink's GlobalWindowAggregate), which merges them into its
state as it would its own per-batch partials. The planner marks the exchange
(``Edge.local_aggregate``); EXPLAIN shows the two phases under Flink's names.

Where it applies (as Flink's TwoStageOptimizedWindowAggregateRule): the strategy is not
ONE_PHASE (AUTO and TWO_PHASE both split), there is an exchange to save (parallelism > 1
somewhere on the edge), the windows are event-time TUMBLE, HOP or CUMULATE (sliced; a
processing-time window is cut where it is processed, a session window merges), and every
aggregate can merge partials: COUNT, SUM, MIN, MAX, AVG without DISTINCT. Not when the
late rows are kept in a table (``table.exec.late-rows.sink``): the global phase judges
lateness per partial row, as Flink's does, and a partial row is not the rows themselves.

The local phase keeps nothing between batches, so a checkpoint barrier finds it empty,
and a plan with two phases has the same operators (and restores the same state) as one
without: a job can be rescaled from parallelism 1 to 2 and back.
"""

from __future__ import annotations

from collections.abc import Mapping

from catalog.config import AGG_PHASE_STRATEGY, LATE_ROWS_SINK
from planner.physical import Edge, Partitioning, WindowAggregateSpec

MERGEABLE = ("count", "count_star", "sum", "min", "max", "avg")
"""The aggregates whose partial results merge into the whole's (no DISTINCT)."""


def two_phase(spec: WindowAggregateSpec, edge: Edge, config: Mapping[str, str]) -> bool:
    """Whether the window aggregate ``spec`` reading ``edge`` runs in two phases.

    >>> from planner.physical import AggCall
    >>> from planner.window import Window
    >>> spec = WindowAggregateSpec(Window("tumble", "ts", size_ms=1000), ("k",),
    ...                            (AggCall("n", "count_star", None, "BIGINT"),))
    >>> hashed = Edge(1, Partitioning.HASH, ("k",))
    >>> two_phase(spec, hashed, {}), two_phase(spec, Edge(1), {})
    (True, False)
    >>> two_phase(spec, hashed, {"table.optimizer.agg-phase-strategy": "ONE_PHASE"})
    False
    """
    if AGG_PHASE_STRATEGY.get(config) == "ONE_PHASE" or edge.partitioning == Partitioning.FORWARD:
        return False
    window = spec.window
    if window.proctime or window.type not in ("tumble", "hop", "cumulate"):
        return False
    if LATE_ROWS_SINK.get(config):
        return False
    return all(a.func in MERGEABLE and not a.distinct for a in spec.aggs)
