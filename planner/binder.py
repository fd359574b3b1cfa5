"""The binder: resolves names and types of a parsed query against the catalog and builds
the logical plan.

It decides what a query means in Flink's terms: which columns are time attributes, which
GROUP BY is a window aggregation (window TVF or legacy group window) and which an
updating one, and what each output column is called. Whatever it cannot give Flink's
meaning to is refused here, naming the construct and its position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from catalog.connectors import validate_options
from catalog.errors import CatalogError, SqlStreamError, did_you_mean
from catalog.schema import ColumnKind
from catalog.store import Catalog
from catalog.table import TableDef, ViewDef
from catalog.types import BIGINT, TIMESTAMP3, DataType
from planner import codegen
from planner.dialect import Flink
from planner.errors import PlanError, UnsupportedError
from planner.expressions import WindowTVF
from planner.logical import (
    Aggregate,
    BoundField,
    Calc,
    Collect,
    LogicalAgg,
    LogicalNode,
    LookupJoin,
    Scan,
    Sink,
    Union,
    WatermarkAssigner,
    WindowAssign,
)
from planner.physical import Window
from planner.typecheck import check_comparisons, function_name, infer, make_cast, wider

WINDOW_COLUMNS = ("window_start", "window_end", "window_time")
_LEGACY_WINDOWS = {"TUMBLE": "tumble", "HOP": "hop", "SESSION": "session"}
_LEGACY_AUX = {"_START": "window_start", "_END": "window_end", "_ROWTIME": "window_time",
               "_PROCTIME": "window_time"}  # fmt: skip
_AGGS = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)


@dataclass(frozen=True)
class ScopeField:
    qualifiers: frozenset[str]
    field: BoundField
    alias: str | None = None  # the name SQL uses, when the field was renamed (a join's clash)

    @property
    def name(self) -> str:
        return self.alias or self.field.name


@dataclass
class Scope:
    fields: list[ScopeField] = field(default_factory=list)

    @classmethod
    def of(cls, node: LogicalNode, qualifiers: set[str]) -> Scope:
        quals = frozenset(q.lower() for q in qualifiers if q)
        return cls([ScopeField(quals, f) for f in node.fields])

    def lookup(self, name: str, qualifier: str | None) -> BoundField | None:
        matches = [
            sf
            for sf in self.fields
            if sf.name.lower() == name.lower() and (qualifier is None or qualifier.lower() in sf.qualifiers)
        ]
        exact = [sf for sf in matches if sf.name == name]
        if len(matches) > 1 and len(exact) != 1:
            raise PlanError(f"column '{name}' is ambiguous", hint="qualify it with its table's name or alias")
        found = exact[0] if exact else (matches[0] if matches else None)
        return found.field if found else None

    @property
    def qualifiers(self) -> set[str]:
        return {q for sf in self.fields for q in sf.qualifiers}

    @property
    def names(self) -> list[str]:
        return [sf.name for sf in self.fields]


def position(node: exp.Expr) -> tuple[int | None, int | None]:
    """Line and column of a node, from the token meta sqlglot keeps on identifiers."""
    for sub in node.walk():
        meta = sub.meta if isinstance(sub, exp.Expr) else {}
        if "line" in meta:
            return meta["line"], meta.get("col")
    return None, None


def _err(error: SqlStreamError, node: exp.Expr) -> SqlStreamError:
    line, col = position(node)
    return error.with_position(line, col)


ParseExpression = Callable[[str], exp.Expr]
ParseQuery = Callable[[str], exp.Expr]


class Binder:
    """Binds queries and INSERTs of one statement against a catalog and configuration."""

    def __init__(
        self,
        catalog: Catalog,
        config: Mapping[str, str],
        parse_expression: ParseExpression,
        parse_query: ParseQuery,
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.parse_expression = parse_expression
        self.parse_query = parse_query
        self._view_stack: list[str] = []

    # ---- statements ------------------------------------------------------------------
    def bind_insert(self, table_name: str, query: exp.Expr, columns: tuple[str, ...]) -> Sink:
        obj = self.catalog.resolve(table_name)
        if isinstance(obj, ViewDef):
            raise CatalogError(f"cannot INSERT INTO view '{table_name}'", hint="insert into a table")
        validate_options(obj.options, f"table '{obj.name}'")
        node = self.bind_query(query, {})
        target = [c for c in obj.schema.columns if c.is_persisted]
        if columns:
            for c in columns:
                if obj.schema.find(c) is None or not obj.schema.column(c).is_persisted:
                    raise CatalogError(
                        f"column '{c}' of table '{obj.name}' cannot be inserted into",
                        hint=did_you_mean(c, [t.name for t in target]),
                    )
            if len(columns) != len(node.fields):
                raise PlanError(
                    f"INSERT INTO {obj.name} lists {len(columns)} columns but the query "
                    f"produces {len(node.fields)}"
                )
            by_name = {c.lower(): f for c, f in zip(columns, node.fields)}
            projections: list[tuple[str, exp.Expr]] = []
            for col in target:
                src = by_name.get(col.name.lower())
                value: exp.Expr = exp.column(exp.to_identifier(src.name, quoted=True)) if src else exp.null()
                projections.append((col.name, _cast_if_needed(value, src.type if src else None, col.type)))
        else:
            if len(target) != len(node.fields):
                raise PlanError(
                    f"the query produces {len(node.fields)} columns but table '{obj.name}' "
                    f"has {len(target)}: {', '.join(c.name for c in target)}",
                    hint="list the target columns, INSERT INTO t (a, b) SELECT ...",
                )
            projections = []
            for col, src in zip(target, node.fields):
                _check_assignable(src.type, col.type, col.name, obj.name)
                ref = exp.column(exp.to_identifier(src.name, quoted=True))
                projections.append((col.name, _cast_if_needed(ref, src.type, col.type)))
        fields = tuple(BoundField(c.name, c.type) for c in target)
        if any(p[0] != f.name or not _is_ref(p[1], f.name) for p, f in zip(projections, node.fields)):
            node = Calc(fields, node, tuple(projections))
        return Sink(fields, node, obj)

    def bind_select(self, query: exp.Expr) -> Collect:
        node = self.bind_query(query, {})
        return Collect(node.fields, node)

    # ---- queries ---------------------------------------------------------------------
    def bind_query(self, query: exp.Expr, ctes: dict[str, exp.Expr]) -> LogicalNode:
        if isinstance(query, exp.Subquery):
            return self.bind_query(query.this, ctes)
        with_ = query.args.get("with_") or query.args.get("with")
        if with_ is not None:
            ctes = dict(ctes)
            for cte in with_.expressions:
                ctes[cte.alias_or_name.lower()] = cte.this
        if isinstance(query, exp.Union):
            return self._bind_union(query, ctes)
        if isinstance(query, exp.Select):
            return self._bind_select(query, ctes)
        raise _err(UnsupportedError(f"{type(query).__name__.upper()} queries are not supported"), query)

    def _bind_union(self, query: exp.Union, ctes: dict[str, exp.Expr]) -> LogicalNode:
        if query.args.get("distinct"):
            raise _err(
                UnsupportedError("UNION (distinct) is not supported yet", hint="use UNION ALL"),
                query,
            )
        if not isinstance(query, exp.Union) or type(query) is not exp.Union:
            raise _err(UnsupportedError(f"{type(query).__name__.upper()} is not supported"), query)
        left = self.bind_query(query.left, ctes)
        right = self.bind_query(query.right, ctes)
        if len(left.fields) != len(right.fields):
            raise _err(
                PlanError(
                    f"the inputs of UNION ALL have {len(left.fields)} and {len(right.fields)} "
                    "columns; they must have the same number"
                ),
                query,
            )
        fields = tuple(
            BoundField(
                lf.name,
                wider(lf.type, rf.type),
                lf.time_attribute if lf.time_attribute == rf.time_attribute else None,
            )
            for lf, rf in zip(left.fields, right.fields)
        )
        children = []
        for child in (left, right):
            if any(c.name != f.name or c.type != f.type for c, f in zip(child.fields, fields)):
                projections = tuple(
                    (
                        f.name,
                        _cast_if_needed(exp.column(exp.to_identifier(c.name, quoted=True)), c.type, f.type),
                    )
                    for c, f in zip(child.fields, fields)
                )
                child = Calc(fields, child, projections)
            children.append(child)
        return Union(fields, tuple(children))

    # ---- FROM --------------------------------------------------------------------------
    def _bind_from(self, select: exp.Select, ctes: dict[str, exp.Expr]) -> tuple[LogicalNode, Scope]:
        from_ = select.args.get("from_") or select.args.get("from")
        if from_ is None:
            raise _err(UnsupportedError("SELECT without FROM is not supported yet"), select)
        node, scope = self._bind_relation(from_.this, ctes)
        for join in select.args.get("joins") or []:
            node, scope = self._bind_lookup_join(node, scope, join)
        return node, scope

    def _bind_lookup_join(self, left: LogicalNode, scope: Scope, join: exp.Join) -> tuple[LogicalNode, Scope]:
        """``JOIN dim FOR SYSTEM_TIME AS OF t.proc AS d ON t.k = d.k``: each row looks its
        key up in the dimension table as it is at processing time (Flink's lookup join)."""
        table = join.this
        version = table.args.get("version") if isinstance(table, exp.Table) else None
        if version is None:
            raise _err(
                UnsupportedError(
                    "regular joins are not supported yet",
                    hint="a lookup join works: JOIN dim FOR SYSTEM_TIME AS OF t.proc_time AS d ON ...",
                ),
                join,
            )
        kind = (join.args.get("side") or "").upper()
        if kind not in ("", "LEFT") or (join.args.get("kind") or "").upper() not in ("", "INNER", "OUTER"):
            raise _err(UnsupportedError(f"{kind or join.args.get('kind')} lookup joins"), join)
        if join.args.get("using"):
            raise _err(UnsupportedError("JOIN ... USING in a lookup join", hint="write ON a = b"), join)
        time_expr = self.bind_expr(version.expression, scope)
        time_field = left.field(time_expr.name) if isinstance(time_expr, exp.Column) else None
        if time_field is None or time_field.time_attribute != "proctime":
            raise _err(
                UnsupportedError(
                    "FOR SYSTEM_TIME AS OF needs a processing-time attribute (event-time temporal "
                    "joins are not supported yet)",
                    hint="declare proc_time AS PROCTIME() on the probe table and use it",
                ),
                version,
            )
        try:
            dim = self.catalog.table(table.name)
        except SqlStreamError as e:
            raise _err(e, table) from None
        spec = validate_options(dim.options, f"table '{dim.name}'")
        if not spec.lookup:
            raise _err(
                UnsupportedError(f"connector '{spec.name}' of table '{dim.name}' cannot be looked up"),
                table,
            )
        dim_alias = table.alias_or_name
        taken = {f.name.lower() for f in left.fields}
        dim_fields: list[BoundField] = []
        dim_scope: list[ScopeField] = []
        for col in dim.schema.physical:
            name = col.name
            n = 0
            while name.lower() in taken:
                name = f"{col.name}{n}"
                n += 1
            taken.add(name.lower())
            f = BoundField(name, col.type)
            dim_fields.append(f)
            dim_scope.append(ScopeField(frozenset({dim_alias.lower(), dim.name.lower()}), f, col.name))
        joined = Scope(scope.fields + dim_scope)
        on = join.args.get("on")
        if on is None:
            raise _err(PlanError("a lookup join needs ON with an equality on the dimension's key"), join)
        condition = self.bind_expr(on, joined)
        dim_names = {f.name for f in dim_fields}
        keys: list[tuple[str, str]] = []
        rest: list[exp.Expr] = []
        for conj in condition.flatten() if isinstance(condition, exp.And) else [condition]:
            if isinstance(conj, exp.EQ) and all(isinstance(s, exp.Column) for s in (conj.left, conj.right)):
                a, b = conj.left.name, conj.right.name
                if a in dim_names and b not in dim_names:
                    a, b = b, a
                if b in dim_names and a not in dim_names:
                    keys.append((a, _original(dim_scope, b)))
                    continue
            rest.append(conj)
        if not keys:
            raise _err(
                PlanError(
                    f"the ON condition of the lookup join needs an equality between a column of the "
                    f"probe side and a column of '{dim.name}'"
                ),
                on,
            )
        residual = exp.and_(*rest) if rest else None
        fields = tuple(left.fields) + tuple(dim_fields)
        node = LookupJoin(fields, left, dim, tuple(keys), "left" if kind == "LEFT" else "inner", residual)
        return node, joined

    def _bind_relation(self, rel: exp.Expr, ctes: dict[str, exp.Expr]) -> tuple[LogicalNode, Scope]:
        if isinstance(rel, WindowTVF):
            return self._bind_window_tvf(rel, ctes)
        if isinstance(rel, exp.Table):
            if isinstance(rel.this, exp.Anonymous | exp.Func):
                raise _err(UnsupportedError(f"table function {rel.this.sql()} is not supported"), rel)
            if rel.args.get("version") is not None:
                raise _err(UnsupportedError("FOR SYSTEM_TIME AS OF (lookup join) is not supported yet"), rel)
            name = rel.name
            alias = rel.alias_or_name
            if name.lower() in ctes and not rel.db:
                node = self.bind_query(ctes[name.lower()], ctes)
                return node, Scope.of(node, {name, alias})
            try:
                obj = self.catalog.resolve(name)
            except SqlStreamError as e:
                raise _err(e, rel) from None
            node = self.scan(obj) if isinstance(obj, TableDef) else self._bind_view(obj, rel)
            return node, Scope.of(node, {name, alias})
        if isinstance(rel, exp.Subquery):
            node = self.bind_query(rel.this, ctes)
            return node, Scope.of(node, {rel.alias})
        raise _err(UnsupportedError(f"{rel.sql(dialect='spark')} in FROM is not supported"), rel)

    def _bind_view(self, view: ViewDef, where: exp.Expr) -> LogicalNode:
        if view.name.lower() in self._view_stack:
            raise _err(PlanError(f"view '{view.name}' refers to itself"), where)
        self._view_stack.append(view.name.lower())
        try:
            node = self.bind_query(self.parse_query(view.query), {})
        finally:
            self._view_stack.pop()
        if view.columns:
            projections = tuple(
                (name, exp.column(exp.to_identifier(f.name, quoted=True)))
                for name, f in zip(view.columns, node.fields)
            )
            fields = tuple(
                BoundField(name, f.type, f.time_attribute) for name, f in zip(view.columns, node.fields)
            )
            node = Calc(fields, node, projections)
        return node

    def scan(self, table: TableDef, reading: bool = True) -> LogicalNode:
        """Scan -> Calc (computed columns) -> WatermarkAssigner, as Flink plans a source.
        ``reading=False`` only describes the columns (DESCRIBE of a sink-only table)."""
        spec = validate_options(table.options, f"table '{table.name}'")
        if reading and not spec.source:
            raise CatalogError(
                f"table '{table.name}' uses connector '{spec.name}', which can only be written to"
            )
        schema = table.schema
        metadata: dict[str, str] = {}
        scan_fields: list[BoundField] = []
        for col in schema.columns:
            if col.kind == ColumnKind.PHYSICAL:
                scan_fields.append(BoundField(col.name, col.type))
            elif col.kind == ColumnKind.METADATA:
                key = col.metadata_key or col.name
                if key not in spec.metadata:
                    raise CatalogError(
                        f"table '{table.name}': connector '{spec.name}' has no metadata key '{key}'",
                        hint=did_you_mean(key, spec.metadata)
                        or (f"available keys: {', '.join(spec.metadata) or 'none'}"),
                    )
                metadata[col.name] = key
                scan_fields.append(BoundField(col.name, col.type))
        node: LogicalNode = Scan(tuple(scan_fields), table, metadata)
        computed = [c for c in schema.columns if c.kind == ColumnKind.COMPUTED]
        if computed:
            scope = Scope.of(node, {table.name})
            projections: list[tuple[str, exp.Expr]] = []
            fields: list[BoundField] = []
            for col in schema.columns:
                if col.kind == ColumnKind.COMPUTED:
                    expr = self.bind_expr(self.parse_expression(col.expr or ""), scope)
                    is_proc = function_name(expr) == "PROCTIME" if isinstance(expr, exp.Func) else False
                    ctype = infer(expr, _lookup(node))
                    fields.append(BoundField(col.name, ctype, "proctime" if is_proc else None))
                    projections.append((col.name, expr))
                else:
                    fields.append(node.field(col.name))
                    projections.append((col.name, _ref(col.name)))
            node = Calc(tuple(fields), node, tuple(projections))
        if schema.watermark:
            rowtime = schema.column(schema.watermark.column).name
            rt_type = node.field(rowtime).type
            if not rt_type.is_timestamp:
                raise CatalogError(
                    f"table '{table.name}': the rowtime column '{rowtime}' must be TIMESTAMP(3) "
                    f"or TIMESTAMP_LTZ(3), not {rt_type.sql()}"
                )
            expr = self.bind_expr(self.parse_expression(schema.watermark.expr), Scope.of(node, {table.name}))
            fields_wm = tuple(
                BoundField(f.name, f.type, "rowtime") if f.name == rowtime else f for f in node.fields
            )
            node = WatermarkAssigner(fields_wm, node, rowtime, expr, schema.watermark.expr)
        return node

    def _bind_window_tvf(self, tvf: WindowTVF, ctes: dict[str, exp.Expr]) -> tuple[LogicalNode, Scope]:
        inner, inner_scope = self._bind_relation(tvf.this, ctes)
        kind = tvf.text("kind").lower()
        column = tvf.args["time_column"]
        time_name = column.name if isinstance(column, exp.Expr) else str(column)
        time_field = inner_scope.lookup(time_name, None)
        if time_field is None:
            raise _err(
                CatalogError(
                    f"column '{time_name}' in DESCRIPTOR not found",
                    hint=did_you_mean(time_name, inner_scope.names),
                ),
                tvf,
            )
        if time_field.time_attribute is None:
            raise _err(
                PlanError(
                    f"the window function {kind.upper()} needs a time attribute, but "
                    f"'{time_field.name}' is a plain {time_field.type.sql()}",
                    hint="declare WATERMARK FOR it in the table, or use a PROCTIME() column",
                ),
                tvf,
            )
        partition = tuple(
            self._require_column(p, inner_scope).name for p in tvf.args.get("partition_by") or ()
        )
        window = Window(
            type=kind,
            time_column=time_field.name,
            size_ms=_interval_ms(tvf.args.get("size")),
            slide_ms=_interval_ms(tvf.args.get("slide")),
            step_ms=_interval_ms(tvf.args.get("step")),
            offset_ms=_interval_ms(tvf.args.get("offset")),
            gap_ms=_interval_ms(tvf.args.get("gap")),
            proctime=time_field.time_attribute == "proctime",
        )
        _check_window(window, tvf)
        fields = tuple(
            BoundField(f.name, f.type) if f.time_attribute == "rowtime" else f for f in inner.fields
        ) + _window_fields(window)
        node = WindowAssign(fields, inner, window)
        if partition:
            object.__setattr__(node, "partition_keys", partition)
        alias = tvf.alias
        return node, Scope.of(node, {alias} | inner_scope.qualifiers if not alias else {alias})

    # ---- SELECT ----------------------------------------------------------------------
    def _bind_select(self, select: exp.Select, ctes: dict[str, exp.Expr]) -> LogicalNode:
        for arg, name in (("order", "ORDER BY"), ("limit", "LIMIT"), ("offset", "OFFSET"),
                          ("windows", "WINDOW clause"), ("qualify", "QUALIFY")):  # fmt: skip
            if select.args.get(arg):
                raise _err(UnsupportedError(f"{name} is not supported yet"), select.args[arg])
        node, scope = self._bind_from(select, ctes)
        where = select.args.get("where")
        condition = None
        if where is not None:
            condition = self.bind_expr(where.this, scope)
            if any(isinstance(n, _AGGS) for n in condition.walk()):
                raise _err(
                    PlanError("aggregate functions are not allowed in WHERE", hint="use HAVING"), where
                )
        items = self._select_items(select, scope)
        group = select.args.get("group")
        having = select.args.get("having")
        has_aggs = any(isinstance(n, _AGGS) for _, e in items for n in e.walk())
        if select.args.get("distinct") and not group and not has_aggs:
            group_exprs = [e for _, e in items]
            return self._bind_aggregate(node, scope, items, group_exprs, None, condition, select)
        if group is None and not has_aggs:
            if having is not None:
                raise _err(PlanError("HAVING needs GROUP BY or an aggregate"), having)
            fields = tuple(_output_field(name, e, node) for name, e in items)
            return Calc(fields, node, tuple(items), condition)
        group_exprs = [self.bind_expr(g, scope) for g in (group.expressions if group else [])]
        having_expr = self.bind_expr(having.this, scope) if having is not None else None
        return self._bind_aggregate(node, scope, items, group_exprs, having_expr, condition, select)

    def _select_items(self, select: exp.Select, scope: Scope) -> list[tuple[str, exp.Expr]]:
        items: list[tuple[str, exp.Expr]] = []
        for i, proj in enumerate(select.expressions):
            if isinstance(proj, exp.Star) or (
                isinstance(proj, exp.Column) and isinstance(proj.this, exp.Star)
            ):
                qualifier = proj.table if isinstance(proj, exp.Column) else None
                chosen = [
                    sf.field for sf in scope.fields if not qualifier or qualifier.lower() in sf.qualifiers
                ]
                if not chosen:
                    raise _err(CatalogError(f"no table '{qualifier}' in FROM"), proj)
                items.extend((f.name, _ref(f.name)) for f in chosen)
                continue
            bound = self.bind_expr(proj.this if isinstance(proj, exp.Alias) else proj, scope)
            if isinstance(proj, exp.Alias):
                name = proj.alias
            elif isinstance(proj, exp.Column):
                name = proj.name
            elif isinstance(proj, exp.Dot):
                name = proj.expression.name
            else:
                name = f"EXPR${i}"
            items.append((name, bound))
        seen: dict[str, int] = {}
        result = []
        for name, e in items:  # Flink de-duplicates output names with a suffix
            n = seen.get(name.lower(), 0)
            seen[name.lower()] = n + 1
            result.append((name if n == 0 else f"{name}{n - 1}", e))
        return result

    # ---- aggregation -----------------------------------------------------------------
    def _bind_aggregate(
        self,
        node: LogicalNode,
        scope: Scope,
        items: list[tuple[str, exp.Expr]],
        group_exprs: list[exp.Expr],
        having: exp.Expr | None,
        condition: exp.Expr | None,
        select: exp.Select,
    ) -> LogicalNode:
        window: Window | None = None
        keys_exprs: list[exp.Expr] = []
        for g in group_exprs:
            legacy = _legacy_window(g, node)
            if legacy is not None:
                if window is not None:
                    raise _err(UnsupportedError("more than one group window in GROUP BY"), g)
                window = legacy
                continue
            keys_exprs.append(g)
        source = node
        if window is None and isinstance(node, WindowAssign):
            names = {e.name for e in keys_exprs if isinstance(e, exp.Column)}
            if {"window_start", "window_end"} <= names:
                window = node.window
                source = node.input
                keys_exprs = [
                    e for e in keys_exprs if not (isinstance(e, exp.Column) and e.name in WINDOW_COLUMNS)
                ]
                if condition is not None and any(
                    isinstance(c, exp.Column) and c.name in WINDOW_COLUMNS for c in condition.walk()
                ):
                    raise _err(
                        UnsupportedError("filtering on window columns before a window aggregation"),
                        select,
                    )
        if window is not None and source.updating:
            raise _err(UnsupportedError("a window aggregation over an updating input"), select)
        if window is not None and window.type == "session":
            partition = getattr(node, "partition_keys", ())
            for p in partition:
                if not any(isinstance(k, exp.Column) and k.name == p for k in keys_exprs):
                    keys_exprs.append(_ref(p))
        # Pre-aggregation calc: WHERE and computed group keys.
        key_names: list[str] = []
        pre_items: list[tuple[str, exp.Expr]] = []
        key_of: dict[str, str] = {}
        for i, k in enumerate(keys_exprs):
            if isinstance(k, exp.Column):
                key_names.append(k.name)
                key_of[k.sql()] = k.name
            else:
                name = f"$f{i}"
                pre_items.append((name, k))
                key_names.append(name)
                key_of[k.sql()] = name
        if pre_items or condition is not None:
            keep = [(f.name, _ref(f.name)) for f in source.fields]
            pre_fields = tuple(source.fields) + tuple(
                BoundField(n, infer(e, _lookup(source))) for n, e in pre_items
            )
            source = Calc(pre_fields, source, tuple(keep + pre_items), condition)
        # Aggregate calls from the select list and HAVING.
        aggs: list[LogicalAgg] = []
        agg_of: dict[str, str] = {}
        lookup = _lookup(source)

        def collect(e: exp.Expr) -> None:
            for sub in e.walk():
                if isinstance(sub, exp.Filter) and isinstance(sub.this, _AGGS):
                    target: exp.Expr = sub
                elif isinstance(sub, _AGGS) and not isinstance(sub.parent, exp.Filter):
                    target = sub
                else:
                    continue
                text = target.sql()
                if text in agg_of:
                    continue
                name = f"$a{len(aggs)}"
                agg_of[text] = name
                aggs.append(_make_agg(name, target, lookup))

        for _, e in items:
            collect(e)
        if having is not None:
            collect(having)
        agg_node_fields = tuple(source.field(k) for k in key_names)
        if window is not None:
            agg_node_fields = tuple(
                BoundField(f.name, f.type) if f.time_attribute == "rowtime" else f for f in agg_node_fields
            ) + _window_fields(window)
        agg_node_fields += tuple(BoundField(a.name, a.type) for a in aggs)
        agg = Aggregate(agg_node_fields, source, tuple(key_names), tuple(aggs), window)
        # Post-aggregation calc: the select list over keys, window columns and aggregates.

        def rewrite(e: exp.Expr) -> exp.Expr:
            def visit(n: exp.Expr) -> exp.Expr:
                text = n.sql()
                if text in agg_of:
                    return _ref(agg_of[text])
                if text in key_of and not isinstance(n.parent, exp.Filter):
                    return _ref(key_of[text])
                aux = _legacy_aux(n, window)
                if aux is not None:
                    return _ref(aux)
                return n

            out = e.copy().transform(visit)
            allowed = {f.name for f in agg.fields}
            for col in out.find_all(exp.Column):
                if col.name not in allowed:
                    raise _err(
                        PlanError(
                            f"column '{col.name}' must appear in GROUP BY or be used in an aggregate function"
                        ),
                        col,
                    )
            return out

        post = [(name, rewrite(e)) for name, e in items]
        post_having = rewrite(having) if having is not None else None
        fields = tuple(_output_field(name, e, agg) for name, e in post)
        return Calc(fields, agg, tuple(post), post_having)

    # ---- expressions -----------------------------------------------------------------
    def bind_expr(self, expr: exp.Expr, scope: Scope) -> exp.Expr:
        """Resolve column references to input fields; nested ROW access becomes ``Dot``."""

        def visit(n: exp.Expr) -> exp.Expr:
            if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star):
                return self._bind_column(n, scope)
            return n

        bound = expr.copy().transform(visit)
        types = {sf.field.name: sf.field.type for sf in scope.fields}
        try:
            codegen.check_supported(bound)
            check_comparisons(bound, types.__getitem__)
        except SqlStreamError as e:
            raise _err(e, expr) from None
        return bound

    def _bind_column(self, col: exp.Column, scope: Scope) -> exp.Expr:
        parts = [p.name for p in col.parts]
        # Try the longest qualifier prefix that names a table in scope, then ROW fields.
        for split in range(len(parts) - 1, -1, -1):
            qualifier = parts[split - 1] if split >= 1 else None
            if split >= 2:
                continue
            name = parts[split]
            try:
                found = scope.lookup(name, qualifier)
            except SqlStreamError as e:
                raise _err(e, col) from None
            if found is None:
                continue
            result: exp.Expr = _ref(found.name)
            for f in parts[split + 1 :]:
                result = exp.Dot(this=result, expression=exp.to_identifier(f))
            result.meta.update(col.meta)
            return result
        name = parts[-1] if len(parts) == 1 or parts[0].lower() in scope.qualifiers else parts[0]
        raise _err(
            CatalogError(
                f"column '{'.'.join(parts)}' not found",
                hint=did_you_mean(name, scope.names) or f"available columns: {', '.join(scope.names[:12])}",
            ),
            col,
        )

    def _require_column(self, e: exp.Expr, scope: Scope) -> BoundField:
        name = e.name
        found = scope.lookup(name, None)
        if found is None:
            raise _err(CatalogError(f"column '{name}' not found", hint=did_you_mean(name, scope.names)), e)
        return found


# ---- helpers --------------------------------------------------------------------------


def _original(scope_fields: list[ScopeField], field_name: str) -> str:
    """The dimension table's own name of a (possibly renamed) joined field."""
    for sf in scope_fields:
        if sf.field.name == field_name:
            return sf.name
    return field_name


def _ref(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True))


def _is_ref(e: exp.Expr, name: str) -> bool:
    return isinstance(e, exp.Column) and e.name == name


def _lookup(node: LogicalNode) -> Callable[[str], DataType]:
    types = {f.name: f.type for f in node.fields}

    def lookup(name: str) -> DataType:
        return types[name]

    return lookup


def _output_field(name: str, e: exp.Expr, node: LogicalNode) -> BoundField:
    t = infer(e, _lookup(node))
    attr = None
    if isinstance(e, exp.Column):
        attr = node.field(e.name).time_attribute
    elif isinstance(e, exp.Func) and function_name(e) == "PROCTIME":
        attr = "proctime"
    return BoundField(name, t, attr)


def _window_fields(window: Window) -> tuple[BoundField, ...]:
    ts = TIMESTAMP3.with_nullable(False)
    attr = "proctime" if window.proctime else "rowtime"
    return (
        BoundField("window_start", ts),
        BoundField("window_end", ts),
        BoundField("window_time", ts, attr),
    )


def _interval_ms(e: exp.Expr | None) -> int:
    """Milliseconds of an INTERVAL literal (``INTERVAL '10' MINUTES``, ``'1:30' MINUTE TO SECOND``)."""
    if e is None:
        return 0
    if isinstance(e, exp.Paren):
        return _interval_ms(e.this)
    if not isinstance(e, exp.Interval):
        raise _err(PlanError(f"expected an INTERVAL, got {e.sql()}"), e)
    value = e.this.name if isinstance(e.this, exp.Expr) else str(e.this)
    unit_node = e.args.get("unit")
    unit = (unit_node.sql() if unit_node is not None else "").upper()
    return _interval_text_ms(value, unit, e)


_UNIT_MS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000,
            "WEEK": 7 * 86_400_000}  # fmt: skip


def _interval_text_ms(value: str, unit: str, where: exp.Expr) -> int:
    value = value.strip()
    if not unit:
        pieces = value.split()
        if len(pieces) == 2:
            value, unit = pieces
    if " TO " in unit:
        first, last = (u.strip().rstrip("S") for u in unit.split(" TO "))
        order = ["DAY", "HOUR", "MINUTE", "SECOND"]
        if first not in order or last not in order:
            raise _err(PlanError(f"unsupported interval unit {unit}"), where)
        units = order[order.index(first) : order.index(last) + 1]
        numbers = value.replace(" ", ":").split(":")
        if len(numbers) != len(units):
            raise _err(PlanError(f"interval '{value}' does not match {unit}"), where)
        return int(sum(float(n) * _UNIT_MS[u] for n, u in zip(numbers, units)))
    unit = unit.rstrip("S") if unit not in ("MS",) else "MILLISECOND"
    if unit not in _UNIT_MS:
        if unit in ("MONTH", "YEAR", "QUARTER"):
            raise _err(UnsupportedError(f"windows measured in {unit}S"), where)
        raise _err(PlanError(f"unknown interval unit '{unit}'"), where)
    try:
        return int(float(value) * _UNIT_MS[unit])
    except ValueError:
        raise _err(PlanError(f"'{value}' is not a number of {unit.lower()}s"), where) from None


def _check_window(w: Window, where: exp.Expr) -> None:
    if w.type in ("tumble", "hop", "cumulate") and w.size_ms <= 0:
        raise _err(PlanError(f"{w.type.upper()} window size must be positive"), where)
    if w.type == "hop" and w.slide_ms <= 0:
        raise _err(PlanError("HOP window slide must be positive"), where)
    if w.type == "hop" and w.size_ms % w.slide_ms:
        raise _err(PlanError("HOP window size must be an integral multiple of the slide"), where)
    if w.type == "cumulate" and (w.step_ms <= 0 or w.size_ms % w.step_ms):
        raise _err(PlanError("CUMULATE window size must be an integral multiple of the step"), where)
    if w.type == "session" and w.gap_ms <= 0:
        raise _err(PlanError("SESSION window gap must be positive"), where)


def _legacy_window(g: exp.Expr, node: LogicalNode) -> Window | None:
    if not isinstance(g, exp.Func):
        return None
    name = function_name(g)
    kind = _LEGACY_WINDOWS.get(name)
    if kind is None:
        return None
    args = (
        list(g.expressions)
        if isinstance(g, exp.Anonymous)
        else [a for a in g.args.values() if isinstance(a, exp.Expr)]
    )
    if not args or not isinstance(args[0], exp.Column):
        raise _err(PlanError(f"the first argument of {name} must be a time attribute column"), g)
    time_col = args[0].name
    time_field = node.field(time_col)
    if time_field.time_attribute is None:
        raise _err(
            PlanError(
                f"{name} needs a time attribute, but '{time_col}' is a plain {time_field.type.sql()}",
                hint="declare WATERMARK FOR it in the table, or use a PROCTIME() column",
            ),
            g,
        )
    intervals = [_interval_ms(a) for a in args[1:]]
    proc = time_field.time_attribute == "proctime"
    if kind == "tumble" and len(intervals) in (1, 2):
        w = Window(
            "tumble",
            time_col,
            size_ms=intervals[0],
            offset_ms=intervals[1] if len(intervals) > 1 else 0,
            proctime=proc,
        )
    elif kind == "hop" and len(intervals) in (2, 3):
        w = Window(
            "hop",
            time_col,
            slide_ms=intervals[0],
            size_ms=intervals[1],
            offset_ms=intervals[2] if len(intervals) > 2 else 0,
            proctime=proc,
        )
    elif kind == "session" and len(intervals) == 1:
        w = Window("session", time_col, gap_ms=intervals[0], proctime=proc)
    else:
        raise _err(PlanError(f"wrong number of arguments for {name}"), g)
    _check_window(w, g)
    return w


def _legacy_aux(n: exp.Expr, window: Window | None) -> str | None:
    if window is None or not isinstance(n, exp.Func):
        return None
    name = function_name(n)
    for prefix in _LEGACY_WINDOWS:
        if name.startswith(prefix + "_") and name[len(prefix) :] in _LEGACY_AUX:
            return _LEGACY_AUX[name[len(prefix) :]]
    return None


def _make_agg(name: str, node: exp.Expr, lookup: Callable[[str], DataType]) -> LogicalAgg:
    filter_expr: exp.Expr | None = None
    text = node.sql(dialect=Flink)
    if isinstance(node, exp.Filter):
        filter_expr = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
        node = node.this
    arg: exp.Expr | None = node.this
    distinct = False
    if isinstance(arg, exp.Distinct):
        distinct = True
        if len(arg.expressions) != 1:
            raise _err(UnsupportedError("COUNT(DISTINCT ...) over several columns"), node)
        arg = arg.expressions[0]
    func = type(node).__name__.lower()
    if isinstance(node, exp.Count) and (arg is None or isinstance(arg, exp.Star)):
        func, arg = "count_star", None
    result_type = infer(node, lookup)
    if func == "count_star" or func == "count":
        result_type = BIGINT.with_nullable(False)
    return LogicalAgg(name, func, arg, result_type, distinct, filter_expr, text)


def _check_assignable(src: DataType, dst: DataType, column: str, table: str) -> None:
    if src.name == "NULL" or src.name == dst.name:
        return
    if src.is_numeric and dst.is_numeric:
        return
    if src.is_string and dst.is_string:
        return
    if src.is_timestamp and dst.is_timestamp:
        return
    raise PlanError(
        f"column '{column}' of table '{table}' is {dst.sql()}, but the query gives {src.sql()}",
        hint=f"CAST the value to {dst.sql()}",
    )


def _cast_if_needed(e: exp.Expr, src: DataType | None, dst: DataType) -> exp.Expr:
    if src is not None and src.with_nullable(True) == dst.with_nullable(True):
        return e
    return make_cast(e, dst.with_nullable(True))
