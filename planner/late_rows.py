"""Late rows kept, not lost: ``SET 'table.exec.late-rows.sink' = '<table>'``.

A window operator drops the rows that arrive behind the watermark for windows that
already fired, an OVER aggregate those behind the watermark (Flink does the same, and
counts them in ``numLateRecordsDropped``), and an interval or window join the rows behind
the watermark, whose partners may have left its state. With this key set, every
event-time window aggregate, window Top-N, OVER aggregate, interval join and window join
of an INSERT job also sends the rows it drops to its *late-rows output*, and the planner
adds a second sink fed by that output, so they
land in the user's table with:

    operator        STRING        the operator that dropped it, e.g. 'WindowAggregate#3'
    event_time      TIMESTAMP(3)  the row's event time
    watermark_time  TIMESTAMP(3)  the operator's watermark when it dropped the row
    row_json        STRING        the row itself, its columns as a JSON object

The table declares any of these columns, in any order, under these names; a column it
does not declare is left out. The side sink is an ordinary sink of the job: it takes
part in checkpoints, so on a transactional connector (Kafka, PostgreSQL, files) late
rows are written exactly once too. An interactive SELECT (no sink to side with) keeps
dropping and counting them.
"""

from __future__ import annotations

from collections.abc import Mapping

from catalog.config import LATE_ROWS_SINK
from catalog.table import TableDef
from planner.physical import (
    LATE_ROWS_FIELDS,
    LATE_ROWS_OUTPUT,
    IntervalJoinSpec,
    MatchSpec,
    Node,
    OverAggregateSpec,
    WindowAggregateSpec,
    WindowJoinSpec,
    WindowRankSpec,
)
from planner.side_sinks import side_sink_nodes


def drops_late_rows(node: Node) -> bool:
    """Whether ``node`` drops rows behind the watermark: event-time window aggregates and
    window Top-N, OVER aggregates, interval and window joins."""
    spec = node.spec
    if isinstance(spec, WindowAggregateSpec | WindowRankSpec):
        return not spec.window.proctime
    return isinstance(spec, OverAggregateSpec | MatchSpec | IntervalJoinSpec | WindowJoinSpec)


def late_rows_nodes(
    nodes: tuple[Node, ...], table: TableDef, config: Mapping[str, str]
) -> tuple[Node, ...]:
    """The nodes that carry the late rows of every operator of ``nodes`` that drops them into
    ``table`` (see ``planner.side_sinks``). Empty when no operator drops late rows (a job
    without event-time windows or time-bounded joins)."""
    windows = [n for n in nodes if drops_late_rows(n)]
    # Which rows are late depends on how they arrive against the watermark, which a
    # replay may order differently: epoch mode could not tell its replay from new rows.
    why = (
        f"the late-rows table '{table.name}' takes the rows that arrived behind the watermark, "
        "which a replay may order differently"
    )
    return side_sink_nodes(
        nodes, windows, LATE_ROWS_OUTPUT, LATE_ROWS_FIELDS, table, config, LATE_ROWS_SINK.name, "late", why
    )
