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

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlglot import exp

from catalog.connectors import ChangelogMode
from catalog.options import format_duration_ms
from catalog.types import DataType
from planner import codegen
from planner.errors import UnsupportedError
from planner.logical import BatchOver, OverAggregate, OverCall, Rank, Sort
from planner.physical import (
    ARRIVAL,
    AggCall,
    BatchOverSpec,
    Node,
    OverAggregateSpec,
    OverCallSpec,
    RankSpec,
    SortKey,
    WindowRankSpec,
)
from planner.udf import check_over_python_aggregates
from planner.window import Window

if TYPE_CHECKING:
    from planner.physical_planner import PhysicalPlanner


def rank_spec(node: Rank, input_insert_only: bool, ttl_ms: int = 0) -> RankSpec:
    """The operator spec of a ranged ``Rank`` whose input is (or not) insert-only; a
    deduplication takes the state TTL ``ttl_ms`` (Flink's keeps one row per key, written
    when it is replaced; its general Top-N's TTL is per sort key, which we do not keep)."""
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
        ttl_ms=ttl_ms if deduplicate else 0,
    )


def plan_rank(planner: PhysicalPlanner, node: Rank) -> Node:
    child = planner._translate(node.input)
    if node.window is not None:
        return _plan_window_rank(planner, node, node.window, child)
    spec = rank_spec(node, child.changelog == ChangelogMode.INSERT_ONLY, planner._state_ttl(None))
    p = planner.default_parallelism if spec.partition_keys else 1
    edge = planner._edge(child, p, spec.partition_keys)
    changelog = ChangelogMode.INSERT_ONLY if spec.changes == "insert" else ChangelogMode.ALL
    return planner._add(rank_name(spec), spec, (edge,), node.fields, p, changelog)


def _plan_window_rank(planner: PhysicalPlanner, node: Rank, window: Window, child: Node) -> Node:
    """Window Top-N: ranked once per window, when the watermark passes its end. A Top-1
    by the window's own time column is Flink's window deduplication."""
    assert node.start is not None and node.end is not None
    _refuse_updates("WindowRank", planner, child)
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


def sort_limit(planner: PhysicalPlanner, node: Sort, child: Node) -> Node:
    """``ORDER BY .. LIMIT n [OFFSET m]`` on a stream: Flink's SortLimit, a Rank of ranks m + 1
    .. m + n over one partition without the rank number, whose changelog is the rows
    leaving (-D) and entering (+I) the result; ties go by arrival, as in the rank."""
    assert node.fetch is not None
    order = tuple(
        SortKey(
            ARRIVAL if node.input.field(k.column).time_attribute == "proctime" else k.column,
            not k.descending,
            k.nulls_first,
        )
        for k in node.order
    )
    spec = RankSpec((), order, node.offset + 1, node.offset + node.fetch, None, "rows")
    shown = ", ".join(
        f"{k.column} {'DESC' if k.descending else 'ASC'} NULLS {'FIRST' if k.nulls_first else 'LAST'}"
        for k in node.order
    )
    name = f"SortLimit(orderBy=[{shown}], offset=[{node.offset}], fetch=[{node.fetch}])"
    return planner._add(name, spec, (planner._edge(child, 1),), node.fields, 1, ChangelogMode.ALL)


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
    bound = f"bounded by TTL {format_duration_ms(spec.ttl_ms)}" if spec.ttl_ms else "kept forever"
    return name, [
        node.name[len(name) + 1 : -1],
        f"orderBy=[{order}]",
        f"select=[{', '.join(f.name for f in node.schema)}]",
        f"state=[{kept} of each partition, {bound}]",
    ]


def plan_over_aggregate(planner: PhysicalPlanner, node: OverAggregate) -> Node:
    check_over_python_aggregates(node, planner.batch)
    child = planner._translate(node.input)
    lookup = node.input.field_type
    aggs = tuple(
        AggCall(
            a.name,
            a.func,
            codegen.to_duckdb(a.arg, lookup) if a.arg is not None else None,
            a.type.sql(),
            distinct=a.distinct,
            function=a.function.name if a.function is not None else None,
            args=tuple(codegen.to_duckdb(e, lookup) for e in a.args),  # a udaf's, LISTAGG's separator
        )
        for a in node.aggs
    )
    _refuse_updates("OverAggregate", planner, child)
    if any(a.func == "percentile" and len(a.args) > 1 for a in aggs):
        raise UnsupportedError("PERCENTILE with a frequency in an OVER window")
    spec = OverAggregateSpec(node.partition_keys, node.order_field, node.rows, node.preceding, aggs)
    p = planner.default_parallelism if spec.partition_keys else 1
    edge = planner._edge(child, p, spec.partition_keys)
    frame = "UNBOUNDED" if spec.preceding is None else str(spec.preceding)
    name = (
        f"OverAggregate(partitionBy=[{', '.join(spec.partition_keys)}], orderBy=[{spec.time_column} ASC], "
        f"window=[{'ROWS' if spec.rows else 'RANG'} BETWEEN {frame} PRECEDING AND CURRENT ROW])"
    )
    return planner._add(name, spec, (edge,), node.fields, p, ChangelogMode.INSERT_ONLY)


def _refuse_updates(kind: str, planner: PhysicalPlanner, child: Node) -> None:
    """As Flink: these operators take every input row for an insert (their state keeps no
    row to retract), so an updating input would count its -U/-D rows as new ones."""
    if child.changelog != ChangelogMode.INSERT_ONLY:
        raise UnsupportedError(
            f"{kind} doesn't support consuming update and delete changes which is produced by "
            f"{planner._updating_producer(child)}",
            hint=f"a {'window Top-N' if kind == 'WindowRank' else 'streaming OVER aggregation'} "
            "reads an append-only input",
        )


def plan_batch_over(planner: PhysicalPlanner, node: BatchOver) -> Node:
    """Batch mode's window functions: the final rows of the input, then one DuckDB query
    over them when the input ends; partitioned when every call has the same keys."""
    child = planner._final(planner._translate(node.input))
    lookup = node.input.field_type
    calls = tuple(_over_call(c, lookup) for c in node.calls)
    shared = {tuple(e.sql() for e in c.partition) for c in node.calls}
    keys: tuple[str, ...] = ()
    first = node.calls[0].partition
    if len(shared) == 1 and first and all(isinstance(e, exp.Column) for e in first):
        keys = tuple(e.name for e in first if isinstance(e, exp.Column))
    spec = BatchOverSpec(keys, calls)
    p = planner.default_parallelism if keys else 1
    edge = planner._edge(child, p, keys)
    shown = ", ".join(
        f"{_call_text(c)} OVER ({c.window}) AS {f.name}"
        for c, f in zip(calls, node.fields[len(node.input.fields) :])
    )
    name = f"OverAggregate(partitionBy=[{', '.join(keys)}], select=[{shown}])"
    return planner._add(name, spec, (edge,), node.fields, p, ChangelogMode.INSERT_ONLY)


def _call_text(call: OverCallSpec) -> str:
    if call.agg is None:
        return f"{(call.rank or '').upper()}()"
    return f"{call.agg.func.upper()}({', '.join([call.agg.arg or '*', *call.agg.args])})"


def _over_call(call: OverCall, lookup: Callable[[str], DataType]) -> OverCallSpec:
    parts = []
    if call.partition:
        parts.append("PARTITION BY " + ", ".join(codegen.to_duckdb(e, lookup) for e in call.partition))
    if call.order:
        parts.append(
            "ORDER BY "
            + ", ".join(
                f"{codegen.to_duckdb(e, lookup)} {'ASC' if s.ascending else 'DESC'} "
                f"NULLS {'FIRST' if s.nulls_first else 'LAST'}"
                for e, s in call.order
            )
        )
    if call.frame is not None:
        parts.append(call.frame.sql(dialect="duckdb"))
    window = " ".join(parts)
    if call.agg is None:
        return OverCallSpec(window, rank=call.function.lower())
    a = call.agg
    arg = codegen.to_duckdb(a.arg, lookup) if a.arg is not None else None
    args = tuple(codegen.to_duckdb(e, lookup) for e in a.args)  # LAG's and LEAD's offset, default
    return OverCallSpec(window, agg=AggCall(a.name, a.func, arg, a.type.sql(), args=args))
