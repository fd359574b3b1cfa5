"""EXPLAIN text for a physical plan, in the shape of Flink's plan trees.

It reads only the ``PhysicalPlan`` (so a plan loaded from JSON explains the same) and shows
what a user needs to trust a job: operators, keys and exchanges, windows, watermarks,
changelog modes, state, parallelism and each sink's delivery guarantee. Secrets in
options are never shown.
"""

from __future__ import annotations

from catalog.config import (
    CHECKPOINTING_INTERVAL,
    CHECKPOINTING_MODE,
    LATE_ROWS_SINK,
    STATE_TTL,
    checkpointing_enabled,
)
from catalog.connectors import ChangelogMode, Guarantee, connector_spec
from catalog.options import format_duration_ms as duration
from catalog.table import redact
from planner.physical import (
    LATE_ROWS_OUTPUT,
    AggCall,
    BatchOverSpec,
    BatchQuerySpec,
    CalcSpec,
    ChangelogNormalizeSpec,
    CollectSpec,
    CorrelateSpec,
    Edge,
    ExpandSpec,
    GroupAggregateSpec,
    IntervalJoinSpec,
    JoinSpec,
    LookupJoinSpec,
    MatchSpec,
    Node,
    OverAggregateSpec,
    Partitioning,
    PhysicalPlan,
    RankSpec,
    ReplicateSpec,
    SinkMaterializerSpec,
    SinkSpec,
    SortSpec,
    SourceSpec,
    TemporalJoinSpec,
    UnionSpec,
    WatermarkSpec,
    Window,
    WindowAggregateSpec,
    WindowAssignSpec,
    WindowJoinSpec,
    WindowRankSpec,
)
from planner.physical_over import describe_rank

_CHANGELOG = {
    ChangelogMode.INSERT_ONLY: "I",
    ChangelogMode.UPSERT: "I,UA,D",
    ChangelogMode.ALL: "I,UB,UA,D",
}


def describe_window(w: Window) -> str:
    col = f"time_col=[{w.time_column}]"
    if w.type == "tumble":
        text = f"TUMBLE({col}, size=[{duration(w.size_ms)}]"
    elif w.type == "hop":
        text = f"HOP({col}, size=[{duration(w.size_ms)}], slide=[{duration(w.slide_ms)}]"
    elif w.type == "cumulate":
        text = f"CUMULATE({col}, max_size=[{duration(w.size_ms)}], step=[{duration(w.step_ms)}]"
    else:
        text = f"SESSION({col}, gap=[{duration(w.gap_ms)}]"
    if w.offset_ms:
        text += f", offset=[{duration(w.offset_ms)}]"
    text += ", proctime" if w.proctime else ""
    return text + ")"


def describe_agg(a: AggCall) -> str:
    if a.func == "udaf":
        call = f"{a.function}({', '.join(a.args)})"
    elif a.func == "count_star":
        call = "COUNT(*)"
    elif a.func in ("lag", "lead"):  # offset, default
        call = f"{a.func.upper()}({', '.join([a.arg or '', *a.args])})"
    else:
        call = f"{a.func.upper()}({'DISTINCT ' if a.distinct else ''}{a.arg})"
    if a.filter:
        call += f" FILTER (WHERE {a.filter})"
    return f"{call} AS {a.name}"


def describe_local(node: Node, producer: Node) -> str:
    """The local phase of a two-phase window aggregate ``node`` (``planner.agg_phase``), as
    Flink's EXPLAIN names it; it runs in ``producer``'s subtasks."""
    spec = node.spec
    assert isinstance(spec, WindowAggregateSpec)
    attrs = [f"groupBy=[{', '.join(spec.keys)}]"] if spec.keys else []
    attrs.append(f"window=[{describe_window(spec.window)}]")
    attrs.append(f"select=[{', '.join(describe_agg(a) for a in spec.aggs)}]")
    attrs.append("state=[none: one partial row per key and slice of each batch]")
    attrs.append(f"parallelism=[{producer.parallelism}]")
    return f"LocalWindowAggregate({', '.join(attrs)})"


def describe(node: Node, plan: PhysicalPlan) -> str:
    spec = node.spec
    attrs: list[str] = []
    if isinstance(spec, SourceSpec) and node.name.startswith("Values("):  # SQL VALUES
        name = "Values"
        attrs.append(node.name[len("Values(") : -1])
        attrs.append(f"fields=[{', '.join(c.name for c in spec.columns)}]")
    elif isinstance(spec, SourceSpec):
        name = "TableSourceScan"
        # as Flink shows a pushed projection: table=[[..., bids, project=[channel, price]]]
        project = f", project=[{', '.join(spec.projection)}]" if spec.projection is not None else ""
        attrs.append(f"table=[{spec.table}{project}]")
        attrs.append(f"connector=[{spec.connector}]")
        attrs.append(f"fields=[{', '.join(c.name for c in spec.produced)}]")
        read = {c.name for c in spec.produced}
        if metadata := {k: v for k, v in spec.metadata.items() if k in read}:
            attrs.append("metadata=[" + ", ".join(f"{k}={v}" for k, v in metadata.items()) + "]")
        attrs.append(f"bounded=[{str(spec.bounded).lower()}]")
    elif isinstance(spec, CalcSpec):
        name = "Calc"
        if spec.common:  # computed once per row, before the filter
            attrs.append("common=[" + ", ".join(f"{sql} AS {n}" for n, sql in spec.common) + "]")
        attrs.append("select=[" + ", ".join(
            sql if sql == f'"{n}"' else f"{sql} AS {n}" for n, sql in spec.projections
        ) + "]")  # fmt: skip
        if spec.condition:
            attrs.append(f"where=[{spec.condition}]")
    elif isinstance(spec, ExpandSpec):
        name = "Expand"
        attrs.append("projects=[" + ", ".join(
            "{" + ", ".join(sql if sql == f'"{n}"' else f"{sql} AS {n}" for n, sql in row) + "}"
            for row in spec.projections
        ) + "]")  # fmt: skip
    elif isinstance(spec, SortSpec):
        name = node.name
        if spec.order:
            attrs.append(f"orderBy=[{', '.join(f.sql() for f in spec.order)}]")
        if spec.offset or spec.fetch is not None:
            fetch = "unlimited" if spec.fetch is None else spec.fetch
            attrs.append(f"offset=[{spec.offset}], fetch=[{fetch}]")
        attrs.append(f"mode=[{spec.mode}]")
        kept = {
            "batch": "every row until the input ends",
            "temporal": "rows until the watermark passes them",
        }.get(spec.mode)
        if kept:
            attrs.append(f"state=[{kept}]")
    elif isinstance(spec, ReplicateSpec):
        name = "ReplicateRows"
        attrs.append(f"times=[{spec.count}], fields=[{', '.join(f.name for f in node.schema)}]")
    elif isinstance(spec, WatermarkSpec):
        name = "WatermarkAssigner"
        attrs.append(f"rowtime=[{spec.rowtime}]")
        attrs.append(f"watermark=[{spec.expr}]")
        if spec.idle_timeout_ms:
            attrs.append(f"idleTimeout=[{duration(spec.idle_timeout_ms)}]")
    elif isinstance(spec, WindowAssignSpec):
        name = "WindowTableFunction"
        attrs.append(f"window=[{describe_window(spec.window)}]")
    elif isinstance(spec, WindowAggregateSpec):
        name = "GlobalWindowAggregate" if node.inputs[0].local_aggregate else "WindowAggregate"
        if spec.keys:
            attrs.append(f"groupBy=[{', '.join(spec.keys)}]")
        attrs.append(f"window=[{describe_window(spec.window)}]")
        attrs.append(f"select=[{', '.join(describe_agg(a) for a in spec.aggs)}]")
        attrs.append("emit=[on watermark]" if not spec.window.proctime else "emit=[on processing time]")
        attrs.append("state=[window partials by (window, keys)]")
    elif isinstance(spec, GroupAggregateSpec):
        name = "GroupAggregate"
        attrs.append(f"groupBy=[{', '.join(spec.keys)}]")
        attrs.append(f"select=[{', '.join(describe_agg(a) for a in spec.aggs)}]")
        source = plan.node(node.inputs[0].source)
        updating = source.changelog != ChangelogMode.INSERT_ONLY
        minmax = any(a.func in ("min", "max") for a in spec.aggs)
        bound = f"bounded by TTL {duration(spec.ttl_ms)}" if spec.ttl_ms else "kept forever"
        ordered = any(a.func in ("listagg", "array_agg", "first_value", "last_value") for a in spec.aggs)
        if updating and ordered:  # every live value, with its arrival number
            attrs.append(f"state=[accumulators and live values by key, {bound}]")
        elif (
            any(a.distinct for a in spec.aggs)
            or (updating and minmax)
            or any(a.func in ("collect", "percentile") for a in spec.aggs)
        ):
            # DISTINCT values seen; over retractions, a count per value (MIN/MAX, DISTINCT)
            counts = updating or any(a.func in ("collect", "percentile") for a in spec.aggs)
            kept = "value counts" if counts else "distinct values"
            attrs.append(f"state=[accumulators and {kept} by key, {bound}]")
        elif any(a.func == "udaf" for a in spec.aggs):
            attrs.append(f"state=[accumulators by key (Python ones pickled), {bound}]")
        else:
            attrs.append(f"state=[accumulators by key, {bound}]")
    elif isinstance(spec, ChangelogNormalizeSpec):
        name = "ChangelogNormalize"
        attrs.append(f"key=[{', '.join(spec.keys)}]")
        bound = f"bounded by TTL {duration(spec.ttl_ms)}" if spec.ttl_ms else "kept forever"
        attrs.append(f"state=[the last row by key, {bound}]")
    elif isinstance(spec, SinkMaterializerSpec):
        name = "SinkMaterializer"
        attrs.append(f"pk=[{', '.join(spec.keys)}]")
        attrs.append(f"upsertKey=[{', '.join(spec.upsert_key)}]" if spec.upsert_key else "upsertKey=[none]")
        bound = f"bounded by TTL {duration(spec.ttl_ms)}" if spec.ttl_ms else "kept forever"
        attrs.append(f"state=[every live row by key in arrival order, {bound}]")
    elif isinstance(spec, CorrelateSpec):
        name = "Correlate"
        attrs.append(f"invocation=[{spec.call}]")
        attrs.append(f"select=[{', '.join(f.name for f in node.schema)}]")
        attrs.append(f"joinType=[{'INNER' if spec.join_type == 'inner' else 'LEFT'}]")
    elif isinstance(spec, JoinSpec | IntervalJoinSpec | WindowJoinSpec | TemporalJoinSpec):
        name = {"join": "Join", "interval_join": "IntervalJoin", "temporal_join": "TemporalJoin"}.get(
            spec.kind, "WindowJoin"
        )
        attrs.append(f"joinType=[{spec.flink_join_type}]")
        if isinstance(spec, IntervalJoinSpec):
            attrs.append(
                f"windowBounds=[isRowTime=true, leftLowerBound={spec.lower_ms}, "
                f"leftUpperBound={spec.upper_ms}, leftTime={spec.left_time}, rightTime={spec.right_time}]"
            )
        if isinstance(spec, WindowJoinSpec):
            w = spec.window
            size = f"size=[{w.size_ms} ms]" + (f", slide=[{w.slide_ms} ms]" if w.slide_ms else "")
            attrs.append(f"window=[{w.type.upper()}({size})]")
        left, right = (plan.node(e.source) for e in node.inputs)
        keys = ", ".join(
            f"{_column(left, lk)}={_column(right, rk)}" for lk, rk in zip(spec.left_keys, spec.right_keys)
        )
        attrs.append(f"equi=[{keys}]")
        if spec.residual:
            attrs.append(f"where=[{spec.residual}]")
        attrs.append(f"select=[{', '.join(f.name for f in node.schema)}]")
        if isinstance(spec, TemporalJoinSpec):
            attrs.append(f"asOf=[{spec.left_time}], versionTime=[{spec.right_time}]")
            attrs.append(
                "state=[left rows until the watermark passes them; right versions by key, "
                "older ones dropped as the watermark passes]"
            )
        elif isinstance(spec, WindowJoinSpec):
            attrs.append("state=[both sides' rows by window, dropped when the window fires]")
        elif isinstance(spec, IntervalJoinSpec):
            attrs.append(
                f"state=[left rows by key{', with matches' if spec.left_outer else ''}; "
                f"right rows by key{', with matches' if spec.right_outer else ''}; "
                "dropped as the watermark passes their interval]"
            )
        else:
            sides = zip(("left", "right"), (spec.left_outer, spec.right_outer), state_ttls(spec))
            attrs.append("state=[" + "; ".join(
                f"{side} rows by key{', with matches' if outer else ''}, {_bound(ttl)}"
                for side, outer, ttl in sides
            ) + "]")  # fmt: skip
        if isinstance(spec, IntervalJoinSpec):
            attrs.append(f"watermarkDelay=[{spec.watermark_delay_ms} ms]")
    elif isinstance(spec, LookupJoinSpec):
        name = "LookupJoin"
        attrs.append(f"table=[{spec.table}]")
        attrs.append(f"joinType=[{spec.join_type.upper()}]")
        attrs.append("lookup=[" + ", ".join(f"{t}={i}" for i, t in spec.keys) + "]")
        if spec.residual:
            attrs.append(f"where=[{spec.residual}]")
        if spec.options.get("lookup.cache", "").upper() == "PARTIAL":
            attrs.append(
                f"cache=[partial, max-rows={spec.options.get('lookup.partial-cache.max-rows', '-')}]"
            )
    elif isinstance(spec, RankSpec) and node.name.startswith("SortLimit("):
        name = "SortLimit"
        attrs.append(node.name[len(name) + 1 : -1])
        attrs.append(f"state=[{'the top rows' if _insert_only_input(node, plan) else 'every row'}]")
    elif isinstance(spec, RankSpec):
        name, more = describe_rank(node, plan.node(node.inputs[0].source))
        attrs.extend(more)
    elif isinstance(spec, WindowRankSpec):
        name = node.name[: node.name.index("(")]
        attrs.append(node.name[len(name) + 1 : -1])
        attrs.append(f"window=[{describe_window(spec.window)}]")
        attrs.append(
            "orderBy=["
            + ", ".join(f"{k.column} {'ASC' if k.ascending else 'DESC'}" for k in spec.order)
            + "]"
        )
        attrs.append("emit=[on watermark]")
        attrs.append("state=[rows of open windows]")
    elif isinstance(spec, MatchSpec):
        name = "Match"
        attrs.append(node.name[len(name) + 1 : -1])
        attrs.append("emit=[on watermark]")
        attrs.append("state=[rows the watermark has not passed, partial matches]")
    elif isinstance(spec, OverAggregateSpec):
        name = "OverAggregate"
        attrs.append(node.name[len(name) + 1 : -1])
        attrs.append(f"select=[{', '.join(describe_agg(a) for a in spec.aggs)}]")
        attrs.append("emit=[on watermark]")
        lags = [int(a.args[0]) for a in spec.aggs if a.func == "lag"]
        if lags:  # LagAggFunction's accumulator: bounded by the offset, not by the rows seen
            attrs.append(f"state=[LAG: the last {max(lags)} values of each partition]")
    elif isinstance(spec, BatchOverSpec):
        name = "OverAggregate"
        attrs.append(node.name[len(name) + 1 : -1])
        attrs.append("emit=[at end of input]")
        attrs.append("state=[every row until the input ends]")
    elif isinstance(spec, BatchQuerySpec):
        name = "BatchQuery"
        attrs.append(node.name[len(name) + 1 : -1])
        attrs.append("engine=[one DuckDB query over every input row]")
        attrs.append("emit=[at end of input]")
    elif isinstance(spec, UnionSpec):
        name = "Union"
        attrs.append(f"all=[true], fields=[{', '.join(f.name for f in node.schema)}]")
    elif isinstance(spec, SinkSpec):
        name = "Sink"
        attrs.append(f"table=[{spec.table}]")
        attrs.append(f"connector=[{spec.connector}]")
        attrs.append(f"fields=[{', '.join(c.name for c in spec.columns)}]")
        if spec.primary_key:
            attrs.append(f"primaryKey=[{', '.join(spec.primary_key)}]")
        if isinstance(plan.node(node.inputs[0].source).spec, SinkMaterializerSpec):
            attrs.append("upsertMaterialize=[true]")
        attrs.append(f"guarantee=[{spec.guarantee.value}]")
        if spec.exactly_once_mode:
            attrs.append(f"exactlyOnceMode=[{spec.exactly_once_mode}]")
    elif isinstance(spec, CollectSpec):
        name = "Collect"
    else:  # pragma: no cover - every spec kind is listed above
        name = type(spec).__name__
    attrs.append(f"changelogMode=[{_CHANGELOG[node.changelog]}]")
    attrs.append(f"parallelism=[{node.parallelism}]")
    return f"{name}({', '.join(attrs)})"


def _insert_only_input(node: Node, plan: PhysicalPlan) -> bool:
    return plan.node(node.inputs[0].source).changelog == ChangelogMode.INSERT_ONLY


def _column(node: Node, name: str) -> str:
    """A join key as EXPLAIN shows it: the column, or the cast a Calc added for it."""
    if name.startswith("__jk") and isinstance(node.spec, CalcSpec):
        return dict(node.spec.projections).get(name, name)
    return name


def state_ttls(spec: JoinSpec) -> tuple[int, int]:
    """A regular join's idle state retention per side (0: none)."""
    return spec.left_ttl_ms, spec.right_ttl_ms


def _bound(ttl_ms: int) -> str:
    return f"bounded by TTL {duration(ttl_ms)}" if ttl_ms else "grows forever"


def unbounded_state(plan: PhysicalPlan) -> list[str]:
    """Warnings for operators whose state grows without bound (no TTL, no watermark)."""
    out = []
    for node in plan.nodes:
        if isinstance(node.spec, JoinSpec):
            forever = [side for side, ttl in zip(("left", "right"), state_ttls(node.spec)) if not ttl]
            if forever:
                which = "both sides'" if len(forever) == 2 else f"the {forever[0]} side's"
                out.append(
                    f"Join {node.spec.flink_join_type} (node {node.id}): {which} rows are kept "
                    "forever, so its state grows with every distinct row of its inputs; bound it "
                    f"with SET '{STATE_TTL.name}' = '<duration>' or a /*+ STATE_TTL('<input>' = "
                    "'<duration>') */ hint (a key idle that long is then forgotten)"
                )
        elif isinstance(node.spec, RankSpec) and not node.spec.ttl_ms:
            out.append(
                f"{node.name[: node.name.index('(')]} (node {node.id}): the rows of every partition "
                "key are kept forever, so its state grows with the number of distinct keys "
                f"('{STATE_TTL.name}' bounds only regular joins', GROUP BY's and deduplication's "
                "state so far)"
            )
    return out


def _exchange(edge: Edge) -> str | None:
    if edge.partitioning == Partitioning.FORWARD:
        return None
    if edge.partitioning == Partitioning.HASH:
        fields = f", fields=[{', '.join(edge.columns)}]" if edge.columns else ""
        return f"Exchange(distribution=[hash[{', '.join(edge.keys)}]]{fields})"
    return f"Exchange(distribution=[{edge.partitioning.value}])"


def tree(plan: PhysicalPlan, root: Node, shown: set[int] | None = None) -> list[str]:
    """The tree under ``root``; a subtree already in ``shown`` (an earlier sink of a
    statement set) is marked as reused instead of printed again."""
    lines: list[str] = []
    shown = set() if shown is None else shown

    def walk(node: Node, prefix: str, child_prefix: str) -> None:
        if node.id in shown:
            lines.append(prefix + f"Reused({node.name}, shared with the tree above)")
            return
        shown.add(node.id)
        lines.append(prefix + describe(node, plan))
        for i, edge in enumerate(node.inputs):
            last = i == len(node.inputs) - 1
            branch = "+- " if last else ":- "
            cont = "   " if last else ":  "
            src = plan.node(edge.source)
            if edge.output == LATE_ROWS_OUTPUT:
                lines.append(child_prefix + branch + f"LateRows(of {src.name}#{src.id}: the rows it "
                             "drops behind the watermark)")  # fmt: skip
                continue
            exchange = _exchange(edge)
            if exchange:
                lines.append(child_prefix + branch + exchange)
                below = child_prefix + cont
                if edge.local_aggregate:  # chained to the producer, before the exchange
                    lines.append(below + "+- " + describe_local(node, src))
                    below += "   "
                walk(src, below + "+- ", below + "   ")
            else:
                walk(src, child_prefix + branch, child_prefix + cont)

    walk(root, "", "")
    return lines


def exactly_once_why(spec: SinkSpec) -> str:
    """How a sink with two commit modes gets exactly-once, and why that mode."""
    epoch = "epoch mode: commits at each barrier and discards the replay of committed epochs"
    if spec.exactly_once_mode == "epoch":
        return f"{epoch}, exact because the plan replays deterministically"
    if spec.exactly_once_mode == "two-phase":
        return "two-phase commit on checkpoints (prepared transactions)"
    fallback = (
        f"refused there, because {spec.replay_nondeterminism}"
        if spec.replay_nondeterminism
        else f"{epoch}, since the plan replays deterministically"
    )
    return (
        "two-phase commit on checkpoints where the server allows prepared transactions; "
        f"on a server with max_prepared_transactions = 0: {fallback}"
    )


def _late_rows(plan: PhysicalPlan) -> list[str]:
    """Where each window operator's late rows go: counted, and kept in a table when
    ``table.exec.late-rows.sink`` is set (``planner/late_rows.py``)."""
    windows = [
        n for n in plan.nodes if isinstance(n.spec, WindowAggregateSpec) and not n.spec.window.proctime
    ]
    if not windows:
        return []
    out = ["", "== Late Rows =="]
    for w in windows:
        target = next((s for s in plan.sinks if _reads_late_rows(plan, s, w.id)), None)
        if target is not None and isinstance(target.spec, SinkSpec):
            out.append(f"{w.name}#{w.id}: counted (numLateRecordsDropped) and written to table "
                       f"{target.spec.table} ({target.spec.guarantee.value})")  # fmt: skip
        else:
            out.append(f"{w.name}#{w.id}: dropped and counted (numLateRecordsDropped); "
                       f"SET '{LATE_ROWS_SINK.name}' = '<table>' keeps them")  # fmt: skip
    return out


def _reads_late_rows(plan: PhysicalPlan, node: Node, window_id: int) -> bool:
    """Whether ``node`` reads, through its inputs, the late-rows output of ``window_id``."""
    todo, seen = [node], set()
    while todo:
        n = todo.pop()
        if n.id in seen:
            continue
        seen.add(n.id)
        for e in n.inputs:
            if e.source == window_id and e.output == LATE_ROWS_OUTPUT:
                return True
            if not e.output:
                todo.append(plan.node(e.source))
    return False


def explain_plan(plan: PhysicalPlan) -> str:
    """The EXPLAIN text of a physical plan."""
    out = ["== Physical Plan =="]
    shown: set[int] = set()
    for sink in plan.sinks:
        out.extend(tree(plan, sink, shown))
        out.append("")
    out.append("== Delivery Guarantees ==")
    mode = CHECKPOINTING_MODE.get(plan.config)
    interval = plan.config.get(CHECKPOINTING_INTERVAL.name) if checkpointing_enabled(plan.config) else None
    checkpoints = f"checkpointing {mode} every {interval}" if interval else "checkpointing disabled"
    for sink in plan.sinks:
        if isinstance(sink.spec, SinkSpec):
            g = sink.spec.guarantee
            why = {
                Guarantee.EXACTLY_ONCE: "two-phase commit on checkpoints",
                Guarantee.AT_LEAST_ONCE: "rows may repeat after a failure",
                Guarantee.NONE: "rows may be lost or repeated after a failure",
            }[g]
            if g == Guarantee.EXACTLY_ONCE and connector_spec(sink.spec.connector).exactly_once_modes:
                why = exactly_once_why(sink.spec)
            line = f"{sink.spec.table} ({sink.spec.connector}): {g.value} ({why}; {checkpoints})"
            capable = Guarantee.EXACTLY_ONCE in connector_spec(sink.spec.connector).guarantees
            if g != Guarantee.EXACTLY_ONCE and capable:
                needs = ["'sink.delivery-guarantee' = 'exactly-once' on the table"]
                if not interval or mode != "EXACTLY_ONCE":
                    needs.insert(
                        0, "checkpointing in EXACTLY_ONCE mode (SET 'execution.checkpointing.interval')"
                    )
                line += "\n  for exactly-once: " + " and ".join(needs)
            out.append(line)
        else:
            out.append("query result: shown as it is computed")
    out.extend(_late_rows(plan))
    sources = plan.sources
    out.append("")
    out.append("== Sources ==")
    for s in sources:
        assert isinstance(s.spec, SourceSpec)
        options = ", ".join(f"'{k}' = '{v}'" for k, v in redact(s.spec.options).items())
        out.append(f"{s.spec.table}: {'bounded' if s.spec.bounded else 'unbounded'} ({options})")
    warnings = unbounded_state(plan)
    if warnings:
        out.append("")
        out.append("== Warnings ==")
        out.extend(f"unbounded state: {w}" for w in warnings)
    if plan.rules:
        out.append("")
        out.append("== Rules Applied ==")
        out.append(", ".join(plan.rules))
    return "\n".join(out).rstrip() + "\n"
