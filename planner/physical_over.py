"""Physical planning of what the binder builds from ``OVER``: Top-N and deduplication
(``Rank``), choosing the changelog Flink's operator for each case sends.

Flink picks among its operators by the input's changelog, the order and the range
(``StreamExecRank``, ``StreamExecDeduplicate``); each sends its own changelog:

- ordered by processing time ascending over an insert-only input: the first rows are
  final (``AppendOnlyFirstNFunction``, ``ProcTimeDeduplicateKeepFirstRowFunction``);
  insert-only;
- ``rn = 1`` on a time attribute, rank not selected, insert-only input: deduplication
  (keep the first or last row by ``ASC`` / ``DESC``), one row per key with -U/+U;
- Top-1 over an insert-only input (``FastTop1Function``): -U/+U per key;
- with the rank number selected, or a range not starting at 1: -U/+U per rank
  position (``AppendOnlyTopNFunction`` / ``RetractableTopNFunction`` with row number);
- otherwise the rows themselves, -D for the one leaving and +I for the one entering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from catalog.connectors import ChangelogMode
from planner import codegen
from planner.logical import OverAggregate, Rank
from planner.physical import ARRIVAL, AggCall, Node, OverAggregateSpec, RankSpec, SortKey, WindowRankSpec
from planner.window import Window

if TYPE_CHECKING:
    from planner.physical_planner import PhysicalPlanner


def rank_spec(node: Rank, input_insert_only: bool) -> RankSpec:
    """The operator spec of a ranged ``Rank`` whose input is (or not) insert-only."""
    assert node.start is not None and node.end is not None
    order = tuple(
        SortKey(
            ARRIVAL if node.input.field(s.name).time_attribute == "proctime" else s.name,
            s.ascending,
            s.nulls_first,
        )
        for s in node.order
    )
    top1 = node.start == node.end == 1
    single_time = len(node.order) == 1 and node.input.field(node.order[0].name).time_attribute is not None
    deduplicate = top1 and single_time and not node.output_rank and input_insert_only
    if node.first_rows:
        changes = "insert"
    elif top1 and input_insert_only:
        changes = "update"
    elif node.output_rank or node.start > 1:
        changes = "position"
    else:
        changes = "rows"
    return RankSpec(
        partition_keys=node.partition_keys,
        order=order,
        start=node.start,
        end=node.end,
        rank_column=node.rank_field if node.output_rank else None,
        changes=changes,
        ties_last=deduplicate and not node.order[0].ascending,
        deduplicate=deduplicate,
    )


def plan_rank(planner: PhysicalPlanner, node: Rank) -> Node:
    child = planner._translate(node.input)
    if node.window is not None:
        return _plan_window_rank(planner, node, node.window, child)
    spec = rank_spec(node, child.changelog == ChangelogMode.INSERT_ONLY)
    p = planner.default_parallelism if spec.partition_keys else 1
    edge = planner._edge(child, p, spec.partition_keys)
    changelog = ChangelogMode.INSERT_ONLY if spec.changes == "insert" else ChangelogMode.ALL
    return planner._add(rank_name(spec), spec, (edge,), node.fields, p, changelog)


def _plan_window_rank(planner: PhysicalPlanner, node: Rank, window: Window, child: Node) -> Node:
    """Window Top-N: ranked once per window, when the watermark passes its end. A Top-1
    by the window's own time column is Flink's window deduplication."""
    assert node.start is not None and node.end is not None
    order = tuple(SortKey(s.name, s.ascending, s.nulls_first) for s in node.order)
    deduplicate = node.start == node.end == 1 and len(order) == 1 and order[0].column == window.time_column
    spec = WindowRankSpec(
        window=window,
        partition_keys=node.partition_keys,
        order=order,
        start=node.start,
        end=node.end,
        rank_column=node.rank_field if node.output_rank else None,
        ties_last=deduplicate and not order[0].ascending,
        deduplicate=deduplicate,
    )
    keys = ", ".join(k for k in spec.partition_keys if k not in ("window_start", "window_end"))
    if deduplicate:
        keep = "LastRow" if spec.ties_last else "FirstRow"
        name = f"WindowDeduplicate(keep=[{keep}], partitionKeys=[{keys}], orderKey=[{window.time_column}])"
    else:
        ranks = f"rankStart={spec.start}, rankEnd={spec.end}"
        name = f"WindowRank(rankType=[ROW_NUMBER], rankRange=[{ranks}], partitionBy=[{keys}])"
    p = planner.default_parallelism
    edge = planner._edge(child, p, spec.partition_keys)
    return planner._add(name, spec, (edge,), node.fields, p, ChangelogMode.INSERT_ONLY)


def rank_name(spec: RankSpec) -> str:
    """Flink's name of the node, as EXPLAIN and error messages show it."""
    keys = ", ".join(spec.partition_keys)
    if spec.deduplicate:
        time = "PROCTIME" if spec.order[0].column == ARRIVAL else "ROWTIME"
        keep = "LastRow" if not spec.order[0].ascending else "FirstRow"
        return f"Deduplicate(keep=[{keep}], key=[{keys}], order=[{time}])"
    ranks = f"rankStart={spec.start}, rankEnd={spec.end}"
    return f"Rank(rankType=[ROW_NUMBER], rankRange=[{ranks}], partitionBy=[{keys}])"


def describe_rank(node: Node, source: Node) -> tuple[str, list[str]]:
    """EXPLAIN's name and attributes of a Rank or Deduplicate node fed by ``source``."""
    spec = node.spec
    assert isinstance(spec, RankSpec)
    order = ", ".join(
        f"{'$proctime' if k.column == ARRIVAL else k.column} {'ASC' if k.ascending else 'DESC'}"
        for k in spec.order
    )
    name = node.name[: node.name.index("(")]
    kept = "every row" if source.changelog != ChangelogMode.INSERT_ONLY else f"the first {spec.end} rows"
    return name, [
        node.name[len(name) + 1 : -1],
        f"orderBy=[{order}]",
        f"select=[{', '.join(f.name for f in node.schema)}]",
        f"state=[{kept} of each partition, kept forever]",
    ]


def plan_over_aggregate(planner: PhysicalPlanner, node: OverAggregate) -> Node:
    child = planner._translate(node.input)
    lookup = node.input.field_type
    aggs = tuple(
        AggCall(
            a.name,
            a.func,
            codegen.to_duckdb(a.arg, lookup) if a.arg is not None else None,
            a.type.sql(),
            args=tuple(codegen.to_duckdb(e, lookup) for e in a.args),  # LISTAGG's separator
        )
        for a in node.aggs
    )
    spec = OverAggregateSpec(node.partition_keys, node.order_field, node.rows, node.preceding, aggs)
    p = planner.default_parallelism if spec.partition_keys else 1
    edge = planner._edge(child, p, spec.partition_keys)
    frame = "UNBOUNDED" if spec.preceding is None else str(spec.preceding)
    name = (
        f"OverAggregate(partitionBy=[{', '.join(spec.partition_keys)}], orderBy=[{spec.time_column} ASC], "
        f"window=[{'ROWS' if spec.rows else 'RANG'} BETWEEN {frame} PRECEDING AND CURRENT ROW])"
    )
    return planner._add(name, spec, (edge,), node.fields, p, ChangelogMode.INSERT_ONLY)
