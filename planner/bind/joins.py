"""Joins: today the lookup join (``FOR SYSTEM_TIME AS OF`` a processing-time attribute);
every other join is refused here by name.
"""

from __future__ import annotations

from sqlglot import exp

from catalog.connectors import validate_options
from catalog.errors import SqlStreamError
from planner.bind.aggregates import AggregateBinder
from planner.bind.scope import Scope, ScopeField, _err
from planner.errors import PlanError, UnsupportedError
from planner.logical import BoundField, LogicalNode, LookupJoin


class JoinBinder(AggregateBinder):
    """Binds joins (lookup joins today) onto the relation bound so far."""

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


def _original(scope_fields: list[ScopeField], field_name: str) -> str:
    """The dimension table's own name of a (possibly renamed) joined field."""
    for sf in scope_fields:
        if sf.field.name == field_name:
            return sf.name
    return field_name
