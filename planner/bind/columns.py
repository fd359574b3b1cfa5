"""Resolving column references inside expressions against a scope; the base layer of
the binder, holding what every layer shares (catalog, configuration, how to parse).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlglot import exp

from catalog.errors import CatalogError, SqlStreamError, did_you_mean
from catalog.store import Catalog, CatalogObject, ObjectPath
from planner import codegen
from planner.bind import json_aggregates, null_treatment
from planner.bind.scope import Scope, _err, _ref
from planner.errors import PlanError, UnsupportedError
from planner.logical import BoundField, LogicalNode
from planner.typecheck import check_comparisons, check_operands
from planner.udf import mark_call

ParseExpression = Callable[[str], exp.Expr]
ParseQuery = Callable[[str], exp.Expr]


class ColumnBinder:
    """Binds expressions; the layers above add windows, aggregates, joins, FROM and SELECT."""

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
        self._view_scopes: list[tuple[str, str]] = []  # where the names of the view being bound resolve

    def lookup(self, table: exp.Table) -> CatalogObject:
        """The table or view a FROM or JOIN names, resolved as the catalog resolves names:
        against the current catalog and database, or inside a view against those current
        when the view was created. Errors are said at the catalog or database part that
        does not exist, else at the table."""
        within = self._view_scopes[-1] if self._view_scopes else None
        try:
            path = ObjectPath([p.name for p in table.parts])
            self.catalog.qualify(path, within)
        except SqlStreamError as e:
            raise _err(e, table.args.get("catalog") or table.args.get("db") or table) from None
        try:
            return self.catalog.resolve(path, within)
        except SqlStreamError as e:
            raise _err(e, table) from None

    # The two places binding recurses upward: a nested query (subquery, CTE, view) and a
    # nested FROM item (the input of a window TVF). The layers above define them.
    def bind_query(self, query: exp.Expr, ctes: dict[str, exp.Expr]) -> LogicalNode:
        raise NotImplementedError

    def _bind_relation(self, rel: exp.Expr, ctes: dict[str, exp.Expr]) -> tuple[LogicalNode, Scope]:
        raise NotImplementedError

    # ---- expressions -----------------------------------------------------------------
    def bind_expr(self, expr: exp.Expr, scope: Scope) -> exp.Expr:
        """Resolve column references to input fields; nested ROW access becomes ``Dot``."""

        for sub in expr.find_all(exp.Exists, exp.Subquery, exp.Select):
            if isinstance(sub, exp.Subquery) and not isinstance(sub.parent, exp.In):
                raise _err(
                    UnsupportedError(
                        "a scalar subquery here: it is supported in WHERE, in the SELECT list and in HAVING",
                        hint="join the subquery (JOIN (SELECT ...) s ON TRUE) and use its column",
                    ),
                    sub,
                )
            what = "NOT EXISTS / EXISTS" if isinstance(sub, exp.Exists) else "IN / NOT IN"
            parent = sub.parent.parent if isinstance(sub.parent, exp.Subquery) else sub.parent
            if isinstance(parent, exp.Any | exp.All):
                what = "ANY / SOME / ALL"
            raise _err(
                UnsupportedError(
                    f"{what} subqueries here: they are supported in WHERE, in the SELECT list "
                    "and in HAVING; outside a conjunct of WHERE an IN or quantified one reads the "
                    "outer query by equalities only (WHERE inner.k = outer.k)",
                    hint="compute it in a subquery of FROM first, or write a JOIN ... ON",
                ),
                sub,
            )

        def visit(n: exp.Expr) -> exp.Expr:
            if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star):
                return self._bind_column(n, scope)
            return mark_call(n, self.catalog)

        types = {sf.field.name: sf.field.type for sf in scope.fields}
        try:
            bound = expr.transform(json_aggregates.rewrite).transform(null_treatment.rewrite).transform(visit)
            codegen.check_supported(bound)
            check_comparisons(bound, types.__getitem__)
            check_operands(bound, types.__getitem__)
        except SqlStreamError as e:
            raise _err(e, expr) from None
        return bound

    def _bind_column(self, col: exp.Column, scope: Scope) -> exp.Expr:
        parts = [p.name for p in col.parts]
        if len(parts) == 1:
            peeked = _peek_field(parts[0], scope, col)
            if peeked is not None:
                return peeked
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
            # the position sqlglot keeps on the identifier, for errors about the bound tree
            result.meta.update({**(col.this.meta if isinstance(col.this, exp.Expr) else {}), **col.meta})
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


def _peek_field(name: str, scope: Scope, col: exp.Column) -> exp.Expr | None:
    """An unqualified name that is a field of a ROW column (Calcite's PEEK_FIELDS, as Flink
    types a ROW): ``x`` reads ``r.x`` when no column is named ``x``. Refused as ambiguous when
    two columns' fields have the name, or another table has a column of that name; None
    when no ROW column has such a field (the name is a column, or unknown)."""
    rows = [
        sf for sf in scope.fields
        if not sf.hidden and sf.field.type.name == "ROW" and name in (sf.field.type.field_names or ())
    ]  # fmt: skip
    if not rows:
        return None
    direct = {sf.qualifiers for sf in scope.fields if sf.name.lower() == name.lower()}
    peeked = [r for r in rows if r.qualifiers not in direct]  # a table's own column wins
    if len(peeked) > 1 or (peeked and direct):
        raise _err(
            PlanError(
                f"column '{name}' is ambiguous: a field of the ROW column '{peeked[0].name}' "
                "and another column or field (Flink reads a ROW column's fields unqualified)",
                hint=f"qualify it: {peeked[0].name}.{name}, or the table's alias",
            ),
            col,
        )
    if not peeked:
        return None
    dot = exp.Dot(this=_ref(peeked[0].name), expression=exp.to_identifier(name))
    dot.meta.update({**(col.this.meta if isinstance(col.this, exp.Expr) else {}), **col.meta})
    return dot
