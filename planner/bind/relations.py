"""FROM: tables (scanned the way Flink plans a source), views, CTE references,
subqueries, VALUES, window TVFs and joins.
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from catalog.connectors import configure_table, table_info, validate_options
from catalog.errors import CatalogError, SqlStreamError, did_you_mean
from catalog.schema import ColumnKind
from catalog.store import CATALOG_NAME, DATABASE_NAME
from catalog.table import TableDef, ViewDef
from catalog.types import INT, DataType
from planner.bind.aggregates import is_aggregate
from planner.bind.hints import StateTtlHint, aggregate_input, input_name, table_options
from planner.bind.joins import JoinBinder
from planner.bind.lateral import LateralBinder
from planner.bind.match import bind_match
from planner.bind.scope import Scope, _err, _ref, cast_if_needed
from planner.errors import PlanError, UnsupportedError
from planner.expressions import WindowTVF
from planner.logical import BoundField, Calc, LogicalNode, Scan, Values, WatermarkAssigner
from planner.typecheck import common_type, function_name, infer


def where_conjuncts(select: exp.Select) -> list[exp.Expr]:
    """The conjuncts of ``select``'s WHERE (none without one)."""
    where = select.args.get("where")
    if where is None:
        return []
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


class RelationBinder(JoinBinder, LateralBinder):
    """Binds FROM items; tables become Scan -> Calc -> WatermarkAssigner as in Flink."""

    # ---- FROM --------------------------------------------------------------------------
    def _bind_from(
        self, select: exp.Select, ctes: dict[str, exp.Expr], where: list[exp.Expr] | None = None
    ) -> tuple[LogicalNode, Scope]:
        """The FROM clause; ``where``, the WHERE clause's conjuncts, gives comma joins
        their conditions (those taken are removed from it)."""
        from_ = select.args.get("from_") or select.args.get("from")
        if from_ is None:
            # Calcite reads it as a SELECT from one row of one hidden column, ZERO (Flink's
            # plan shows Values(tuples=[[{ 0 }]])): a one-row bounded result in either mode
            one = Values((BoundField("ZERO", INT.with_nullable(False)),), ((exp.Literal.number(0),),))
            return one, Scope([])  # ZERO is Calcite's, not for the query to name
        node, scope = self._bind_relation(from_.this, ctes)
        match = select.args.get("match")
        if match is not None:
            if select.args.get("joins"):
                refused = UnsupportedError("MATCH_RECOGNIZE over a join (put the join in a subquery)")
                raise _err(refused, match)
            node = bind_match(node, match)
            scope = Scope.of(node, {match.alias} if match.alias else set())
        hints = StateTtlHint.of(select)
        left_name = input_name(from_.this)  # a join's left input has a name only at first
        for join in select.args.get("joins") or []:
            if isinstance(join.this, exp.Lateral | exp.Unnest):
                node, scope = self._bind_lateral(node, scope, join)
            else:
                node, scope = self._bind_join(node, scope, join, ctes, hints, left_name, where)
            left_name = None
        if _aggregates(select):  # the key of the GROUP BY's input (``_bind_aggregate`` reads it)
            hints.take(aggregate_input(select))
        hints.check_all_used()
        return node, scope

    def _bind_relation(self, rel: exp.Expr, ctes: dict[str, exp.Expr]) -> tuple[LogicalNode, Scope]:
        if isinstance(rel, WindowTVF):
            return self._bind_window_tvf(rel, ctes)
        if isinstance(rel, exp.Table):
            if isinstance(rel.this, exp.Anonymous | exp.Func):
                raise _err(UnsupportedError(f"table function {rel.this.sql()} is not supported"), rel)
            if rel.args.get("version") is not None:
                raise _err(UnsupportedError("FOR SYSTEM_TIME AS OF (lookup join) is not supported yet"), rel)
            name = rel.name
            alias = rel.alias_or_name  # an aliased table is named by its alias only (SQL's scoping)
            if name.lower() in ctes and not rel.db:
                node = self.bind_query(ctes[name.lower()], ctes)
                return node, Scope.of(node, {alias})
            obj = self.lookup(rel)
            if hinted := table_options(rel):
                obj = with_options(obj, hinted, rel)
            node = self.scan(obj) if isinstance(obj, TableDef) else self._bind_view(obj, rel)
            return node, Scope.of(node, {alias})
        if isinstance(rel, exp.Subquery):
            node = self.bind_query(rel.this, ctes)
            return node, Scope.of(node, {rel.alias})
        if isinstance(rel, exp.Values):
            node = self._bind_values(rel)
            return node, Scope.of(node, {rel.alias} if rel.alias else set())
        raise _err(UnsupportedError(f"{rel.sql(dialect='spark')} in FROM is not supported"), rel)

    def _bind_values(self, values: exp.Values) -> Values:
        """VALUES rows of constants; a column's type is the common type of its values
        (literals typed as Flink types them: ``1`` INT NOT NULL), its name the alias's or
        Flink's ``EXPR$<i>``."""
        rows = [list(t.expressions) if isinstance(t, exp.Tuple) else [t] for t in values.expressions]
        width = len(rows[0])
        for row, t in zip(rows, values.expressions):
            if len(row) != width:
                raise _err(
                    PlanError(f"the rows of VALUES have {width} and {len(row)} values; they must be as wide"),
                    t,
                )
        nothing = Values((), ())  # constants: no column to refer to
        bound = [[self.bind_expr(e, Scope.of(nothing, set())) for e in row] for row in rows]
        types = [[infer(e, nothing.field_type) for e in row] for row in bound]
        alias: exp.TableAlias | None = values.args.get("alias")
        names = [c.name for c in alias.columns] if alias is not None and alias.columns else []
        if alias is not None and names and len(names) != width:
            raise _err(PlanError(f"VALUES has {width} columns but its alias names {len(names)}"), alias)
        fields: list[BoundField] = []
        for i in range(width):
            column = DataType("NULL")
            for row, t in zip(rows, types):
                common = common_type(column, t[i])
                if common is None:
                    raise _err(
                        PlanError(
                            f"column {i + 1} of VALUES holds {column.with_nullable(True).sql()} and "
                            f"{t[i].with_nullable(True).sql()} values: they have no common type",
                            hint="CAST the values to one type",
                        ),
                        row[i],
                    )
                column = common
            if column.name == "NULL":
                raise _err(
                    PlanError(
                        f"column {i + 1} of VALUES is NULL in every row, so it has no type",
                        hint="CAST(NULL AS <type>) in one row gives it one",
                    ),
                    alias if alias is not None else values,
                )
            fields.append(BoundField(names[i] if names else f"EXPR${i}", column))
        cast = tuple(
            tuple(cast_if_needed(e, t, f.type) for e, t, f in zip(row, ts, fields))
            for row, ts in zip(bound, types)
        )
        return Values(tuple(fields), cast)

    def bind_view_query(self, view: ViewDef) -> LogicalNode:
        """A view's query, its names resolved where the view was created (as Flink expands
        them at CREATE VIEW), whichever database is current now."""
        self._view_scopes.append(view.scope or (CATALOG_NAME, DATABASE_NAME))
        try:
            return self.bind_query(self.parse_query(view.query), {})
        finally:
            self._view_scopes.pop()

    def _bind_view(self, view: ViewDef, where: exp.Expr) -> LogicalNode:
        if view.name.lower() in self._view_stack:
            raise _err(PlanError(f"view '{view.name}' refers to itself"), where)
        self._view_stack.append(view.name.lower())
        try:
            node = self.bind_view_query(view)
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
                    ctype = infer(expr, node.field_type)
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


def _aggregates(select: exp.Select) -> bool:
    """Whether a SELECT aggregates (GROUP BY, DISTINCT, an aggregate call)."""
    if select.args.get("group") or select.args.get("distinct"):
        return True
    return any(is_aggregate(n) for e in select.expressions for n in e.walk())


def with_options(obj: TableDef | ViewDef, options: dict[str, str], at: exp.Expr) -> TableDef:
    """The table with a statement's OPTIONS hint over its own options, checked as a CREATE
    TABLE's are (a view has no options: Flink refuses the hint there too)."""
    if not isinstance(obj, TableDef):
        raise _err(
            PlanError(
                f"View '{obj.name}' cannot be enriched with new options. Hints can only be applied to tables."
            ),
            at,
        )
    table = dataclasses.replace(obj, options={**obj.options, **options})
    try:
        configure_table(table_info(table))
    except SqlStreamError as e:
        raise _err(e, at) from None
    return table
