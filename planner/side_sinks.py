"""Side sinks: a second sink of a job fed by another output of some of its operators
(the rows window operators drop as late, ``planner.late_rows``; the rows a Python function
failed on, ``planner.udf_errors``).

The table declares any of the output's columns, in any order, under their names; a column
it does not declare is left out. The side sink is an ordinary sink of the job: it takes
part in checkpoints, so on a transactional connector (Kafka, PostgreSQL, files) its rows
are written exactly once too.
"""

from __future__ import annotations

from collections.abc import Mapping

from catalog.connectors import ChangelogMode, Guarantee, configure_table, table_info
from catalog.options import parse_int
from catalog.table import TableDef
from catalog.types import parse_type
from planner.errors import PlanError
from planner.physical import (
    CalcSpec,
    Edge,
    Field,
    Node,
    OperatorSpec,
    Partitioning,
    SinkSpec,
    UnionSpec,
)
from planner.physical_planner import delivery_guarantee, exactly_once_mode
from planner.plain_duckdb import quote


def _check_columns(table: TableDef, fields: tuple[Field, ...], what: str) -> tuple[Field, ...]:
    """The table's columns, each one of ``fields`` with a type that fits."""
    known = {f.name: f for f in fields}
    names = ", ".join(f"{f.name} {f.type}" for f in fields)
    columns = table.schema.physical
    if not columns:
        raise PlanError(f"the {what}-rows table '{table.name}' has no columns", hint=f"declare {names}")
    out = []
    for c in columns:
        want = known.get(c.name.lower())
        if want is None:
            raise PlanError(
                f"the {what}-rows table '{table.name}' has a column '{c.name}' that {what} rows do not have",
                hint=f"its columns can be {names}",
            )
        ok = c.type.is_string if want.type == "STRING" else c.type.is_timestamp
        if not ok:
            raise PlanError(
                f"column '{c.name}' of the {what}-rows table '{table.name}' is {c.type.sql()}, "
                f"but {what} rows give {want.type}",
                hint=f"declare it as {want.type}",
            )
        out.append(Field(c.name, c.type.sql()))
    return tuple(out)


def side_sink_nodes(
    nodes: tuple[Node, ...],
    producers: list[Node],
    output: int,
    fields: tuple[Field, ...],
    table: TableDef,
    config: Mapping[str, str],
    key: str,
    what: str,
    nondeterminism: str | None,
) -> tuple[Node, ...]:
    """The nodes that carry output ``output`` (whose columns are ``fields``) of every node
    of ``producers`` into ``table``: (a Union when there are several,) a Calc that picks
    and casts the table's columns, and the Sink. Empty without producers. The table is
    checked, and its guarantee decided, as for any sink of the job (``config``: the job's
    configuration; ``key``: the setting that named the table; ``nondeterminism``: why
    its rows may differ on a replay, or None)."""
    if not producers:
        return ()
    spec, connector_config = configure_table(table_info(table))
    if not spec.sink:
        raise PlanError(
            f"'{key}' names table '{table.name}', whose connector '{spec.name}' can only be read",
            hint="name a table of a sink connector (filesystem, kafka, jdbc, print, ...)",
        )
    if spec.requires_primary_key:
        raise PlanError(
            f"'{key}': connector '{spec.name}' of table '{table.name}' needs a PRIMARY KEY and "
            f"{what} rows have none",
            hint="use an append-only table",
        )
    columns = _check_columns(table, fields, what)
    connector_config.check_sink(table_info(table), spec.requested_guarantee(table.options), config)
    next_id = max(n.id for n in nodes) + 1
    added: list[Node] = []
    p = max(w.parallelism for w in producers)

    Fields = tuple[Field, ...]

    def add(name: str, op: OperatorSpec, inputs: tuple[Edge, ...], fields: Fields, par: int) -> Node:
        node = Node(next_id + len(added), name, op, inputs, fields, par, ChangelogMode.INSERT_ONLY)
        added.append(node)
        return node

    def side_edge(w: Node, par: int) -> Edge:
        mode = Partitioning.FORWARD if w.parallelism == par else Partitioning.REBALANCE
        return Edge(w.id, mode, output=output)

    label = "".join(part.capitalize() for part in what.split("-")) + "Rows"
    if len(producers) == 1:
        feed = side_edge(producers[0], p)
    else:
        union = add(f"Union({label})", UnionSpec(), tuple(side_edge(w, p) for w in producers), fields, p)
        feed = Edge(union.id)
    projections = tuple(
        (c.name, f"CAST({quote(c.name.lower())} AS {parse_type(c.type).duckdb()})") for c in columns
    )
    calc = add(f"Calc({label})", CalcSpec(projections), (feed,), columns, p)
    guarantee = delivery_guarantee(spec.name, table.options, config)
    mode, why = "", None
    if guarantee == Guarantee.EXACTLY_ONCE and spec.exactly_once_modes:
        why = nondeterminism
        mode = exactly_once_mode(spec, table.name, table.options, why)
    sink = SinkSpec(
        table=table.name,
        connector=spec.name,
        options=dict(table.options),
        columns=columns,
        primary_key=(),
        guarantee=guarantee,
        exactly_once_mode=mode,
        replay_nondeterminism=why,
    )
    par = p
    if "sink.parallelism" in table.options:
        par = parse_int(table.options["sink.parallelism"], "sink.parallelism")
    mode = Partitioning.FORWARD if par == p else Partitioning.REBALANCE
    add(f"Sink({table.name})", sink, (Edge(calc.id, mode),), columns, par)
    return tuple(added)
