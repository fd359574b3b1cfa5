"""Logical plan to physical plan: operators, parallelism, exchanges, SQL, changelog modes
and delivery guarantees.

This is where the planner decides *how*: every expression becomes DuckDB SQL, every
stateful operator gets a hash exchange on its keys, and every sink is checked against
the changelog it will receive and told which delivery guarantee it can give under the
current checkpointing mode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from sqlglot import exp

from catalog.config import (
    CHECKPOINTING_MODE,
    IDLE_TIMEOUT,
    PARALLELISM,
    RUNTIME_MODE,
    SINK_NOT_NULL_ENFORCER,
    STATE_TTL,
    WATERMARK_INTERVAL,
    checkpointing_enabled,
)
from catalog.connectors import (
    CONNECTORS,
    EXACTLY_ONCE_MODE,
    ChangelogMode,
    ConnectorConfig,
    ConnectorSpec,
    Guarantee,
    configure_table,
    connector_spec,
    epoch_refusal,
    scan_changelog,
    sink_changelogs,
    table_info,
)
from catalog.errors import OptionError
from catalog.options import parse_duration_ms, parse_int
from catalog.table import TableDef
from catalog.types import DataType, parse_type
from planner import codegen, common_subexpressions, sink_materialize, upsert
from planner.agg_phase import two_phase
from planner.determinism import replay_nondeterminism
from planner.dialect import Flink
from planner.distribution import read_columns, satisfies
from planner.errors import PlanError, UnsupportedError
from planner.logical import (
    Aggregate,
    BatchOver,
    BoundField,
    Calc,
    Collect,
    Correlate,
    Expand,
    Join,
    LogicalNode,
    LookupJoin,
    Match,
    OverAggregate,
    Rank,
    Replicate,
    Scan,
    Sink,
    Sort,
    Union,
    Values,
    WatermarkAssigner,
    WindowAssign,
    declared_fields,
)
from planner.physical import (
    AggCall,
    CalcSpec,
    ChangelogNormalizeSpec,
    CollectSpec,
    CorrelateSpec,
    Edge,
    ExpandSpec,
    Field,
    GroupAggregateSpec,
    IntervalJoinSpec,
    JoinSpec,
    LookupJoinSpec,
    Node,
    OperatorSpec,
    Partitioning,
    PhysicalPlan,
    ReplicateSpec,
    SinkMaterializerSpec,
    SinkSpec,
    SortField,
    SortSpec,
    SourceSpec,
    TemporalJoinSpec,
    UnionSpec,
    WatermarkSpec,
    WindowAggregateSpec,
    WindowAssignSpec,
    WindowJoinSpec,
)
from planner.physical_match import plan_match
from planner.physical_over import plan_batch_over, plan_over_aggregate, plan_rank, sort_limit
from planner.typecheck import make_cast, wider
from planner.udf import check_python_aggregates


def delivery_guarantee(connector: str, options: Mapping[str, str], config: Mapping[str, str]) -> Guarantee:
    """The guarantee a sink gives: what it can do, what the user asked for, and what the
    checkpointing allows. Exactly-once commits on completed checkpoints, so it needs
    checkpointing on and in EXACTLY_ONCE mode; otherwise the sink is at-least-once."""
    spec = connector_spec(connector)
    requested = spec.requested_guarantee(options)
    if requested not in spec.guarantees:
        raise OptionError(
            f"connector '{spec.name}' cannot give '{requested.value}' delivery",
            hint=f"it supports {', '.join(g.value for g in spec.guarantees)}",
        )
    if requested == Guarantee.EXACTLY_ONCE and (
        CHECKPOINTING_MODE.get(config) == "AT_LEAST_ONCE" or not checkpointing_enabled(config)
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


def _configure(table: TableDef) -> tuple[ConnectorSpec, ConnectorConfig]:
    """The table's connector spec and typed config (every rule between its options)."""
    return configure_table(table_info(table))


def _connectors(can: Callable[[ConnectorSpec], bool]) -> str:
    """The connectors that ``can``, for a hint."""
    return ", ".join(name for name, spec in CONNECTORS.items() if can(spec))


def _parallelism(config: Mapping[str, str]) -> int:
    value = PARALLELISM.get(config)
    if value < 1:
        raise OptionError("'parallelism.default' must be at least 1")
    return value


def _idle_timeout(node: WatermarkAssigner, config: Mapping[str, str]) -> int:
    """When a quiet split (a Kafka partition) stops holding the watermark back: the scanned
    table's 'scan.watermark.idle-timeout' if it has one, else table.exec.source.idle-timeout."""
    current: LogicalNode = node.input
    while not isinstance(current, Scan) and len(current.inputs) == 1:
        current = current.inputs[0]
    text = current.table.options.get("scan.watermark.idle-timeout") if isinstance(current, Scan) else None
    if text is not None:
        return parse_duration_ms(text, "scan.watermark.idle-timeout")
    return IDLE_TIMEOUT.get(config) or 0


def _fields(fields: tuple[BoundField, ...]) -> tuple[Field, ...]:
    return tuple(Field(f.name, f.type.sql(), f.time_attribute) for f in fields)


class PhysicalPlanner:
    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = dict(config)
        self.default_parallelism = _parallelism(config)
        self.batch = RUNTIME_MODE.get(self.config) == "batch"
        self.nodes: list[Node] = []
        self._memo: dict[int, Node] = {}
        # Subtrees of earlier INSERTs of a statement set, by structure: a later INSERT
        # that reads the same table the same way reuses them, so the source is read once.
        self._shared: dict[str, Node] = {}
        self._this_root: dict[str, Node] = {}
        # The key of each node whose changelog is UPSERT (planner.upsert): by node id
        self._upsert_keys: dict[int, tuple[str, ...]] = {}
        # The logical nodes whose upsert stream an attempt found unreadable for its reader:
        # read through a ChangelogNormalize (by id), one per upsert node (by its node id)
        self._full: set[int] = set()
        self._normalizers: dict[int, Node] = {}

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

    def _add_after(self, child: Node, name: str, spec: OperatorSpec, fields: tuple[BoundField, ...]) -> Node:
        """A node that works row by row on its one input: its parallelism, and the changelog
        passes through unchanged."""
        edge = self._edge(child, child.parallelism)
        return self._add(name, spec, (edge,), fields, child.parallelism, child.changelog)

    def _edge(self, src: Node, parallelism: int, keys: tuple[str, ...] = (), strict: bool = True) -> Edge:
        """The edge from ``src`` to a consumer of ``parallelism`` subtasks that needs rows of
        equal ``keys`` together: FORWARD where ``src``'s rows already are (``planner.distribution``;
        ``strict``: see ``satisfies``)."""
        if keys and parallelism > 1:
            if src.parallelism == parallelism and satisfies(self.nodes, src, keys, strict):
                return Edge(src.id, Partitioning.FORWARD)
            return Edge(src.id, Partitioning.HASH, keys)
        if parallelism == 1 and src.parallelism > 1:
            return Edge(src.id, Partitioning.SINGLE)
        if src.parallelism == parallelism:
            return Edge(src.id, Partitioning.FORWARD)
        return Edge(src.id, Partitioning.REBALANCE)

    def _translate(self, node: LogicalNode) -> Node:
        key = id(node)
        result = self._memo.get(key)
        if result is None:
            fingerprint = repr(node)
            if not isinstance(node, Sink | Collect):
                result = self._shared.get(fingerprint) or self._this_root.get(fingerprint)
            if result is None:
                result = self._translate_new(node)
            self._memo[key] = result
            self._this_root[fingerprint] = result
        if key in self._full and result.changelog == ChangelogMode.UPSERT:
            return self._normalized(result)
        return result

    def _translate_new(self, node: LogicalNode) -> Node:
        """``node``'s operators. Where one of them cannot read an upsert stream of an input
        as it is, the attempt is undone and made again over that input normalized (see
        ``planner.upsert``)."""
        translate = _TRANSLATORS.get(type(node))
        if translate is None:
            raise PlanError(f"cannot plan {type(node).__name__}")
        while True:
            start, memo, roots = len(self.nodes), set(self._memo), dict(self._this_root)
            try:
                result = translate(self, node)
                for new in self.nodes[start:]:
                    self._check_upsert_inputs(new)
                return result
            except upsert.Unreadable as e:
                child = upsert.input_of(node, e.source, self._memo, self.nodes)
                if child is None or id(child) in self._full:
                    raise e.error from None
                self._full.add(id(child))
            del self.nodes[start:]  # undone: translated again with ``child`` normalized
            for k in set(self._memo) - memo:
                del self._memo[k]
            self._this_root = roots
            self._upsert_keys = {i: k for i, k in self._upsert_keys.items() if i <= start}
            self._normalizers = {i: n for i, n in self._normalizers.items() if n.id <= start}

    def _check_upsert_inputs(self, node: Node) -> None:
        """Refuses ``node`` where it reads an upsert stream (+U without the -U of the row it
        replaces, -D carrying only the key) that it would take for a full changelog and so
        answer wrongly (``upsert.Unreadable`` where normalizing the stream would do);
        where it keeps or consumes the upsert stream correctly, notes the key its own
        output is an upsert stream by (``planner.upsert``)."""
        for index, edge in enumerate(node.inputs):
            source = self.nodes[edge.source - 1]
            if source.changelog != ChangelogMode.UPSERT:
                normalized = upsert.normalized_into_sink_by_key(node, source, self.nodes)
                if normalized is not None:
                    raise UnsupportedError(
                        f"the sink '{normalized[0]}' writes by key and drops -U rows: an upsert "
                        f"stream ({self._updating_producer(source)}) filtered or keyed otherwise "
                        "before it is not supported yet, a row it filters out or moves to another "
                        "key would stay",
                        hint=f"write the stream, unfiltered, into a sink whose PRIMARY KEY is "
                        f"({', '.join(normalized[1])})",
                    )
                continue
            key = self._upsert_key(source)
            passed = upsert.passed_key(node, index, source, key)
            if passed is None:
                what, hint = upsert.refusal(node, key)
                error = UnsupportedError(
                    f"{what} reading an upsert stream ({self._updating_producer(source)}) is not "
                    "supported yet: its +U rows replace a row by key without retracting it",
                    hint=hint,
                )
                if upsert.writes_by_key(node.spec):  # normalized, it would lose -U rows
                    raise error
                raise upsert.Unreadable(error, source)
            if node.changelog == ChangelogMode.UPSERT:
                self._upsert_keys[node.id] = passed

    def _upsert_key(self, node: Node) -> tuple[str, ...]:
        """The key of the upsert stream ``node`` sends: a scan's, the table's primary key."""
        if node.id not in self._upsert_keys:
            assert isinstance(node.spec, SourceSpec), f"no upsert key for {node.name}"
            self._upsert_keys[node.id] = node.spec.primary_key
        return self._upsert_keys[node.id]

    def _normalized(self, child: Node) -> Node:
        """The upsert stream ``child`` as a full changelog: Flink's ChangelogNormalize, hash
        partitioned by the key, whose state keeps each key's last row."""
        done = self._normalizers.get(child.id)
        if done is not None:
            return done
        key = self._upsert_key(child)
        fields = tuple(BoundField(f.name, parse_type(f.type), f.time_attribute) for f in child.schema)
        p = self.default_parallelism
        spec = ChangelogNormalizeSpec(key, self._state_ttl(None))
        name = f"ChangelogNormalize(key=[{', '.join(key)}])"
        node = self._add(name, spec, (self._edge(child, p, key),), fields, p, ChangelogMode.ALL)
        self._normalizers[child.id] = node
        return node

    # ---- one method per logical node kind (_TRANSLATORS below maps kinds to them) ----------
    def _scan(self, node: Scan) -> Node:
        table = node.table
        spec, connector_config = _configure(table)
        connector_config.check_source(table_info(table))
        p = self.default_parallelism
        if "scan.parallelism" in table.options:
            p = parse_int(table.options["scan.parallelism"], "scan.parallelism")
        bounded = spec.scan_bounded(table.options)
        if self.batch and not bounded:
            raise PlanError(
                f"Querying an unbounded table '{table.name}' in batch mode is not allowed. "
                "The table source is unbounded.",
                hint="SET 'execution.runtime-mode' = 'streaming', or bound the source "
                "(e.g. 'scan.bounded.mode' for Kafka, 'number-of-rows' for datagen)",
            )
        source = SourceSpec(
            table=table.name,
            connector=spec.name,
            options=dict(table.options),
            columns=_fields(declared_fields(table) if node.projected else node.fields),
            metadata=dict(node.metadata),
            bounded=bounded,
            primary_key=tuple(table.schema.primary_key),
            partition_keys=tuple(table.partition_keys),
            projection=tuple(f.name for f in node.fields) if node.projected else None,
        )
        return self._add(
            f"TableSourceScan({table.name})", source, (), node.fields, p, scan_changelog(spec, table.options)
        )

    def _values(self, node: Values) -> Node:
        """VALUES as Flink runs it: one bounded, insert-only source subtask whose rows are
        a DuckDB query of the (already cast) constants."""

        def lookup(name: str) -> DataType:
            raise PlanError(f"VALUES refers to column '{name}'")  # the binder allows none

        rows = ", ".join(
            "(" + ", ".join(codegen.to_duckdb(e, lookup) for e in row) + ")" for row in node.rows
        )
        cols = ", ".join(
            f"CAST(v{i} AS {f.type.duckdb()}) AS {exp.to_identifier(f.name, quoted=True).sql('duckdb')}"
            for i, f in enumerate(node.fields)
        )
        names = ", ".join(f"v{i}" for i in range(len(node.fields)))
        tuples = ", ".join("[" + ", ".join(e.sql(dialect=Flink) for e in row) + "]" for row in node.rows)
        source = SourceSpec(
            table="values",
            connector="values",
            options={"query": f"SELECT {cols} FROM (VALUES {rows}) t({names})"},
            columns=_fields(node.fields),
            bounded=True,
        )
        return self._add(f"Values(tuples=[{tuples}])", source, (), node.fields, 1, ChangelogMode.INSERT_ONLY)

    def _calc(self, node: Calc) -> Node:
        child = self._translate(node.input)
        found = common_subexpressions.shared(
            node.projections, node.condition, node.input.field_type, (f.name for f in node.input.fields)
        )
        common = tuple((n, codegen.to_duckdb(e, node.input.field_type)) for n, e, _ in found.common)
        lookup = found.lookup(node.input.field_type)
        projections = tuple((n, codegen.to_duckdb(e, lookup)) for n, e in found.projections)
        condition = codegen.to_duckdb(found.condition, lookup) if found.condition is not None else None
        return self._add_after(child, "Calc", CalcSpec(projections, condition, common=common), node.fields)

    def _expand(self, node: Expand) -> Node:
        child = self._translate(node.input)
        lookup = node.input.field_type
        lists = tuple(tuple((n, codegen.to_duckdb(e, lookup)) for n, e in row) for row in node.projections)
        return self._add_after(child, "Expand", ExpandSpec(lists), node.fields)

    def _replicate(self, node: Replicate) -> Node:
        child = self._translate(node.input)
        name = f"ReplicateRows(times=[{node.count}])"
        return self._add_after(child, name, ReplicateSpec(node.count), node.fields)

    def _sort(self, node: Sort) -> Node:
        """ORDER BY / LIMIT / OFFSET, one subtask (a global order), as Flink plans it:
        in batch mode a full sort of the final rows; on a stream a sort by the watermark
        (a rowtime attribute first, ascending), a Top-N (with LIMIT: Flink's SortLimit is a
        Rank over one partition, so it is planned on the rank operator) or the first rows
        (LIMIT alone); any other sort of a stream is refused, as Flink refuses it."""
        child = self._translate(node.input)
        order = tuple(SortField(k.column, k.descending, k.nulls_first) for k in node.order)
        updating = child.changelog != ChangelogMode.INSERT_ONLY
        where = (node.line, node.col)
        time_column = None
        if self.batch:
            mode, changelog = "batch", ChangelogMode.INSERT_ONLY
        elif node.order and node.fetch is not None:
            return sort_limit(self, node, child)
        elif node.order:
            first = node.input.field(node.order[0].column)
            if first.time_attribute is None or node.order[0].descending:
                raise UnsupportedError(
                    "Sort on a non-time-attribute field is not supported.",
                    hint="on a stream, ORDER BY a time attribute ascending, or add a LIMIT (a Top-N); "
                    "SET 'execution.runtime-mode' = 'batch' sorts a bounded input whole",
                ).with_position(*where)
            if updating:
                raise UnsupportedError(
                    f"ORDER BY {first.name} over an updating input is not supported",
                    hint="sort an append-only stream, or add a LIMIT (a Top-N)",
                ).with_position(*where)
            if node.offset:
                raise UnsupportedError("OFFSET without LIMIT on a stream").with_position(*where)
            if first.time_attribute == "rowtime":
                mode, time_column = "temporal", first.name
            else:  # processing time: arrival order is its order
                mode = "first"
            changelog = ChangelogMode.INSERT_ONLY
        elif node.fetch is not None:
            if updating:
                raise UnsupportedError(
                    "LIMIT without ORDER BY over an updating input is not supported",
                    hint="add an ORDER BY (a Top-N)",
                ).with_position(*where)
            mode, changelog = "first", ChangelogMode.INSERT_ONLY
        else:
            raise UnsupportedError("OFFSET without LIMIT on a stream").with_position(*where)
        spec = SortSpec(order, node.offset, node.fetch, mode, time_column)
        edge = self._edge(child, 1)
        return self._add(_sort_name(spec), spec, (edge,), node.fields, 1, changelog)

    def _final(self, child: Node) -> Node:
        """In batch mode, an updating result becomes final: its rows are kept, the
        changelog applied, and only the final rows go on, as insert-only rows (Flink's
        batch mode has no changelog). Identical rows meet in one subtask (hash by every
        column), so a retraction finds the row it retracts."""
        if not self.batch or child.changelog == ChangelogMode.INSERT_ONLY:
            return child
        fields = tuple(BoundField(f.name, parse_type(f.type), f.time_attribute) for f in child.schema)
        keys = tuple(f.name for f in child.schema)
        spec = SortSpec((), mode="batch")
        edge = self._edge(child, child.parallelism, keys)
        p = child.parallelism
        return self._add(_sort_name(spec), spec, (edge,), fields, p, ChangelogMode.INSERT_ONLY)

    def _watermark_assigner(self, node: WatermarkAssigner) -> Node:
        child = self._translate(node.input)
        spec_wm = WatermarkSpec(
            rowtime=node.rowtime,
            expr=codegen.to_duckdb(node.expr, node.input.field_type),
            idle_timeout_ms=_idle_timeout(node, self.config),
            emit_interval_ms=WATERMARK_INTERVAL.get(self.config) or 0,
        )
        return self._add_after(
            child,
            f"WatermarkAssigner(rowtime={node.rowtime}, watermark={node.expr_text})",
            spec_wm,
            node.fields,
        )

    def _window_assign(self, node: WindowAssign) -> Node:
        child = self._translate(node.input)
        return self._add_after(child, "WindowTableFunction", WindowAssignSpec(node.window), node.fields)

    def _aggregate(self, node: Aggregate) -> Node:
        child = self._translate(node.input)
        lookup = node.input.field_type
        aggs = tuple(
            AggCall(
                name=a.name,
                func=a.func,
                arg=codegen.to_duckdb(a.arg, lookup) if a.arg is not None else None,
                type=a.type.sql(),
                distinct=a.distinct,
                filter=codegen.to_duckdb(a.filter, lookup) if a.filter is not None else None,
                function=a.function.name if a.function is not None else None,
                args=tuple(codegen.to_duckdb(e, lookup) for e in a.args),
            )
            for a in node.aggs
        )
        check_python_aggregates(node, child.changelog != ChangelogMode.INSERT_ONLY, self.batch)
        p = self.default_parallelism if node.keys else 1
        edge = self._edge(child, p, node.keys)
        if node.window is not None:
            if child.changelog != ChangelogMode.INSERT_ONLY:
                raise PlanError("a window aggregation over an updating input is not supported")
            window_agg = WindowAggregateSpec(node.window, node.keys, aggs)
            if two_phase(window_agg, edge, self.config):
                edge = dataclasses.replace(edge, local_aggregate=True)
            insert_only = ChangelogMode.INSERT_ONLY
            return self._add("WindowAggregate", window_agg, (edge,), node.fields, p, insert_only)
        if edge.partitioning == Partitioning.HASH and not any(a.func == "udaf" for a in aggs):
            exprs = [e for a in node.aggs for e in (a.arg, a.filter, *a.args) if e is not None]
            names = [f.name for f in node.input.fields]
            edge = dataclasses.replace(edge, columns=read_columns(names, node.keys, exprs))
        spec_agg: OperatorSpec = GroupAggregateSpec(node.keys, aggs, self._state_ttl(node.state_ttl_ms))
        return self._add("GroupAggregate", spec_agg, (edge,), node.fields, p, ChangelogMode.ALL)

    def _state_ttl(self, hinted: int | None) -> int:
        """Idle state retention of an operator's input: its STATE_TTL hint, else
        ``table.exec.state.ttl``; none in batch mode, where state ends with the input."""
        if self.batch:
            return 0
        return (STATE_TTL.get(self.config) or 0) if hinted is None else hinted

    def _lookup_join(self, node: LookupJoin) -> Node:
        child = self._translate(node.input)
        dim_cols = node.table.schema.physical
        n_in = len(node.input.fields)
        dim_spec, dim_config = _configure(node.table)
        dim_config.check_lookup(table_info(node.table), [column for _, column in node.keys])
        spec_lj = LookupJoinSpec(
            table=node.table.name,
            connector=dim_spec.name,
            options=dict(node.table.options),
            columns=tuple(Field(c.name, c.type.sql()) for c in dim_cols),
            output_names=tuple(f.name for f in node.fields[n_in:]),
            keys=node.keys,
            join_type=node.join_type,
            residual=codegen.to_duckdb(node.residual, node.field_type) if node.residual is not None else None,
        )
        return self._add_after(child, f"LookupJoin({node.table.name})", spec_lj, node.fields)

    def _join(self, node: Join) -> Node:
        """Both sides hash-partitioned by the join key. A key whose two columns differ in
        type (INT = BIGINT) is compared in the wider type: the side that needs a cast
        gets a Calc adding the cast key as a column of its own (``__jk<i>``), so that both
        sides hash equal values alike."""
        sides: list[tuple[Node, tuple[str, ...]]] = []
        for index, side in enumerate((node.left, node.right)):
            child = self._translate(side)
            if (node.interval or node.window or (node.as_of and index == 0)) and (
                child.changelog != ChangelogMode.INSERT_ONLY
            ):
                kind = "IntervalJoin" if node.interval else "WindowJoin" if node.window else "TemporalJoin"
                raise UnsupportedError(
                    f"{kind} doesn't support consuming update and delete changes which is "
                    f"produced by {self._updating_producer(child)}",
                    hint="an interval or window join reads append-only inputs",
                )
            names = [k[index] for k in node.keys]
            other = [k[1 - index] for k in node.keys]
            other_side = node.right if index == 0 else node.left
            extra: list[tuple[BoundField, str]] = []
            for i, (name, o) in enumerate(zip(names, other)):
                mine = side.field_type(name)
                common = wider(mine, other_side.field_type(o)).with_nullable(True)
                if mine.with_nullable(True) != common:
                    cast = make_cast(exp.column(exp.to_identifier(name, quoted=True)), common)
                    extra.append((BoundField(f"__jk{i}", common), codegen.to_duckdb(cast, side.field_type)))
                    names[i] = f"__jk{i}"
            if extra:
                projections = tuple((f.name, f'"{f.name}"') for f in side.fields)
                projections += tuple((f.name, sql) for f, sql in extra)
                fields = side.fields + tuple(f for f, _ in extra)
                child = self._add_after(child, "Calc", CalcSpec(projections), fields)
            sides.append((child, tuple(names)))
        p = self.default_parallelism if node.keys else 1  # NOT IN over nullable columns: no key
        (left, lkeys), (right, rkeys) = sides
        residual = codegen.to_duckdb(node.residual, node.field_type) if node.residual is not None else None
        edges = (self._edge(left, p, lkeys), self._edge(right, p, rkeys))
        widths = (len(node.left.fields), len(node.right.fields))
        if node.interval is not None:
            b = node.interval
            spec_ij = IntervalJoinSpec(
                node.join_type, lkeys, rkeys, *widths, left_time=b.left_time, right_time=b.right_time,
                lower_ms=b.lower_ms, upper_ms=b.upper_ms, residual=residual,
            )  # fmt: skip
            name = _interval_join_name(spec_ij)
            return self._add(name, spec_ij, edges, node.fields, p, ChangelogMode.INSERT_ONLY)
        if node.as_of is not None:
            spec_tj = TemporalJoinSpec(node.join_type, lkeys, rkeys, *widths, *node.as_of, residual=residual)
            name = f"TemporalJoin(joinType=[{spec_tj.flink_join_type}])"
            return self._add(name, spec_tj, edges, node.fields, p, ChangelogMode.INSERT_ONLY)
        semi = node.join_type in ("semi", "anti")
        right_names = tuple(f.name for f in node.fields[widths[0] :]) if semi else ()
        if node.window is not None:
            lend, rend = (e.lower() for e in node.window_ends)
            left_end = [f.name.lower() for f in node.left.fields].index(lend)
            right_end = widths[0] + [f.name.lower() for f in node.right.fields].index(rend)
            ends = (node.fields[left_end].name, node.fields[right_end].name)
            spec_wj = WindowJoinSpec(
                node.join_type, lkeys, rkeys, *widths, *ends, node.window, residual=residual,
                right_names=right_names,
            )  # fmt: skip
            name = f"WindowJoin(joinType=[{spec_wj.flink_join_type}])"
            fields = node.fields[: node.output_width]
            return self._add(name, spec_wj, edges, fields, p, ChangelogMode.INSERT_ONLY)
        left_ttl, right_ttl = (self._state_ttl(t) for t in node.state_ttl_ms)
        spec = JoinSpec(
            node.join_type, lkeys, rkeys, *widths, left_ttl, right_ttl,
            residual=residual, right_names=right_names,
        )  # fmt: skip
        # Flink: an inner or semi join of two append-only inputs is append-only; an anti join
        # retracts a row when its first match arrives; an outer join its padded rows
        updating = node.join_type not in ("inner", "semi") or any(
            c.changelog != ChangelogMode.INSERT_ONLY for c in (left, right)
        )
        changelog = ChangelogMode.ALL if updating else ChangelogMode.INSERT_ONLY
        fields = node.fields[: node.output_width]
        return self._add(_join_name(spec), spec, edges, fields, p, changelog)

    def _correlate(self, node: Correlate) -> Node:
        """Row by row on its input: the input's parallelism and changelog (a -U row gives
        -U rows, retracting what its +I/+U gave)."""
        child = self._translate(node.input)
        lookup = node.input.field_type
        args = tuple(codegen.to_duckdb(a, lookup) for a in node.args)
        name = node.function.name if node.function is not None else None
        call = node.text or f"{name or 'UNNEST'}(...)"
        n_in = len(node.input.fields)
        spec = CorrelateSpec(name, args, _fields(node.fields[n_in:]), node.join_type, call)
        kind = "INNER" if node.join_type == "inner" else "LEFT"
        return self._add_after(child, f"Correlate(invocation=[{call}], joinType=[{kind}])", spec, node.fields)

    def _union(self, node: Union) -> Node:
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

    def _collect(self, node: Collect) -> Node:
        child = self._final(self._translate(node.input))
        return self._add("Collect", CollectSpec(), (self._edge(child, 1),), node.fields, 1, child.changelog)

    def _sink(self, node: Sink) -> Node:
        child = self._final(self._translate(node.input))
        table = node.table
        spec, connector_config = _configure(table)
        if not spec.sink:
            raise PlanError(
                f"table '{table.name}' uses connector '{spec.name}', which can only be read",
                hint=f"write into a table whose connector is a sink ({_connectors(lambda s: s.sink)})",
            )
        pk = table.schema.primary_key
        changelog = child.changelog
        accepted = sink_changelogs(spec, table.options)
        if changelog != ChangelogMode.INSERT_ONLY:
            producer = self._updating_producer(child)
            if ChangelogMode.ALL not in accepted and ChangelogMode.UPSERT not in accepted:
                raise PlanError(
                    f"table sink '{table.name}' (connector '{spec.name}') doesn't support consuming "
                    f"update changes, which are produced by {producer}",
                    hint="write the result into a table with a PRIMARY KEY on an upsert-capable "
                    f"connector ({_connectors(lambda s: ChangelogMode.UPSERT in s.sink_changelog)}), "
                    "or use a window aggregation, whose result is append-only",
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
        for column in table.schema.columns:
            why = spec.sink_type_error(column.type) if column.is_persisted else None
            if why:
                raise PlanError(f"table '{table.name}': column '{column.name}' has {why}")
        info = table_info(table)
        connector_config.check_sink(info, spec.requested_guarantee(table.options), self.config)
        p = child.parallelism
        if "sink.parallelism" in table.options:
            p = parse_int(table.options["sink.parallelism"], "sink.parallelism")
        if node.on_conflict is not None:
            sink_materialize.check_on_conflict(node.on_conflict, table.name, bool(pk), accepted, changelog)
        if pk and ChangelogMode.UPSERT in accepted and not self.batch:
            found = sink_materialize.materialized_key(
                self.config,
                table.name,
                pk,
                [f.name for f in node.fields],
                child,
                self.nodes,
                node.on_conflict,
            )
            if found is not None:
                child = self._materializer(child, *found, p)
                changelog = child.changelog
        keys = pk if (pk and changelog != ChangelogMode.INSERT_ONLY) else ()
        if not keys and connector_config.shuffle_by_partition(info):
            keys = tuple(table.partition_keys)
        guarantee = delivery_guarantee(spec.name, table.options, self.config)
        edge = self._edge(child, p, keys, strict=False)  # a sink keeps no state by key
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
            partition_keys=tuple(table.partition_keys),
            not_null_enforcer=SINK_NOT_NULL_ENFORCER.get(self.config) or "ERROR",
        )
        return self._add(f"Sink({table.name})", sink, (edge,), node.fields, p, changelog)

    def _materializer(self, child: Node, keys: tuple[str, ...], upsert_key: tuple[str, ...], p: int) -> Node:
        """Flink's SinkUpsertMaterializer in front of a sink that writes by ``keys``, hash
        partitioned by them (``planner.sink_materialize``); it sends an upsert stream keyed
        by them, which the sink writes as it is."""
        fields = tuple(BoundField(f.name, parse_type(f.type), f.time_attribute) for f in child.schema)
        spec = SinkMaterializerSpec(keys, upsert_key, self._state_ttl(None))
        name = f"SinkMaterializer(pk=[{', '.join(keys)}])"
        node = self._add(name, spec, (self._edge(child, p, keys),), fields, p, ChangelogMode.UPSERT)
        self._upsert_keys[node.id] = keys
        return node

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
        if isinstance(current.spec, JoinSpec):
            return f"node {_join_name(current.spec)}"
        return f"node {current.name}"


_TRANSLATORS: dict[type[LogicalNode], Callable[[PhysicalPlanner, Any], Node]] = {
    Scan: PhysicalPlanner._scan,
    Values: PhysicalPlanner._values,
    Calc: PhysicalPlanner._calc,
    Expand: PhysicalPlanner._expand,
    Replicate: PhysicalPlanner._replicate,
    Sort: PhysicalPlanner._sort,
    WatermarkAssigner: PhysicalPlanner._watermark_assigner,
    WindowAssign: PhysicalPlanner._window_assign,
    Aggregate: PhysicalPlanner._aggregate,
    LookupJoin: PhysicalPlanner._lookup_join,
    Join: PhysicalPlanner._join,
    Correlate: PhysicalPlanner._correlate,
    Union: PhysicalPlanner._union,
    Rank: plan_rank,
    Match: plan_match,
    OverAggregate: plan_over_aggregate,
    BatchOver: plan_batch_over,
    Sink: PhysicalPlanner._sink,
    Collect: PhysicalPlanner._collect,
}


def _sort_name(spec: SortSpec) -> str:
    """Flink's node names: Limit (the first rows), TemporalSort, Sort, SortLimit;
    the batch mode's materialization of an updating result (no order, no limit) is ours."""
    if spec.mode == "batch":
        if not spec.order and spec.fetch is None and not spec.offset:
            return "FinalRows"
        return "SortLimit" if spec.fetch is not None else ("Sort" if spec.order else "Limit")
    return {"temporal": "TemporalSort"}.get(spec.mode, "Limit")


def _join_name(spec: JoinSpec) -> str:
    """Flink's name of a join node, as its error messages and EXPLAIN show it."""
    return f"Join(joinType=[{spec.flink_join_type}])"


def _interval_join_name(spec: IntervalJoinSpec) -> str:
    return (
        f"IntervalJoin(joinType=[{spec.flink_join_type}], windowBounds=[isRowTime=true, "
        f"leftLowerBound={spec.lower_ms}, leftUpperBound={spec.upper_ms}])"
    )
