"""Logical plan to physical plan: operators, parallelism, exchanges, SQL, changelog modes
and delivery guarantees.

This is where the planner decides *how*: every expression becomes DuckDB SQL, every
stateful operator gets a hash exchange on its keys, and every sink is checked against
the changelog it will receive and told which delivery guarantee it can give under the
current checkpointing mode.
"""

from __future__ import annotations

from collections.abc import Mapping

from catalog.connectors import EXACTLY_ONCE_MODE, ChangelogMode, ConnectorSpec, Guarantee, connector_spec
from catalog.errors import OptionError
from catalog.options import parse_duration_ms, parse_int
from planner import codegen
from planner.determinism import replay_nondeterminism
from planner.errors import PlanError
from planner.logical import (
    Aggregate,
    BoundField,
    Calc,
    Collect,
    LogicalNode,
    LookupJoin,
    Scan,
    Sink,
    Union,
    WatermarkAssigner,
    WindowAssign,
)
from planner.physical import (
    AggCall,
    CalcSpec,
    CollectSpec,
    Edge,
    Field,
    GroupAggregateSpec,
    LookupJoinSpec,
    Node,
    OperatorSpec,
    Partitioning,
    PhysicalPlan,
    SinkSpec,
    SourceSpec,
    UnionSpec,
    WatermarkSpec,
    WindowAggregateSpec,
    WindowAssignSpec,
)
from planner.typecheck import Lookup


def checkpointing_mode(config: Mapping[str, str]) -> str:
    return config.get("execution.checkpointing.mode", "EXACTLY_ONCE").upper().replace("-", "_")


def checkpointing_enabled(config: Mapping[str, str]) -> bool:
    value = config.get("execution.checkpointing.interval")
    return value is not None and parse_duration_ms(value, "execution.checkpointing.interval") > 0


def delivery_guarantee(connector: str, options: Mapping[str, str], config: Mapping[str, str]) -> Guarantee:
    """The guarantee a sink gives: what it can do, what the user asked for, and what the
    checkpointing allows. Exactly-once commits on completed checkpoints, so it needs
    checkpointing on and in EXACTLY_ONCE mode; otherwise the sink is at-least-once."""
    spec = connector_spec(connector)
    best = spec.guarantees[0]
    requested: Guarantee | None = None
    if spec.guarantee_option and spec.guarantee_option in options:
        requested = Guarantee(options[spec.guarantee_option].lower())
    if requested is None:
        # Flink's defaults: Kafka at-least-once, FileSink and JDBC XA exactly-once.
        requested = Guarantee.AT_LEAST_ONCE if spec.name in ("kafka", "upsert-kafka") else best
    if requested not in spec.guarantees:
        raise OptionError(
            f"connector '{spec.name}' cannot give '{requested.value}' delivery",
            hint=f"it supports {', '.join(g.value for g in spec.guarantees)}",
        )
    if requested == Guarantee.EXACTLY_ONCE and (
        checkpointing_mode(config) == "AT_LEAST_ONCE" or not checkpointing_enabled(config)
    ):
        return Guarantee.AT_LEAST_ONCE
    return requested


def exactly_once_mode(
    spec: ConnectorSpec, table: str, options: Mapping[str, str], nondeterminism: str | None
) -> str:
    """The commit mode an exactly-once sink was asked for ("" when the user left it to the
    connector); epoch mode over a plan that does not replay deterministically is refused
    here, with the reason, because its replay could not be told from new rows."""
    mode = options.get(EXACTLY_ONCE_MODE, "").lower()
    if mode == "epoch" and nondeterminism:
        message, hint = epoch_refusal(table, nondeterminism)
        raise PlanError(message, hint=hint)
    return mode


def epoch_refusal(table: str, nondeterminism: str) -> tuple[str, str]:
    """The message and hint that refuse epoch mode (the planner's, and the sink's at start)."""
    return (
        f"table '{table}': exactly-once in epoch mode needs a plan that replays the same rows "
        f"after a failure, and this one does not: {nondeterminism}",
        "declare 'sink.delivery-guarantee' = 'at-least-once' on the table, or make the query "
        "deterministic (event time instead of processing time, no NOW()/RAND()/UUID()), or "
        "write to a PostgreSQL server with max_prepared_transactions > 0 "
        "('sink.exactly-once.mode' = 'two-phase')",
    )


def _parallelism(config: Mapping[str, str]) -> int:
    value = parse_int(config.get("parallelism.default", "1"), "parallelism.default")
    if value < 1:
        raise OptionError("'parallelism.default' must be at least 1")
    return value


def _fields(fields: tuple[BoundField, ...]) -> tuple[Field, ...]:
    return tuple(Field(f.name, f.type.sql(), f.time_attribute) for f in fields)


def _lookup(node: LogicalNode) -> Lookup:
    types = {f.name: f.type for f in node.fields}
    return types.__getitem__


class PhysicalPlanner:
    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = dict(config)
        self.default_parallelism = _parallelism(config)
        self.nodes: list[Node] = []
        self._memo: dict[int, Node] = {}
        # Subtrees of earlier INSERTs of a statement set, by structure: a later INSERT
        # that reads the same table the same way reuses them, so the source is read once.
        self._shared: dict[str, Node] = {}
        self._this_root: dict[str, Node] = {}

    def plan(self, roots: list[LogicalNode], name: str, rules: tuple[str, ...]) -> PhysicalPlan:
        for root in roots:
            self._translate(root)
            self._shared.update(self._this_root)
            self._this_root = {}
        return PhysicalPlan(tuple(self.nodes), name=name, config=self.config, rules=rules)

    # ---- translation -----------------------------------------------------------------
    def _add(
        self,
        name: str,
        spec: OperatorSpec,
        inputs: tuple[Edge, ...],
        fields: tuple[BoundField, ...],
        parallelism: int,
        changelog: ChangelogMode,
    ) -> Node:
        node = Node(len(self.nodes) + 1, name, spec, inputs, _fields(fields), parallelism, changelog)
        self.nodes.append(node)
        return node

    def _edge(self, src: Node, parallelism: int, keys: tuple[str, ...] = ()) -> Edge:
        if keys and parallelism > 1:
            return Edge(src.id, Partitioning.HASH, keys)
        if parallelism == 1 and src.parallelism > 1:
            return Edge(src.id, Partitioning.SINGLE)
        if src.parallelism == parallelism:
            return Edge(src.id, Partitioning.FORWARD)
        return Edge(src.id, Partitioning.REBALANCE)

    def _translate(self, node: LogicalNode) -> Node:
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        fingerprint = repr(node)
        result = self._shared.get(fingerprint) if not isinstance(node, Sink | Collect) else None
        if result is None:
            result = self._translate_new(node)
        self._memo[key] = result
        self._this_root[fingerprint] = result
        return result

    def _translate_new(self, node: LogicalNode) -> Node:
        if isinstance(node, Scan):
            table = node.table
            spec = connector_spec(table.connector)
            p = self.default_parallelism
            if "scan.parallelism" in table.options:
                p = parse_int(table.options["scan.parallelism"], "scan.parallelism")
            source = SourceSpec(
                table=table.name,
                connector=spec.name,
                options=dict(table.options),
                columns=_fields(node.fields),
                metadata=dict(node.metadata),
                bounded=_bounded(spec.name, table.options),
                primary_key=tuple(table.schema.primary_key),
            )
            changelog = ChangelogMode.UPSERT if spec.name == "upsert-kafka" else ChangelogMode.INSERT_ONLY
            return self._add(f"TableSourceScan({table.name})", source, (), node.fields, p, changelog)
        if isinstance(node, Calc):
            child = self._translate(node.input)
            lookup = _lookup(node.input)
            projections = tuple((n, codegen.to_duckdb(e, lookup)) for n, e in node.projections)
            condition = codegen.to_duckdb(node.condition, lookup) if node.condition is not None else None
            return self._add(
                "Calc",
                CalcSpec(projections, condition),
                (self._edge(child, child.parallelism),),
                node.fields,
                child.parallelism,
                child.changelog,
            )
        if isinstance(node, WatermarkAssigner):
            child = self._translate(node.input)
            idle = self.config.get("table.exec.source.idle-timeout", "0")
            interval = self.config.get("pipeline.auto-watermark-interval", "200 ms")
            spec_wm = WatermarkSpec(
                rowtime=node.rowtime,
                expr=codegen.to_duckdb(node.expr, _lookup(node.input)),
                idle_timeout_ms=parse_duration_ms(idle, "table.exec.source.idle-timeout"),
                emit_interval_ms=parse_duration_ms(interval, "pipeline.auto-watermark-interval"),
            )
            return self._add(
                f"WatermarkAssigner(rowtime={node.rowtime}, watermark={node.expr_text})",
                spec_wm,
                (self._edge(child, child.parallelism),),
                node.fields,
                child.parallelism,
                child.changelog,
            )
        if isinstance(node, WindowAssign):
            child = self._translate(node.input)
            return self._add(
                "WindowTableFunction",
                WindowAssignSpec(node.window),
                (self._edge(child, child.parallelism),),
                node.fields,
                child.parallelism,
                child.changelog,
            )
        if isinstance(node, Aggregate):
            child = self._translate(node.input)
            lookup = _lookup(node.input)
            aggs = tuple(
                AggCall(
                    name=a.name,
                    func=a.func,
                    arg=codegen.to_duckdb(a.arg, lookup) if a.arg is not None else None,
                    type=a.type.sql(),
                    distinct=a.distinct,
                    filter=codegen.to_duckdb(a.filter, lookup) if a.filter is not None else None,
                )
                for a in node.aggs
            )
            p = self.default_parallelism if node.keys else 1
            edge = self._edge(child, p, node.keys)
            if node.window is not None:
                if child.changelog != ChangelogMode.INSERT_ONLY:
                    raise PlanError("a window aggregation over an updating input is not supported")
                spec_agg: OperatorSpec = WindowAggregateSpec(node.window, node.keys, aggs)
                return self._add(
                    "WindowAggregate", spec_agg, (edge,), node.fields, p, ChangelogMode.INSERT_ONLY
                )
            spec_agg = GroupAggregateSpec(node.keys, aggs)
            return self._add("GroupAggregate", spec_agg, (edge,), node.fields, p, ChangelogMode.ALL)
        if isinstance(node, LookupJoin):
            child = self._translate(node.input)
            dim_cols = node.table.schema.physical
            n_in = len(node.input.fields)
            spec_lj = LookupJoinSpec(
                table=node.table.name,
                connector=connector_spec(node.table.connector).name,
                options=dict(node.table.options),
                columns=tuple(Field(c.name, c.type.sql()) for c in dim_cols),
                output_names=tuple(f.name for f in node.fields[n_in:]),
                keys=node.keys,
                join_type=node.join_type,
                residual=codegen.to_duckdb(node.residual, _lookup(node))
                if node.residual is not None
                else None,
            )
            return self._add(
                f"LookupJoin({node.table.name})",
                spec_lj,
                (self._edge(child, child.parallelism),),
                node.fields,
                child.parallelism,
                child.changelog,
            )
        if isinstance(node, Union):
            children = [self._translate(c) for c in node.children]
            p = max(c.parallelism for c in children)
            updating = any(c.changelog != ChangelogMode.INSERT_ONLY for c in children)
            return self._add(
                "Union",
                UnionSpec(),
                tuple(self._edge(c, p) for c in children),
                node.fields,
                p,
                ChangelogMode.ALL if updating else ChangelogMode.INSERT_ONLY,
            )
        if isinstance(node, Sink):
            return self._translate_sink(node)
        if isinstance(node, Collect):
            child = self._translate(node.input)
            return self._add(
                "Collect", CollectSpec(), (self._edge(child, 1),), node.fields, 1, child.changelog
            )
        raise PlanError(f"cannot plan {type(node).__name__}")

    def _translate_sink(self, node: Sink) -> Node:
        child = self._translate(node.input)
        table = node.table
        spec = connector_spec(table.connector)
        if not spec.sink:
            raise PlanError(
                f"table '{table.name}' uses connector '{spec.name}', which can only be read",
                hint="write into a table whose connector is a sink (print, filesystem, kafka, ...)",
            )
        pk = table.schema.primary_key
        changelog = child.changelog
        accepted = spec.sink_changelog
        if changelog != ChangelogMode.INSERT_ONLY:
            producer = self._updating_producer(child)
            if ChangelogMode.ALL not in accepted and ChangelogMode.UPSERT not in accepted:
                raise PlanError(
                    f"table sink '{table.name}' (connector '{spec.name}') doesn't support consuming "
                    f"update changes, which are produced by {producer}",
                    hint="write the result into a table with a PRIMARY KEY on an upsert-capable "
                    "connector (upsert-kafka, jdbc, postgres), or use a window aggregation, "
                    "whose result is append-only",
                )
            if ChangelogMode.ALL not in accepted and not pk:
                raise PlanError(
                    f"table sink '{table.name}' needs a PRIMARY KEY to write the updates produced "
                    f"by {producer}",
                    hint="declare PRIMARY KEY (...) NOT ENFORCED on the sink table",
                )
        if spec.requires_primary_key and not pk:
            raise PlanError(
                f"table '{table.name}': connector '{spec.name}' requires a PRIMARY KEY",
                hint="declare PRIMARY KEY (...) NOT ENFORCED",
            )
        p = child.parallelism
        if "sink.parallelism" in table.options:
            p = parse_int(table.options["sink.parallelism"], "sink.parallelism")
        keys = pk if (pk and changelog != ChangelogMode.INSERT_ONLY) else ()
        guarantee = delivery_guarantee(spec.name, table.options, self.config)
        edge = self._edge(child, p, keys)
        mode, nondeterminism = "", None
        if guarantee == Guarantee.EXACTLY_ONCE and spec.exactly_once_modes:
            nondeterminism = replay_nondeterminism(node.input) or self._round_robin(edge, p)
            mode = exactly_once_mode(spec, table.name, table.options, nondeterminism)
        sink = SinkSpec(
            table=table.name,
            connector=spec.name,
            options=dict(table.options),
            columns=_fields(node.fields),
            primary_key=tuple(pk),
            guarantee=guarantee,
            exactly_once_mode=mode,
            replay_nondeterminism=nondeterminism,
        )
        return self._add(f"Sink({table.name})", sink, (edge,), node.fields, p, changelog)

    def _round_robin(self, edge: Edge, parallelism: int) -> str | None:
        """Whether rows reach the sink's subtasks round-robin (a REBALANCE, or a forward
        edge between different parallelisms, on the way from the last keyed exchange or
        source): then which subtask writes a row depends on timing, and a replay may hand
        it to another one than the first run did."""
        todo = [(edge, parallelism)]
        while todo:
            e, p = todo.pop()
            src = self.nodes[e.source - 1]
            if e.partitioning == Partitioning.REBALANCE or (
                e.partitioning == Partitioning.FORWARD and src.parallelism != p
            ):
                return (
                    f"rows go round-robin from {src.name} ({src.parallelism} subtasks) to {p} subtasks, so "
                    "a replay may hand a row to another sink subtask; give the sink the parallelism "
                    "of its input ('sink.parallelism')"
                )
            if e.partitioning == Partitioning.FORWARD:
                todo.extend((i, src.parallelism) for i in src.inputs)
        return None

    def _updating_producer(self, node: Node) -> str:
        """The operator that first makes the stream updating, for the error message."""
        current = node
        while current.inputs:
            upstream = [self.nodes[e.source - 1] for e in current.inputs]
            updating = [u for u in upstream if u.changelog != ChangelogMode.INSERT_ONLY]
            if not updating:
                break
            current = updating[0]
        if isinstance(current.spec, GroupAggregateSpec):
            keys = ", ".join(current.spec.keys) or "no keys"
            return f"node GroupAggregate(groupBy=[{keys}])"
        return f"node {current.name}"


def _bounded(connector: str, options: Mapping[str, str]) -> bool:
    if connector == "datagen":
        return "number-of-rows" in options
    if connector == "filesystem":
        return "source.monitor-interval" not in options
    if connector in ("kafka", "upsert-kafka"):
        return options.get("scan.bounded.mode", "unbounded").lower() != "unbounded"
    return connector_spec(connector).bounded
