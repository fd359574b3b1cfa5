"""Queries: WITH, set operations (``setops``) and SELECT (the select list, WHERE, and the hand-over to
aggregation when there is GROUP BY, DISTINCT or an aggregate call).
"""

from __future__ import annotations

from sqlglot import exp

from catalog.errors import CatalogError
from planner.bind import order, setops
from planner.bind.after_aggregation import aggregate_first, correlated_scalars, reads_aggregated_rows
from planner.bind.aggregates import is_aggregate
from planner.bind.grouping import GROUPING_FUNCTIONS
from planner.bind.over import OverBinder, has_over
from planner.bind.relations import where_conjuncts
from planner.bind.scope import Scope, _err, _output_field, _ref, cast_if_needed, item_name
from planner.bind.subqueries import (
    SubqueryJoinBinder,
    _in_subquery,
    _predicate_subqueries,
    _quantified,
    _scalar_subqueries,
    named_subqueries,
    quantified_as_in,
)
from planner.errors import PlanError, UnsupportedError
from planner.logical import BoundField, Calc, LogicalNode, Union
from planner.typecheck import common_type


class QueryBinder(SubqueryJoinBinder, OverBinder):
    """Binds whole queries: WITH, UNION [ALL], INTERSECT, EXCEPT and SELECT."""

    _depth = 0  # how deep in nested queries (subqueries, views, CTEs) binding is

    # ---- queries ---------------------------------------------------------------------
    def bind_query(self, query: exp.Expr, ctes: dict[str, exp.Expr]) -> LogicalNode:
        self._depth += 1
        try:
            return self._bind_query(query, ctes)
        finally:
            self._depth -= 1

    def _bind_query(self, query: exp.Expr, ctes: dict[str, exp.Expr]) -> LogicalNode:
        if isinstance(query, exp.Subquery):
            return self._bind_query(query.this, ctes)
        with_ = query.args.get("with_") or query.args.get("with")
        if with_ is not None:
            ctes = dict(ctes)
            for cte in with_.expressions:
                ctes[cte.alias_or_name.lower()] = cte.this
        query, clauses = order.split_modifiers(query)
        if set(clauses) == {"order"} and self._depth > 1:
            clauses = {}  # an ORDER BY without LIMIT in a subquery or view orders nothing (Calcite)
        if clauses:
            return order.bind_ordered(lambda q: self.bind_query(q, ctes), query, clauses)
        if isinstance(query, exp.SetOperation):
            return self._bind_set_operation(query, ctes)
        if isinstance(query, exp.Select):
            return self._bind_select(query, ctes)
        raise _err(UnsupportedError(f"{type(query).__name__.upper()} queries are not supported"), query)

    def _bind_set_operation(self, query: exp.SetOperation, ctes: dict[str, exp.Expr]) -> LogicalNode:
        kind = type(query).__name__.upper()
        distinct = bool(query.args.get("distinct"))
        if not isinstance(query, exp.Union | exp.Intersect | exp.Except):
            raise _err(UnsupportedError(f"{kind} is not supported"), query)
        left = self.bind_query(query.left, ctes)
        right = self.bind_query(query.right, ctes)
        name = f"{kind} ALL" if not distinct else kind
        if len(left.fields) != len(right.fields):
            raise _err(
                PlanError(
                    f"the inputs of {name} have {len(left.fields)} and {len(right.fields)} "
                    "columns; they must have the same number"
                ),
                query,
            )
        types = []
        for i, (lf, rf) in enumerate(zip(left.fields, right.fields)):
            common = common_type(lf.type, rf.type)
            if common is None:
                raise _err(
                    PlanError(
                        f"column {i + 1} of {name} is {lf.type.with_nullable(True).sql()} in one input "
                        f"and {rf.type.with_nullable(True).sql()} in the other: they have no common type",
                        hint="CAST one of them to the other's type",
                    ),
                    query,
                )
            types.append(common)
        fields = tuple(
            BoundField(lf.name, t, lf.time_attribute if lf.time_attribute == rf.time_attribute else None)
            for lf, rf, t in zip(left.fields, right.fields, types)
        )
        children = []
        for child in (left, right):
            if any(c.name != f.name or c.type != f.type for c, f in zip(child.fields, fields)):
                projections = tuple(
                    (
                        f.name,
                        cast_if_needed(exp.column(exp.to_identifier(c.name, quoted=True)), c.type, f.type),
                    )
                    for c, f in zip(child.fields, fields)
                )
                child = Calc(fields, child, projections)
            children.append(child)
        if not isinstance(query, exp.Union):
            return setops.intersect_or_except(fields, children[0], children[1], query, all_=not distinct)
        union = Union(fields, tuple(children))
        return setops.distinct_rows(union, query) if distinct else union

    # ---- SELECT ----------------------------------------------------------------------
    def _bind_select(self, select: exp.Select, ctes: dict[str, exp.Expr]) -> LogicalNode:
        select = quantified_as_in(select)
        for arg, name in (("qualify", "QUALIFY"),):
            if select.args.get(arg):
                raise _err(UnsupportedError(f"{name} is not supported yet"), select.args[arg])
        where = select.args.get("where")
        pending = where_conjuncts(select)  # comma joins take theirs
        node, scope = self._bind_from(select, ctes, pending)
        condition = None
        rest: list[exp.Expr] = []
        if where is not None and pending:
            node, scope, rest = self._bind_subquery_joins(node, scope, exp.and_(*pending), ctes)
            node, scope, rest = self._bind_mark_joins(node, scope, rest, ctes)
            node, scope, rest = self._bind_scalar_subqueries(node, scope, rest, ctes, outer=select)
            node, scope, rest = self._bind_predicate_values(node, scope, rest, ctes)
        joined: tuple[LogicalNode, ...] = ()
        having = select.args.get("having")
        aggregating = select.args.get("group") or any(
            is_aggregate(n) and not _in_subquery(n, p) for p in select.expressions for n in p.walk()
        )
        if (
            aggregating
            and not has_over(select)
            and (
                reads_aggregated_rows(select) or correlated_scalars(select, scope, self._subquery_scope(ctes))
            )
        ):
            return self._bind_select(aggregate_first(select, scope, self._subquery_scope(ctes)), ctes)
        if aggregating:  # those inside its aggregate calls read the input's rows: joined to them
            named = named_subqueries(select.expressions)
            tops = [*named, *([having.this] if having is not None else [])]
            node, scope, bound = self._bind_scalar_subqueries(node, scope, tops, ctes, True, select)
            if bound is not tops:  # some were: the query reads their columns instead
                select = select.copy()
                select.set("expressions", bound[: len(named)])
                if having is not None:
                    select.set("having", exp.Having(this=bound[-1]))
                having = select.args.get("having")
        if aggregating and (
            any(_scalar_subqueries(p) for p in select.expressions)
            or (having is not None and _scalar_subqueries(having.this))
        ):
            scope, select, joined = self._bind_aggregated_subqueries(scope, select, ctes)
        elif any(_scalar_subqueries(p) for p in select.expressions):
            named = named_subqueries(select.expressions)
            node, scope, rewritten = self._bind_scalar_subqueries(node, scope, named, ctes, outer=select)
            select = select.copy()
            select.set("expressions", rewritten)
        if any(_predicate_subqueries(p) or _quantified(p) for p in select.expressions):
            # in a query that aggregates, those inside its aggregate calls (on the input's rows)
            named = named_subqueries(select.expressions)
            node, scope, rewritten = self._bind_predicate_values(node, scope, named, ctes, bool(aggregating))
            select = select.copy()
            select.set("expressions", rewritten)
        if rest and where is not None:
            condition = self.bind_expr(exp.and_(*rest), scope)
            if any(is_aggregate(n) for n in condition.walk()):
                raise _err(
                    PlanError("aggregate functions are not allowed in WHERE", hint="use HAVING"), where
                )
        if has_over(select):
            select, node, scope = self._bind_over(select, node, scope, condition)
            condition = None
        items = self._select_items(select, scope)
        group = select.args.get("group")
        having = select.args.get("having")
        node, condition = self._rank_filter(node, condition, items, select, scope)
        has_aggs = any(
            is_aggregate(n) or isinstance(n, GROUPING_FUNCTIONS) for _, e in items for n in e.walk()
        )
        if select.args.get("distinct") and not group and not has_aggs:
            group_exprs = [e for _, e in items]
            return self._bind_aggregate(node, scope, items, group_exprs, None, condition, select)
        if group is None and not has_aggs:
            if having is not None:
                raise _err(PlanError("HAVING needs GROUP BY or an aggregate"), having)
            fields = tuple(_output_field(name, e, node) for name, e in items)
            return Calc(fields, node, tuple(items), condition)
        grouped = self._bind_group_by(group, scope)
        having_expr = self.bind_expr(having.this, scope) if having is not None else None
        return self._bind_aggregate(
            node, scope, items, grouped.keys, having_expr, condition, select, grouped.sets, joined
        )

    def _select_items(self, select: exp.Select, scope: Scope) -> list[tuple[str, exp.Expr]]:
        items: list[tuple[str, exp.Expr]] = []
        for i, proj in enumerate(select.expressions):
            if isinstance(proj, exp.Star) or (
                isinstance(proj, exp.Column) and isinstance(proj.this, exp.Star)
            ):
                qualifier = proj.table if isinstance(proj, exp.Column) else None
                chosen = [
                    sf.field
                    for sf in scope.fields
                    if not sf.hidden and (not qualifier or qualifier.lower() in sf.qualifiers)
                ]
                if not chosen and not qualifier:
                    raise _err(PlanError("SELECT * without FROM: there is no column to select"), proj)
                if not chosen:
                    raise _err(CatalogError(f"no table '{qualifier}' in FROM"), proj)
                items.extend((f.name, _ref(f.name)) for f in chosen)
                continue
            bound = self.bind_expr(proj.this if isinstance(proj, exp.Alias) else proj, scope)
            items.append((item_name(proj, i), bound))
        seen: dict[str, int] = {}
        result = []
        for name, e in items:  # Flink de-duplicates output names with a suffix
            n = seen.get(name.lower(), 0)
            seen[name.lower()] = n + 1
            result.append((name if n == 0 else f"{name}{n - 1}", e))
        return result
