"""Table functions in FROM: ``CROSS JOIN LATERAL TABLE(f(x)) AS T(a, b)``, the comma form
``, LATERAL TABLE(...)``, ``LEFT JOIN LATERAL TABLE(...) AS T(a, b) ON TRUE`` and
``CROSS JOIN UNNEST(arr) AS T(x)``. Each is a Correlate: the function is called per row
of the relation on its left, with arguments that may read that row's columns.

Flink accepts only ``ON TRUE`` for a join with a table function; any other condition, and
RIGHT or FULL joins, are refused here by name and position.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from catalog.functions import FunctionDef
from catalog.types import DataType
from planner.bind.aggregates import AggregateBinder
from planner.bind.scope import Scope, ScopeField, _err, cast_if_needed
from planner.dialect import Flink
from planner.errors import PlanError, UnsupportedError
from planner.logical import BoundField, Correlate, LogicalNode
from planner.typecheck import function_name, infer
from planner.udf import check_arity


class LateralBinder(AggregateBinder):
    """Binds LATERAL TABLE and UNNEST joins onto the relation bound so far."""

    def _bind_lateral(self, left: LogicalNode, scope: Scope, join: exp.Join) -> tuple[LogicalNode, Scope]:
        rel = join.this
        what = "UNNEST" if isinstance(rel, exp.Unnest) else "LATERAL TABLE"
        side = (join.args.get("side") or "").upper()
        on = join.args.get("on")
        if side not in ("", "LEFT"):
            raise _err(
                UnsupportedError(
                    f"{side} JOIN {what}", hint=f"CROSS JOIN {what}(...) or LEFT JOIN {what}(...) ON TRUE"
                ),
                join,
            )
        if side == "LEFT" and on is None:
            raise _err(PlanError(f"LEFT JOIN {what}(...) needs ON TRUE"), join)
        if on is not None and not (isinstance(on, exp.Boolean) and on.this is True):
            raise _err(
                UnsupportedError(
                    f"a join with {what} accepts only ON TRUE, as in Flink",
                    hint="filter the function's columns in WHERE instead",
                ),
                on,
            )
        join_type = "left" if side == "LEFT" else "inner"
        alias: exp.TableAlias | None = rel.args.get("alias")
        if isinstance(rel, exp.Unnest):
            fdef, args, columns = self._unnest(rel, scope)
        else:
            fdef, args, columns = self._table_call(rel, scope)
        names = [c.name for c in alias.columns] if alias is not None and alias.columns else []
        if names and len(names) != len(columns):
            raise _err(
                PlanError(
                    f"{what} gives {len(columns)} column(s) but its alias names {len(names)}",
                    hint=f"name them all: AS T({', '.join(n for n, _ in columns)})",
                ),
                alias if alias is not None else rel,
            )
        qualifiers = frozenset({alias.name.lower()} if alias is not None and alias.name else set())
        taken = {sf.field.name.lower() for sf in scope.fields}
        new_fields: list[BoundField] = []
        new_scope: list[ScopeField] = []
        for i, (default, t) in enumerate(columns):
            wanted = names[i] if names else default
            name, n = wanted, 0
            while name.lower() in taken:  # a clash with the left's names: Flink's suffix
                name = f"{wanted}{n}"
                n += 1
            taken.add(name.lower())
            f = BoundField(name, t.with_nullable(True))
            new_fields.append(f)
            new_scope.append(ScopeField(qualifiers, f, wanted if name != wanted else None))
        fields = tuple(BoundField(f.name, f.type, f.time_attribute) for f in left.fields) + tuple(new_fields)
        written = rel.expressions if isinstance(rel, exp.Unnest) else rel.this.this.expressions
        text = f"{fdef.name if fdef else 'UNNEST'}({', '.join(a.sql(dialect=Flink) for a in written)})"
        node = Correlate(fields, left, fdef, args, join_type, text)
        return node, Scope(scope.fields + new_scope)

    def _table_call(
        self, rel: exp.Lateral, scope: Scope
    ) -> tuple[FunctionDef, tuple[exp.Expr, ...], list[tuple[str, DataType]]]:
        rows = rel.this
        call = rows.this if isinstance(rows, exp.TableFromRows) else rows
        if isinstance(call, exp.Anonymous):
            name = call.name
        else:
            name = function_name(call) if isinstance(call, exp.Func) else rows.sql(dialect=Flink)
        fdef = self.catalog.function(name) if isinstance(call, exp.Anonymous) else None
        if fdef is None or fdef.kind != "table":
            kind = f"a {fdef.kind} function" if fdef is not None else "not a user table function"
            raise _err(
                PlanError(
                    f"LATERAL TABLE({name}(...)): {name} is {kind}",
                    hint="CREATE FUNCTION a @udtf (SHOW USER FUNCTIONS lists them), or UNNEST an array",
                ),
                rel,
            )
        assert isinstance(call, exp.Anonymous)
        raw = list(call.expressions)
        try:
            check_arity(fdef, raw)
        except PlanError as e:
            raise _err(e, call) from None
        args = []
        for a, declared in zip(raw, fdef.input_types):
            bound = self.bind_expr(a, scope)
            args.append(cast_if_needed(bound, infer(bound, _lookup(scope)), declared))
        return fdef, tuple(args), list(fdef.result_columns)

    def _unnest(
        self, rel: exp.Unnest, scope: Scope
    ) -> tuple[None, tuple[exp.Expr, ...], list[tuple[str, DataType]]]:
        if rel.args.get("offset"):
            raise _err(UnsupportedError("UNNEST ... WITH ORDINALITY is not supported yet"), rel)
        if len(rel.expressions) != 1:
            raise _err(UnsupportedError("UNNEST of more than one array"), rel)
        arg = self.bind_expr(rel.expressions[0], scope)
        t = infer(arg, _lookup(scope))
        if t.name in ("ARRAY", "MULTISET"):
            element = t.children[0]
            if element.name == "ROW":  # Calcite spreads a ROW element over its fields
                columns = list(zip(element.field_names, element.children))
            else:
                columns = [("EXPR$0", element)]
        elif t.name == "MAP":
            columns = [("KEY", t.children[0]), ("VALUE", t.children[1])]
        else:
            raise _err(
                PlanError(f"UNNEST needs an ARRAY or a MAP, not {t.sql()}", hint="UNNEST(array_column)"),
                rel,
            )
        return None, (arg,), columns


def _lookup(scope: Scope) -> Callable[[str], DataType]:
    """Types of the fields in scope, by their (bound) names."""
    types = {sf.field.name: sf.field.type for sf in scope.fields}
    return types.__getitem__
