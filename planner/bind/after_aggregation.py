"""IN, EXISTS, quantified and correlated scalar subqueries that read an aggregate's rows: in
the HAVING or the SELECT list of a query that aggregates, outside its aggregate calls
(``... GROUP BY k HAVING k IN (SELECT k FROM vip)``).

Flink's planner aggregates first and joins the subquery to the aggregate's rows. Here the
query is written that way before it is bound: the aggregation becomes a derived table of
the group keys and the aggregate calls (``$g0``, ``$a0``, ...), and the SELECT list and
HAVING a query over it, whose WHERE and SELECT list then take the subqueries as any query
does (semi joins, mark joins, NULL-aware values), correlated ones too: a subquery's
reference to the outer query must be a group key, and reads the key's column.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from planner.bind.aggregates import is_aggregate
from planner.bind.grouping import GROUPING_FUNCTIONS
from planner.bind.scope import Scope, _err, item_name
from planner.bind.subqueries import (
    _lookup,
    _predicate_subqueries,
    _quantified,
    _scalar_subqueries,
    in_aggregate_call,
    outer_columns,
)
from planner.bind.windows import is_group_window, is_legacy_aux
from planner.errors import PlanError, UnsupportedError

#: The derived table holding the aggregate's rows.
AGGREGATED = "$agg"


def reads_aggregated_rows(select: exp.Select) -> bool:
    """Whether an aggregating ``select`` has an IN, EXISTS or quantified subquery in its
    SELECT list or HAVING outside its aggregate calls (those inside read the input's rows)."""
    return any(
        not in_aggregate_call(sub)
        for top in _tops(select)
        for sub in (*_predicate_subqueries(top), *_quantified(top))
    )


def correlated_scalars(select: exp.Select, scope: Scope, inner_scope: Callable[[exp.Select], Scope]) -> bool:
    """Whether an aggregating ``select`` has a scalar subquery in its SELECT list or HAVING,
    outside its aggregate calls, that reads the outer query (``HAVING COUNT(*) > (SELECT
    COUNT(*) FROM t WHERE t.k = outer.k)``)."""
    queries = [
        query
        for top in _tops(select)
        for sub in _scalar_subqueries(top)
        if isinstance(query := sub.unnest(), exp.Select) and not in_aggregate_call(sub)
    ]
    return any(outer_columns(query, scope, inner_scope) for query in queries)


def _tops(select: exp.Select) -> list[exp.Expr]:
    """The SELECT list's items and HAVING's condition."""
    having = select.args.get("having")
    return [*select.expressions, *([having.this] if having is not None else [])]


def aggregate_first(
    select: exp.Select, scope: Scope, inner_scope: Callable[[exp.Select], Scope]
) -> exp.Select:
    """``select`` as a query over its own aggregation (see the module): ``scope``, its FROM's
    columns; ``inner_scope``, the columns a subquery's own FROM gives (what it does not
    resolve there it reads from the outer query)."""
    having = select.args.get("having")
    keys: dict[str, str] = {}  # a group key's text (its columns resolved) -> its column
    inner_items: list[exp.Expr] = []

    def text(e: exp.Expr) -> str:
        def resolved(n: exp.Expr) -> exp.Expr:
            if isinstance(n, exp.Column) and (f := _lookup(scope, n)) is not None:
                return exp.column(exp.to_identifier(f.name, quoted=True))
            return n

        return e.copy().transform(resolved).sql()

    for key in _group_keys(select.args.get("group")):
        if is_group_window(key):  # not a column: its properties (TUMBLE_START) are calls
            continue
        if text(key) not in keys:
            keys[text(key)] = name = f"$g{len(keys)}"
            inner_items.append(exp.alias_(key.copy(), exp.to_identifier(name, quoted=True)))
    calls: dict[str, str] = {}

    def column(name: str) -> exp.Column:
        return exp.column(exp.to_identifier(name, quoted=True), exp.to_identifier(AGGREGATED, quoted=True))

    def outer(c: exp.Column) -> exp.Expr:
        """An outer query's column read in a subquery: its group key's column."""
        name = keys.get(text(c))
        if name is None:
            raise _err(_not_grouped(c), c)
        read = column(name)
        read.meta.update(c.meta, written=c.meta.get("written", c.sql()))  # for messages: as written
        return read

    def rewrite(e: exp.Expr) -> exp.Expr:
        if _is_call(e):
            t = e.sql()
            if t not in calls:
                calls[t] = f"$a{len(calls)}"
                inner_items.append(exp.alias_(e.copy(), exp.to_identifier(calls[t], quoted=True)))
            return column(calls[t])
        if (grouped := keys.get(text(e))) is not None:
            return column(grouped)
        if isinstance(e, exp.Column):
            raise _err(_not_grouped(e), e)
        if isinstance(e, exp.Select):
            return _outer_refs(e, scope, inner_scope, outer)
        for arg, value in list(e.args.items()):
            if isinstance(value, exp.Expr):
                e.set(arg, rewrite(value))
            elif isinstance(value, list):
                e.set(arg, [rewrite(v) if isinstance(v, exp.Expr) else v for v in value])
        return e

    items: list[exp.Expr] = []
    for i, proj in enumerate(select.expressions):
        if isinstance(proj, exp.Star) or (isinstance(proj, exp.Column) and isinstance(proj.this, exp.Star)):
            raise _err(
                UnsupportedError("SELECT * in a query that aggregates, with a subquery after it"), proj
            )
        name = item_name(proj, i)
        value = rewrite((proj.this if isinstance(proj, exp.Alias) else proj).copy())
        items.append(exp.alias_(value, exp.to_identifier(name, quoted=True)))
    condition = rewrite(having.this.copy()) if having is not None else None
    inner = select.copy()
    inner.set(
        "expressions",
        inner_items or [exp.alias_(exp.Literal.number(0), exp.to_identifier("$none", quoted=True))],
    )
    inner.set("having", None)
    inner.set("distinct", None)
    out = exp.Select(expressions=items).from_(
        exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(AGGREGATED, quoted=True)))
    )
    if condition is not None:
        out.set("where", exp.Where(this=condition))
    if select.args.get("distinct"):
        out.set("distinct", exp.Distinct())
    return out


def _group_keys(group: exp.Group | None) -> list[exp.Expr]:
    """Every expression GROUP BY groups by, in GROUPING SETS, ROLLUP and CUBE too."""
    if group is None:
        return []
    found: list[exp.Expr] = []

    def take(e: exp.Expr) -> None:
        if isinstance(e, exp.GroupingSets | exp.Rollup | exp.Cube | exp.Tuple):
            for x in e.expressions:
                take(x)
        elif not (isinstance(e, exp.Paren) and isinstance(e.this, exp.Tuple)):
            found.append(e.unnest() if isinstance(e, exp.Paren) else e)
        else:
            take(e.this)

    for arg in ("expressions", "grouping_sets", "rollup", "cube"):
        for e in group.args.get(arg) or []:
            take(e)
    return found


def _is_call(e: exp.Expr) -> bool:
    """What the aggregation computes: an aggregate call (with its FILTER), GROUPING, a
    group window's TUMBLE_START and the like."""
    if isinstance(e, exp.Filter):
        return is_aggregate(e.this)
    if is_aggregate(e):
        return not isinstance(e.parent, exp.Filter)
    return isinstance(e, GROUPING_FUNCTIONS) or is_legacy_aux(e)


def _outer_refs(
    query: exp.Select,
    scope: Scope,
    inner_scope: Callable[[exp.Select], Scope],
    outer: Callable[[exp.Column], exp.Expr],
) -> exp.Select:
    """``query`` (a subquery) with its references to the outer query replaced by ``outer``."""
    replaced = {id(c): outer(c) for c in outer_columns(query, scope, inner_scope)}
    if not replaced:
        return query
    out = query.transform(lambda n: replaced.get(id(n), n), copy=False)
    assert isinstance(out, exp.Select)
    return out


def _not_grouped(c: exp.Column) -> PlanError:
    return PlanError(f"column '{c.name}' must appear in GROUP BY or be used in an aggregate function")
