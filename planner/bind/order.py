"""ORDER BY, LIMIT, OFFSET and FETCH of a query: a Sort over the query's result.

The sort keys name the query's output columns (by name or alias, by position, or by
repeating a select item's expression). A key a SELECT does not output (``SELECT a FROM t
ORDER BY ts``) is added to it as a hidden column (``$o0``) that a Calc above the Sort drops
again, as Calcite does. The count of LIMIT/FETCH and OFFSET is a non-negative integer
literal, as Flink requires.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from planner.bind.scope import _err, _ref
from planner.errors import PlanError, UnsupportedError, position
from planner.logical import Calc, LogicalNode, Sort, SortKey

_MODIFIERS = ("order", "limit", "offset")


def split_modifiers(query: exp.Expr) -> tuple[exp.Expr, dict[str, exp.Expr]]:
    """The query without its ORDER BY / LIMIT / OFFSET, and those clauses."""
    found = {k: query.args[k] for k in _MODIFIERS if query.args.get(k) is not None}
    if not found:
        return query, {}
    bare = query.copy()
    for k in found:
        bare.set(k, None)
    return bare, found


def bind_ordered(
    bind: Callable[[exp.Expr], LogicalNode], query: exp.Expr, clauses: dict[str, exp.Expr]
) -> LogicalNode:
    """Bind ``query`` (without its clauses) with ``bind``, then sort it; keys a SELECT does
    not output become hidden columns, dropped again above the Sort."""
    node = bind(query)
    items = list(query.expressions) if isinstance(query, exp.Select) else None
    order = clauses.get("order")
    missing = [
        i
        for i, o in enumerate(order.expressions if order is not None else ())
        if _resolve(o.this, node, items) is None
    ]
    if not missing or not isinstance(query, exp.Select) or query.args.get("distinct"):
        return bind_sort(node, clauses, items)
    assert order is not None
    query = query.copy()
    order = order.copy()
    for n, i in enumerate(missing):
        name = f"$o{n}"
        query.append("expressions", exp.alias_(order.expressions[i].this.copy(), name, quoted=True))
        order.expressions[i].set("this", exp.column(exp.to_identifier(name, quoted=True)))
    wide = bind(query)
    sort = bind_sort(wide, {**clauses, "order": order}, list(query.expressions))
    kept = node.fields
    return Calc(kept, sort, tuple((f.name, _ref(f.name)) for f in kept))


def bind_sort(node: LogicalNode, clauses: dict[str, exp.Expr], items: list[exp.Expr] | None) -> Sort:
    """The Sort of ``node`` (the bound query) by ``clauses``; ``items`` are the query's
    select expressions as written, when it is a SELECT, to match ``ORDER BY <expr>``."""
    order = clauses.get("order")
    keys = tuple(_key(o, node, items) for o in (order.expressions if order is not None else ()))
    limit = clauses.get("limit")
    fetch = None
    if limit is not None:
        count = limit.args.get("count") if isinstance(limit, exp.Fetch) else limit.expression
        fetch = _count(count, limit, "FETCH" if isinstance(limit, exp.Fetch) else "LIMIT")
    offset_clause = clauses.get("offset")
    offset = _count(offset_clause.expression, offset_clause, "OFFSET") if offset_clause is not None else 0
    first = next(iter(clauses.values()))
    return Sort(node.fields, node, keys, offset, fetch, *position(first))


def _key(ordered: exp.Expr, node: LogicalNode, items: list[exp.Expr] | None) -> SortKey:
    assert isinstance(ordered, exp.Ordered)
    e = ordered.this
    name = _resolve(e, node, items)
    if name is not None:
        return SortKey(name, bool(ordered.args.get("desc")), bool(ordered.args.get("nulls_first")))
    raise _err(
        UnsupportedError(
            f"ORDER BY {e.sql()}, which the query does not select, is not supported yet",
            hint="add it to the select list (a subquery can drop it again)",
        ),
        e,
    )


def _resolve(e: exp.Expr, node: LogicalNode, items: list[exp.Expr] | None) -> str | None:
    """The output column an ORDER BY key names, if any."""
    names = [f.name for f in node.fields]
    if isinstance(e, exp.Literal) and e.is_int:
        n = int(e.name)
        if not 1 <= n <= len(names):
            raise _err(PlanError(f"ORDER BY position {n} is not in the select list (1..{len(names)})"), e)
        return names[n - 1]
    if isinstance(e, exp.Column) and not e.table:
        matches = [n for n in names if n.lower() == e.name.lower()]
        exact = [n for n in matches if n == e.name]
        if len(exact) == 1 or len(matches) == 1:
            return (exact or matches)[0]
    if items is not None and not any(i.find(exp.Star) for i in items):
        text = e.sql()
        for name, item in zip(names, items):
            if (item.this if isinstance(item, exp.Alias) else item).sql() == text:
                return name
    return None


def _count(e: exp.Expr | None, clause: exp.Expr, name: str) -> int:
    if isinstance(e, exp.Literal) and e.is_int and int(e.name) >= 0:
        return int(e.name)
    raise _err(PlanError(f"{name} needs a non-negative integer literal"), clause)
