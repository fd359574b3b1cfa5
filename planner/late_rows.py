"""Late rows kept, not lost: ``SET 'table.exec.late-rows.sink' = '<table>'``.

A window operator drops the rows that arrive behind the watermark for windows that
already fired (Flink does the same, and counts them in ``numLateRecordsDropped``), and an
interval join the rows behind the watermark, whose partners may have left its state.
With this key set, every window aggregate and interval join of an INSERT job also sends
the rows it drops to its *late-rows output*, and the planner adds a second sink fed by that output, so they
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
from catalog.connectors import ChangelogMode, Guarantee, configure_table, table_info
from catalog.options import parse_int
from catalog.table import TableDef
from catalog.types import parse_type
from planner.errors import PlanError
from planner.physical import (
    LATE_ROWS_FIELDS,
    LATE_ROWS_OUTPUT,
    CalcSpec,
    Edge,
    Field,
    IntervalJoinSpec,
    Node,
    OperatorSpec,
    Partitioning,
    SinkSpec,
    UnionSpec,
    WindowAggregateSpec,
    WindowJoinSpec,
)
from planner.physical_planner import delivery_guarantee, exactly_once_mode


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_columns(table: TableDef) -> tuple[Field, ...]:
    """The table's columns, each one of ``LATE_ROWS_FIELDS`` with a type that fits."""
    known = {f.name: f for f in LATE_ROWS_FIELDS}
    names = ", ".join(f"{f.name} {f.type}" for f in LATE_ROWS_FIELDS)
    columns = table.schema.physical
    if not columns:
        raise PlanError(f"the late-rows table '{table.name}' has no columns", hint=f"declare {names}")
    out = []
    for c in columns:
        want = known.get(c.name.lower())
        if want is None:
            raise PlanError(
                f"the late-rows table '{table.name}' has a column '{c.name}' that late rows do not have",
                hint=f"its columns can be {names}",
            )
        ok = c.type.is_string if want.type == "STRING" else c.type.is_timestamp
        if not ok:
            raise PlanError(
                f"column '{c.name}' of the late-rows table '{table.name}' is {c.type.sql()}, "
                f"but late rows give {want.type}",
                hint=f"declare it as {want.type}",
            )
        out.append(Field(c.name, c.type.sql()))
    return tuple(out)


def late_rows_nodes(
    nodes: tuple[Node, ...], table: TableDef, config: Mapping[str, str]
) -> tuple[Node, ...]:
    """The nodes that carry the late rows of every window aggregate of ``nodes`` into
    ``table``: (a Union of the late-rows outputs when there are several,) a Calc that
    picks and casts the table's columns, and the Sink. Empty when no operator drops late
    rows (a job without event-time windows or interval joins). The table is checked, and its guarantee
    decided, as for any sink of the job (``config``: the job's configuration)."""
    windows = [
        n
        for n in nodes
        if (isinstance(n.spec, WindowAggregateSpec) and not n.spec.window.proctime)
        or isinstance(n.spec, IntervalJoinSpec | WindowJoinSpec)
    ]
    if not windows:
        return ()
    spec, connector_config = configure_table(table_info(table))
    if not spec.sink:
        raise PlanError(
            f"'{LATE_ROWS_SINK.name}' names table '{table.name}', whose connector "
            f"'{spec.name}' can only be read",
            hint="name a table of a sink connector (filesystem, kafka, jdbc, print, ...)",
        )
    if spec.requires_primary_key:
        raise PlanError(
            f"'{LATE_ROWS_SINK.name}': connector '{spec.name}' of table '{table.name}' needs a "
            "PRIMARY KEY and late rows have none",
            hint="use an append-only table",
        )
    columns = _check_columns(table)
    connector_config.check_sink(table_info(table), spec.requested_guarantee(table.options), config)
    next_id = max(n.id for n in nodes) + 1
    added: list[Node] = []
    p = max(w.parallelism for w in windows)

    Fields = tuple[Field, ...]

    def add(name: str, op: OperatorSpec, inputs: tuple[Edge, ...], fields: Fields, par: int) -> Node:
        node = Node(next_id + len(added), name, op, inputs, fields, par, ChangelogMode.INSERT_ONLY)
        added.append(node)
        return node

    def late_edge(w: Node, par: int) -> Edge:
        mode = Partitioning.FORWARD if w.parallelism == par else Partitioning.REBALANCE
        return Edge(w.id, mode, output=LATE_ROWS_OUTPUT)

    if len(windows) == 1:
        feed = late_edge(windows[0], p)
    else:
        union = add("Union(LateRows)", UnionSpec(), tuple(late_edge(w, p) for w in windows),
                    LATE_ROWS_FIELDS, p)  # fmt: skip
        feed = Edge(union.id)
    projections = tuple(
        (c.name, f"CAST({_q(c.name.lower())} AS {parse_type(c.type).duckdb()})") for c in columns
    )
    calc = add("Calc(LateRows)", CalcSpec(projections), (feed,), columns, p)
    guarantee = delivery_guarantee(spec.name, table.options, config)
    mode, nondeterminism = "", None
    if guarantee == Guarantee.EXACTLY_ONCE and spec.exactly_once_modes:
        # Which rows are late depends on how they arrive against the watermark, which a
        # replay may order differently: epoch mode could not tell its replay from new rows.
        nondeterminism = (
            f"the late-rows table '{table.name}' takes the rows that arrived behind the watermark, "
            "which a replay may order differently"
        )
        mode = exactly_once_mode(spec, table.name, table.options, nondeterminism)
    sink = SinkSpec(
        table=table.name,
        connector=spec.name,
        options=dict(table.options),
        columns=columns,
        primary_key=(),
        guarantee=guarantee,
        exactly_once_mode=mode,
        replay_nondeterminism=nondeterminism,
    )
    par = p
    if "sink.parallelism" in table.options:
        par = parse_int(table.options["sink.parallelism"], "sink.parallelism")
    mode = Partitioning.FORWARD if par == p else Partitioning.REBALANCE
    add(f"Sink({table.name})", sink, (Edge(calc.id, mode),), columns, par)
    return tuple(added)
