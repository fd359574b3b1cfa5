"""Batch mode's fast path (``BatchQuerySpec``, planned by ``planner.batch_fusion``): the
rows of each input wait in a DuckDB table (``in<i>``); when every input has ended, the
operators the node stands for run as one DuckDB query over them, one CTE per operator,
each the SQL of what the streaming operator computes over final rows:

- Calc: its projections and condition; a watermark assigner passes its rows on;
- GroupAggregate: the streaming aggregate's accumulators, then its final values;
- Sort (batch mode): ORDER BY, LIMIT, OFFSET; FinalRows passes its (already final) rows;
- Expand: one SELECT per projection list, UNION ALL; Union: UNION ALL;
- batch OverAggregate: ``batch_over_sql``.
"""

from __future__ import annotations

from catalog.types import parse_type
from planner.physical import (
    BatchOverSpec,
    BatchQuerySpec,
    CalcSpec,
    ExpandSpec,
    GroupAggregateSpec,
    Node,
    PhysicalPlan,
    SortSpec,
    UnionSpec,
    WatermarkSpec,
)
from runtime.batches import q
from runtime.operators import aggs as A
from runtime.operators.batch_over import batch_over_sql
from runtime.operators.collected import CollectedInput
from runtime.operators.group_aggregate import final_from_accumulators


def query_sql(plan: PhysicalPlan, inputs: tuple[int, ...]) -> str:
    """One DuckDB query for the operators of ``plan`` over tables ``in<i>`` (the rows of
    node ``inputs[i]``); its result is the last operator's final rows."""
    names = {node_id: f"in{i}" for i, node_id in enumerate(inputs)}
    ctes = []
    last = None
    for node in plan.nodes:
        if node.id in names:
            continue
        sources = [names[e.source] for e in node.inputs]
        source_cols = [q(f.name) for f in plan.node(node.inputs[0].source).schema]
        cols = ", ".join(q(f.name) for f in node.schema)
        name = f"n{node.id}"
        ctes.append(f"{name}({cols}) AS ({_sql(node, sources, source_cols)})")
        names[node.id] = last = name
    assert last is not None
    return f"WITH {', '.join(ctes)} SELECT * FROM {last}"


def _sql(node: Node, sources: list[str], cols: list[str]) -> str:
    spec, source = node.spec, sources[0]
    if isinstance(spec, CalcSpec):
        where = f" WHERE {spec.condition}" if spec.condition else ""
        return f"SELECT {', '.join(sql for _, sql in spec.projections)} FROM {spec.source(source)}{where}"
    if isinstance(spec, WatermarkSpec):
        return f"SELECT * FROM {source}"
    if isinstance(spec, GroupAggregateSpec):
        return _group_sql(spec, source)
    if isinstance(spec, SortSpec):
        order = f" ORDER BY {', '.join(f.sql() for f in spec.order)}" if spec.order else ""
        limit = f" LIMIT {spec.fetch}" if spec.fetch is not None else ""
        offset = f" OFFSET {spec.offset}" if spec.offset else ""
        return f"SELECT * FROM {source}{order}{limit}{offset}"
    if isinstance(spec, ExpandSpec):
        return " UNION ALL ".join(
            f"SELECT {', '.join(sql for _, sql in row)} FROM {source}" for row in spec.projections
        )
    if isinstance(spec, UnionSpec):
        return " UNION ALL ".join(f"SELECT * FROM {s}" for s in sources)
    if isinstance(spec, BatchOverSpec):
        return batch_over_sql(spec, cols, source)
    raise AssertionError(f"internal: {node.name} cannot be fused (planner.batch_fusion)")


def _group_sql(spec: GroupAggregateSpec, source: str) -> str:
    """GROUP BY in three steps: each row's arguments (``a<i>``, filters ``f<i>``), each
    group's accumulators as the streaming aggregate keeps them (``s<i>``, ``n<i>``), and
    its final values from those, as the streaming aggregate emits them."""
    keys = [q(k) for k in spec.keys]
    raw = [item for i, a in enumerate(spec.aggs) for item in A.raw_items(i, a)]
    accumulators = []
    for i, a in enumerate(spec.aggs):
        d = "DISTINCT " if a.distinct else ""
        f = f" FILTER (WHERE f{i})" if a.filter else ""
        t = parse_type(a.type)
        if a.func == "count_star":
            accumulators.append(f"count(*){f} AS n{i}")
        elif a.func == "count":
            accumulators.append(f"count({d}a{i}){f} AS n{i}")
        elif a.func in ("sum", "avg"):
            total = f"sum({d}a{i}){f}"
            if t.name == "DECIMAL":  # NULL, not a failure, beyond 38 digits
                where = f"f{i}" if a.filter else ""
                total = A.decimal_sum_call(f"a{i}", t.scale or 0, where, distinct=a.distinct)
            accumulators += [f"{total} AS s{i}", f"count({d}a{i}){f} AS n{i}"]
        elif a.func in A.STATISTICS and (t.name == "DECIMAL" or t.is_integral):  # exact sums
            accumulators.append(f"{A.statistic_call(a.func, f'a{i}', t, f, d)} AS s{i}")
        else:  # min, max, a variance of a DOUBLE or FLOAT
            accumulators.append(f"{a.func}({d}a{i}){f} AS s{i}")
    finals = [final_from_accumulators(i, a, "") for i, a in enumerate(spec.aggs)]
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    rows = f"SELECT {', '.join([*keys, *raw]) or '1'} FROM {source}"
    groups = f"SELECT {', '.join([*keys, *accumulators])} FROM ({rows}){group}"
    return f"SELECT {', '.join([*keys, *finals])} FROM ({groups})"


class BatchQueryOp(CollectedInput):
    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, BatchQuerySpec)
        plan = PhysicalPlan.from_json(spec.plan)
        self._collect_into([(f"in{i}", plan.node(node_id).schema) for i, node_id in enumerate(spec.inputs)])
        self.result_sql = query_sql(plan, spec.inputs)
        self.width = 8 * max(len(plan.node(i).schema) for i in spec.inputs)
