"""Semi and anti joins: the ``IN``, ``EXISTS``, ``NOT IN`` and ``NOT EXISTS`` subqueries
of a WHERE clause, planned as Flink plans them (``FlinkSubQueryRemoveRule``): a join
whose output is the outer query's rows that have (semi) or have not (anti) a matching
row in the subquery.

- ``x IN (SELECT y ...)``: a semi join on ``x = y``; where ``x`` or ``y`` is an expression
  (``UPPER(k) IN (SELECT i + 1 ...)``), it is computed as a column beside its side's rows
  first, as Flink's rule projects it;
- ``EXISTS (SELECT ... WHERE inner.a = outer.b AND ...)``: a semi join whose condition
  is the subquery's WHERE (its equalities between an inner and an outer column are the
  join keys);
- ``NOT EXISTS``: the same as an anti join;
- any of these between two window TVFs of the same window, correlated on window_start and
  window_end: a window semi/anti join (Flink's WindowJoin), each window's outer rows
  emitted, append-only, once the watermark passes its end;
- ``x NOT IN (SELECT y ...)``: an anti join with SQL's three-valued logic, as Flink
  does: a row is kept when no ``y`` equals ``x``, and neither ``x`` nor any ``y`` is NULL
  (unless the subquery is empty). The condition ``x = y OR x IS NULL OR y IS NULL`` has no
  equi-key when either side can be NULL, so Flink runs it on one subtask; so do we. When
  both are NOT NULL it is a plain anti join on ``x = y``.

A conjunct of the WHERE clause itself is planned so. Under OR an IN or EXISTS is a mark
join (``_bind_mark_joins``), and anywhere else in WHERE or in the SELECT list of a query
that does not aggregate it is a value with SQL's three values (``_bind_predicate_values``).
Scalar subqueries are LEFT JOINs (``_bind_scalar_subqueries``). The outer query's time
attributes do not survive (a semi/anti join's output is not ordered
by time), as for a regular join.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from sqlglot import exp

from catalog.errors import SqlStreamError
from catalog.types import BOOLEAN, DataType
from planner.bind.aggregates import is_aggregate
from planner.bind.joins import _joined_scope, _window_join
from planner.bind.relations import RelationBinder, where_conjuncts
from planner.bind.scope import Scope, ScopeField, _err, _ref
from planner.errors import PlanError, UnsupportedError
from planner.logical import WINDOW_ENDS, BoundField, Calc, Join, LogicalNode, Union
from planner.typecheck import check_comparisons, infer

_SIMPLE_ONLY = ("group", "having", "qualify", "distinct", "limit", "order", "windows", "with_", "with")


@dataclass
class _Nested(Scope):
    """The scope inside a correlated subquery: a name is looked up among the subquery's
    own ``own`` first fields, then among the outer query's."""

    own: int = 0

    def lookup(self, name: str, qualifier: str | None) -> BoundField | None:
        found = Scope(self.fields[: self.own]).lookup(name, qualifier)
        return found if found is not None else Scope(self.fields[self.own :]).lookup(name, qualifier)


@dataclass(frozen=True)
class _Marked:
    """An IN or EXISTS subquery mark-joined (``SubqueryJoinBinder._mark``)."""

    select: exp.Expr  # the subquery
    item: exp.Expr | None  # an IN's select item; None for EXISTS
    keys: list[str]  # the outer fields joined on: the correlation's, then an IN's needle
    inner_keys: list[exp.Expr]  # the subquery's expressions they equal
    rest: list[exp.Expr]  # the subquery's other WHERE conjuncts
    mark: BoundField  # TRUE where a row matches, else NULL
    needle_nullable: bool
    item_nullable: bool


class SubqueryJoinBinder(RelationBinder):
    """Binds the subquery conjuncts of a WHERE clause as semi/anti joins."""

    def _bind_subquery_joins(
        self, node: LogicalNode, scope: Scope, where: exp.Expr, ctes: dict[str, exp.Expr]
    ) -> tuple[LogicalNode, Scope, list[exp.Expr]]:
        """The input after every subquery conjunct of ``where`` is joined in, its scope,
        and the other conjuncts (unbound)."""
        rest: list[exp.Expr] = []
        conjuncts = where.flatten() if isinstance(where, exp.And) else [where]
        joined = False
        for conj in conjuncts:
            inner = conj.unnest() if isinstance(conj, exp.Paren) else conj
            negated = isinstance(inner, exp.Not)
            target = inner.this.unnest() if negated else inner
            if isinstance(target, exp.Exists):
                node = self._semi_join(node, scope, None, target.this, negated, False, ctes, conj)
            elif isinstance(target, exp.In) and target.args.get("query") is not None:
                query = target.args["query"]
                node = self._semi_join(node, scope, target.this, query, negated, negated, ctes, conj)
            else:
                rest.append(conj)
                continue
            joined = True
        if joined:  # the output rows are the outer ones, without time attributes
            scope = Scope(
                [
                    ScopeField(sf.qualifiers, BoundField(sf.field.name, sf.field.type), sf.alias)
                    for sf in scope.fields
                ]
            )
        return node, scope, rest

    def _semi_join(
        self,
        outer: LogicalNode,
        scope: Scope,
        needle: exp.Expr | None,
        query: exp.Expr,
        anti: bool,
        null_aware: bool,
        ctes: dict[str, exp.Expr],
        where: exp.Expr,
    ) -> LogicalNode:
        """One semi (or anti) join of ``outer`` with ``query``; ``needle`` is the IN's
        left operand (None for EXISTS). Without an equality of an outer and an inner column
        (uncorrelated, or correlated by other comparisons) it is a join without keys, every
        pair compared on one subtask, as Flink's; it keeps the subquery's rows, where
        Flink's uncorrelated EXISTS keeps one, and so stays append-only over append-only
        inputs."""
        select = query.unnest() if isinstance(query, exp.Subquery) else query
        simple = isinstance(select, exp.Select) and not any(select.args.get(a) for a in _SIMPLE_ONLY)
        inner_where: exp.Expr | None = None
        if simple:
            # correlated or not: the subquery's FROM, its WHERE becomes the join's condition
            assert isinstance(select, exp.Select)
            pending = where_conjuncts(select)  # a comma join in the subquery takes its own
            inner, inner_scope = self._bind_from(select, ctes, pending)
            inner_where = exp.and_(*pending) if pending else None
            selected = []
            for item in select.expressions if needle is not None else []:
                inner, inner_scope, computed = self._selected_computed(inner, inner_scope, item)
                selected += computed
        else:  # an aggregating or set-operation subquery: uncorrelated, bound whole
            inner = self.bind_query(select, ctes)
            inner_scope = Scope.of(inner, set())
            selected = [_ref(f.name) for f in inner.fields]
        out = tuple(BoundField(f.name, f.type) for f in outer.fields)
        # ``(a, b) IN (SELECT x, y ...)``: a row's columns each compared with an item
        needles = list(needle.expressions) if isinstance(needle, exp.Tuple) else [needle] if needle else []
        mines = []
        for one in needles:
            outer, scope, mine = self._needle_computed(outer, scope, one)
            mines.append(mine)
        joined, right_fields = _joined_scope(scope, inner_scope)
        # inside the subquery its own columns come first, the outer query's after (SQL scoping)
        joined_scope = _Nested(joined.fields[len(scope.fields) :] + joined.fields[: len(scope.fields)])
        joined_scope.own = len(joined.fields) - len(scope.fields)
        renamed = {f.name: sf.field.name for f, sf in zip(right_fields, inner_scope.fields)}
        left_names = {f.name for f in outer.fields}
        conditions: list[exp.Expr] = []
        if inner_where is not None:
            conditions.append(self.bind_expr(inner_where, joined_scope))
        if needle is not None and len(selected) != len(needles):
            raise _err(
                PlanError(f"the IN subquery selects {len(selected)} columns for {len(needles)} on its left"),
                query,
            )
        for mine, item in zip(mines, selected):
            item = item.this if isinstance(item, exp.Alias) else item
            theirs = self.bind_expr(item, joined_scope)
            if (
                not isinstance(mine, exp.Column)
                or not isinstance(theirs, exp.Column)
                or theirs.name not in renamed
            ):
                raise _err(
                    UnsupportedError(
                        "IN with a subquery compares a column with a column the subquery selects",
                        hint="select the expression as a column in a subquery or view first",
                    ),
                    where,
                )
            item_type = dict((f.name, f.type) for f in right_fields)[theirs.name]
            _check_comparable(outer.field_type(mine.name), item_type, where)
            if null_aware and (outer.field_type(mine.name).nullable or item_type.nullable):
                # SQL's NOT IN: a NULL on either side makes the comparison unknown, which
                # excludes the row (unless the subquery has no rows at all)
                conditions.append(
                    exp.or_(
                        exp.EQ(this=mine, expression=theirs),
                        exp.Is(this=mine, expression=exp.Null()),
                        exp.Is(this=theirs, expression=exp.Null()),
                    )
                )
            else:
                conditions.append(exp.EQ(this=mine, expression=theirs))
        keys: list[tuple[str, str]] = []
        rest: list[exp.Expr] = []
        flat = [c for cond in conditions for c in (cond.flatten() if isinstance(cond, exp.And) else [cond])]
        for conj in flat:
            if isinstance(conj, exp.EQ) and all(isinstance(s, exp.Column) for s in (conj.left, conj.right)):
                a, b = conj.left.name, conj.right.name
                if a in renamed and b in left_names:
                    a, b = b, a
                if a in left_names and b in renamed:
                    keys.append((a, renamed[b]))
                    continue
            rest.append(conj)
        residual = exp.and_(*rest) if rest else None
        kind = "anti" if anti else "semi"
        # between two window TVFs on window_start and window_end: a window semi/anti join
        windowed = _window_join(outer, inner, renamed, keys, where)
        window, ends = windowed if windowed else (None, WINDOW_ENDS)
        fields = tuple(BoundField(f.name, f.type) for f in outer.fields) + tuple(right_fields)
        join = Join(fields, outer, inner, kind, tuple(keys), residual, window=window, window_ends=ends)
        # the join's fields name the right's columns for its condition; it outputs the left's
        return Calc(out, join, tuple((f.name, _ref(f.name)) for f in out))

    def _bind_scalar_subqueries(
        self,
        node: LogicalNode,
        scope: Scope,
        exprs: list[exp.Expr],
        ctes: dict[str, exp.Expr],
        in_aggregates: bool = False,
        outer: exp.Select | None = None,
    ) -> tuple[LogicalNode, Scope, list[exp.Expr]]:
        """Each uncorrelated scalar subquery of ``exprs`` (``v > (SELECT AVG(v) FROM t)``)
        LEFT JOINed to ``node`` on TRUE, as Flink plans one, and replaced by a reference
        to its column (a hidden field: not in ``*``). A subquery without rows is NULL.

        Only a subquery that cannot give more than one row is taken: a global aggregate
        (no GROUP BY) or a SELECT without FROM. Flink also plans others and fails the job
        when one gives a second row; here that is refused when planned. ``in_aggregates``:
        only those inside an aggregate call or its FILTER (``SUM(v * (SELECT rate FROM
        fx))``), which read the input's rows (the SELECT list and HAVING of a query that aggregates).
        ``outer``: the query they are in, whose FROM a subquery correlated otherwise than by
        equalities is decorrelated over (``_decorrelated_by_values``)."""

        def taken(sub: exp.Expr) -> bool:
            return not in_aggregates or in_aggregate_call(sub)

        found = [sub for e in exprs for sub in _scalar_subqueries(e) if taken(sub)]
        if not found:
            return node, scope, exprs
        exprs = [e.copy() for e in exprs]  # replaced in place below, not in the statement's tree
        found = [sub for e in exprs for sub in _scalar_subqueries(e) if taken(sub)]
        replaced: dict[int, exp.Expr] = {}
        for sub in found:
            select = _single_row(sub)
            keys: list[str] = []  # the outer query's columns it is correlated on, in order
            try:
                inner = self.bind_query(select, ctes)
            except SqlStreamError:
                decorrelated = self._decorrelated(select, scope, ctes, outer)
                if decorrelated is None:
                    reads = [c for c in select.find_all(exp.Column) if c.table and _lookup(scope, c)]
                    if not reads:
                        raise
                    raise _err(
                        UnsupportedError(
                            f"a correlated scalar subquery (it reads {written(reads[0])} of the outer "
                            "query) other than one aggregate correlated by comparisons",
                            hint="aggregate by the key in a subquery and JOIN it: "
                            "JOIN (SELECT k, MAX(v) AS m FROM t GROUP BY k) s ON s.k = o.k",
                        ),
                        sub,
                    ) from None
                grouped, keys = decorrelated
                inner = self.bind_query(grouped, ctes)
            if len(inner.fields) != 1 + len(keys):
                raise _err(
                    PlanError(f"a scalar subquery selects {len(inner.fields)} columns; it must select one"),
                    sub,
                )
            node, scope, value = _left_joined(node, scope, inner, keys, "$sq")
            counted = keys and isinstance(_unaliased(select.expressions[0]), exp.Count)
            # a correlated COUNT over no matching rows is 0, not the outer join's NULL
            replaced[id(sub)] = exp.func("COALESCE", _ref(value.name), 0) if counted else _ref(value.name)
        rewritten = [e.transform(lambda n: replaced.get(id(n), n), copy=False) for e in exprs]
        return node, scope, [e for e in rewritten if e is not None]

    def _bind_aggregated_subqueries(
        self, scope: Scope, select: exp.Select, ctes: dict[str, exp.Expr]
    ) -> tuple[Scope, exp.Select, tuple[LogicalNode, ...]]:
        """The uncorrelated scalar subqueries of an aggregating query's SELECT list and
        HAVING (``COUNT(*) * 1.0 / (SELECT COUNT(*) FROM t)``), which Flink joins to the
        aggregate's rows: each bound as a one-column node under a fresh name, put in place of
        the subquery and added to ``scope`` as a hidden field, for ``_bind_aggregate`` to
        LEFT JOIN on TRUE after it aggregates. Those inside aggregate calls are joined to
        the input's rows before (``_bind_scalar_subqueries``); one correlated otherwise
        than ``after_aggregation`` takes is refused by name."""
        select = select.copy()  # replaced in place below, not in the statement's tree
        having = select.args.get("having")
        select.set("expressions", named_subqueries(select.expressions))
        tops = [*select.expressions, *([having.this] if having is not None else [])]
        joined: list[LogicalNode] = []
        taken = {sf.field.name.lower() for sf in scope.fields}
        for sub in [sub for top in tops for sub in _scalar_subqueries(top)]:
            inner_select = _single_row(sub)
            try:
                inner = self.bind_query(inner_select, ctes)
            except SqlStreamError:
                if not any(c.table and _lookup(scope, c) for c in inner_select.find_all(exp.Column)):
                    raise
                raise _err(
                    UnsupportedError(
                        "a correlated scalar subquery in the SELECT list or HAVING of a query "
                        "that aggregates",
                        hint="aggregate in a subquery and select the scalar subquery around it",
                    ),
                    sub,
                ) from None
            if len(inner.fields) != 1:
                raise _err(
                    PlanError(f"a scalar subquery selects {len(inner.fields)} columns; it must select one"),
                    sub,
                )
            name = next(f"$sq{i}" for i in range(len(taken) + 1) if f"$sq{i}" not in taken)
            taken.add(name)
            value = BoundField(name, inner.fields[0].type.with_nullable(True))
            joined.append(Calc((value,), inner, ((name, _ref(inner.fields[0].name)),)))
            scope = Scope([*scope.fields, ScopeField(frozenset(), value, hidden=True)])
            sub.replace(_ref(name))
        return scope, select, tuple(joined)

    def _correlation(
        self, select: exp.Expr, scope: Scope, ctes: dict[str, exp.Expr], item: exp.Expr | None
    ) -> tuple[list[str], list[exp.Expr], list[exp.Expr]] | None:
        """How a subquery over a FROM of its own reads the outer query: only by equalities
        of one of its columns with one of the outer's in WHERE (none: uncorrelated). Returns
        the outer columns' field names, the subquery's columns they equal, and the WHERE's
        other conjuncts; None when it reads the outer query otherwise (also in ``item``)."""
        if not isinstance(select, exp.Select) or any(select.args.get(a) for a in _SIMPLE_ONLY):
            return None
        _, inner_scope = self._bind_from(select, ctes, where_conjuncts(select))

        def outer(c: exp.Column) -> bool:
            return _lookup(inner_scope, c) is None and _lookup(scope, c) is not None

        if item is not None and any(outer(c) for c in item.find_all(exp.Column)):
            return None
        keys: list[str] = []
        inner_keys: list[exp.Expr] = []
        rest: list[exp.Expr] = []
        for conj in where_conjuncts(select):
            if not any(outer(c) for c in conj.find_all(exp.Column)):
                rest.append(conj)
                continue
            if not isinstance(conj, exp.EQ):
                return None
            left, right = conj.left, conj.right
            if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
                return None
            theirs, mine = (left, right) if outer(left) else (right, left)
            if outer(mine) or not outer(theirs) or _lookup(inner_scope, mine) is None:
                return None
            found = _lookup(scope, theirs)
            assert found is not None
            keys.append(found.name)
            inner_keys.append(mine.copy())
        return keys, inner_keys, rest

    def _subquery_scope(self, ctes: dict[str, exp.Expr]) -> Callable[[exp.Select], Scope]:
        """The columns a subquery's own FROM gives."""

        def scope(query: exp.Select) -> Scope:
            return self._bind_from(query, ctes, where_conjuncts(query))[1]

        return scope

    def _decorrelated(
        self, select: exp.Expr, scope: Scope, ctes: dict[str, exp.Expr], outer: exp.Select | None = None
    ) -> tuple[exp.Select, list[str]] | None:
        """A correlated scalar subquery as Flink decorrelates one: ``(SELECT MAX(v) FROM t
        WHERE t.k = o.k AND ...)`` becomes ``SELECT k, MAX(v) FROM t WHERE ... GROUP BY k``,
        joined on ``o.k``. Taken: one aggregate call, correlated as ``_correlation`` takes.
        Returns the grouped query (its keys first, the value last) and the outer columns."""
        item = _one_item(select)
        if item is None:
            return None
        correlation = self._correlation(select, scope, ctes, item) if is_aggregate(item) else None
        if correlation is None and outer is not None and is_aggregate(item):
            return self._decorrelated_by_values(select, scope, ctes, outer)
        if correlation is None:
            return None
        keys, inner_keys, rest = correlation
        return _per_key(select, inner_keys, {"$v": item.copy()}, rest, grouped=True), keys

    def _decorrelated_by_values(
        self, select: exp.Expr, scope: Scope, ctes: dict[str, exp.Expr], outer: exp.Select
    ) -> tuple[exp.Select, list[str]] | None:
        """A scalar subquery of one aggregate that reads the outer query otherwise than by
        equalities (``(SELECT MAX(p.v) FROM p WHERE p.ts <= o.ts)``), as Calcite decorrelates
        one: the outer query's distinct values of the columns it reads (``outer``'s FROM and
        the WHERE conjuncts without a subquery: a superset of its rows' values), each
        joined with the subquery's rows it matches and aggregated per value, then joined to
        the outer rows on those columns. The outer input is read once (the physical plan
        shares a subtree read the same way). Taken only where the conditions that read the
        outer query are comparisons of columns, literals and arithmetic, unknown for a NULL
        outer value, so that a NULL value, never joined back, loses nothing."""
        if not isinstance(select, exp.Select) or any(select.args.get(a) for a in _SIMPLE_ONLY):
            return None
        outer_from = outer.args.get("from_") or outer.args.get("from")
        own = select.args.get("from_") or select.args.get("from")
        if outer_from is None or own is None:
            return None
        read = outer_columns(select, scope, self._subquery_scope(ctes))
        if not read or any(not _null_strict(c) for c in read):
            return None
        fields: dict[str, str] = {}  # an outer field -> its column in the distinct values
        values: list[exp.Expr] = []
        for c in read:
            f = _lookup(scope, c)
            assert f is not None
            if f.name not in fields:
                fields[f.name] = f"$c{len(fields)}"
                values.append(exp.alias_(c.copy(), exp.to_identifier(fields[f.name], quoted=True)))
        distinct = exp.Select(expressions=values, distinct=exp.Distinct())
        distinct.set("from_", outer_from.copy())
        distinct.set("joins", [j.copy() for j in outer.args.get("joins") or []])
        plain = [c for c in where_conjuncts(outer) if not any(c.find_all(exp.Subquery, exp.Select))]
        if plain:
            distinct.set("where", exp.Where(this=exp.and_(*(c.copy() for c in plain))))
        grouped = select.copy()
        for c in outer_columns(grouped, scope, self._subquery_scope(ctes)):
            f = _lookup(scope, c)
            assert f is not None
            c.replace(
                exp.column(
                    exp.to_identifier(fields[f.name], quoted=True), exp.to_identifier("$d", quoted=True)
                )
            )
        keys = [
            exp.column(exp.to_identifier(n, quoted=True), exp.to_identifier("$d", quoted=True))
            for n in fields.values()
        ]
        item = _one_item(grouped)
        assert item is not None
        grouped.set(
            "from_",
            exp.From(
                this=exp.Subquery(
                    this=distinct, alias=exp.TableAlias(this=exp.to_identifier("$d", quoted=True))
                )
            ),
        )
        grouped.set(
            "joins", [exp.Join(this=own.this.copy()), *(j.copy() for j in grouped.args.get("joins") or [])]
        )
        grouped.set(
            "expressions",
            [
                *(exp.alias_(k.copy(), exp.to_identifier(f"$k{i}", quoted=True)) for i, k in enumerate(keys)),
                exp.alias_(item.copy(), exp.to_identifier("$v", quoted=True)),
            ],
        )
        grouped.set("group", exp.Group(expressions=[k.copy() for k in keys]))
        return grouped, list(fields)

    def _bind_mark_joins(
        self, node: LogicalNode, scope: Scope, exprs: list[exp.Expr], ctes: dict[str, exp.Expr]
    ) -> tuple[LogicalNode, Scope, list[exp.Expr]]:
        """IN and EXISTS subqueries inside a WHERE conjunct, under OR (``a = 1 OR k IN
        (SELECT ...)``): each a LEFT JOIN with the subquery's distinct keys and a marker,
        the IN or EXISTS replaced by ``marker IS NOT NULL`` (Flink's mark join). Only where
        the result is filtered as it is (no NOT above it, but an EXISTS's), so that SQL's
        unknown, for a NULL key, filters as false does, and no join of NULL flags is needed;
        elsewhere (a NOT IN under OR too) they are left for ``_bind_predicate_values``."""
        found = [sub for e in exprs for sub in _marked_subqueries(e)]
        if not found:
            return node, scope, exprs
        exprs = [e.copy() for e in exprs]
        replaced: dict[int, exp.Expr] = {}
        for sub in [sub for e in exprs for sub in _marked_subqueries(e)]:
            marked = self._mark(node, scope, sub, ctes)
            if marked is None:
                continue
            node, scope, m = marked
            replaced[id(sub)] = exp.Not(this=exp.Is(this=_ref(m.mark.name), expression=exp.Null()))
        rewritten = [e.transform(lambda n: replaced.get(id(n), n), copy=False) for e in exprs]
        return node, scope, [e for e in rewritten if e is not None]

    def _bind_predicate_values(
        self,
        node: LogicalNode,
        scope: Scope,
        exprs: list[exp.Expr],
        ctes: dict[str, exp.Expr],
        in_aggregates: bool = False,
    ) -> tuple[LogicalNode, Scope, list[exp.Expr]]:
        """IN and EXISTS subqueries anywhere else in ``exprs``, as values: in the SELECT list
        (``k IN (SELECT ...) AS found``), in CASE, under NOT twice. Each is a mark join
        (``_mark``) and SQL's three-valued answer over it, as Flink's rule writes it: an
        EXISTS is whether its marker is there; ``x IN (SELECT y ...)`` is TRUE on a match,
        FALSE when the subquery has no row (for the row's correlation keys), unknown when
        ``x`` is NULL or some ``y`` is (``_null_flags``), else FALSE. A subquery read
        otherwise than by equalities stays to be refused by name. ``in_aggregates``: only
        those inside an aggregate call or its FILTER, which read the input's rows (the
        SELECT list of a query that aggregates)."""

        def taken(e: exp.Expr) -> bool:
            return not in_aggregates or in_aggregate_call(e)

        found = [sub for e in exprs for sub in (*_predicate_subqueries(e), *_quantified(e)) if taken(sub)]
        if not found:
            return node, scope, exprs
        exprs = [e.copy() for e in exprs]
        replaced: dict[int, exp.Expr] = {}
        for compared in [q for e in exprs for q in _quantified(e) if taken(q)]:
            answered = self._quantified_value(node, scope, compared, ctes)
            if answered is not None:
                node, scope, replaced[id(compared)] = answered
        for sub in [sub for e in exprs for sub in _predicate_subqueries(e) if taken(sub)]:
            marked = self._mark(node, scope, sub, ctes)
            if marked is None:
                continue
            node, scope, m = marked
            hit = exp.Not(this=exp.Is(this=_ref(m.mark.name), expression=exp.Null()))
            if m.item is None or not (m.needle_nullable or m.item_nullable):
                replaced[id(sub)] = exp.Paren(this=hit)
                continue
            node, scope, z = self._null_flags(node, scope, m, ctes)
            unknown = exp.or_(
                exp.Is(this=_ref(m.keys[-1]), expression=exp.Null()),
                exp.EQ(this=_ref(z.name), expression=exp.Literal.number(1)),
            )
            replaced[id(sub)] = exp.Case(
                ifs=[
                    exp.If(this=hit, true=exp.true()),
                    exp.If(this=exp.Is(this=_ref(z.name), expression=exp.Null()), true=exp.false()),
                    exp.If(this=unknown, true=exp.cast(exp.Null(), exp.DataType.build("BOOLEAN"))),
                ],
                default=exp.false(),
            )
        rewritten = [e.transform(lambda n: replaced.get(id(n), n), copy=False) for e in exprs]
        return node, scope, [e for e in rewritten if e is not None]

    def _quantified_value(
        self, node: LogicalNode, scope: Scope, compared: exp.Binary, ctes: dict[str, exp.Expr]
    ) -> tuple[LogicalNode, Scope, exp.Expr] | None:
        """``x op ANY (SELECT y ...)`` or ``x op ALL (...)`` (``quantified_as_in`` took ``=
        ANY`` and ``<> ALL``) as Flink's rule answers it: ``node`` LEFT JOINed with the
        subquery's least and greatest item and its counts of rows and of items (per
        correlation key), and SQL's three values over them: over no row ANY is FALSE and ALL
        TRUE; else unknown for a NULL ``x``; else decided by the least or greatest item where
        that decides; else unknown when an item is NULL. None: the subquery reads the outer
        query otherwise than by equalities, left to be refused by name."""
        quantifier = compared.expression
        select = quantifier.this.unnest()
        item = _one_item(select)
        if item is None:
            return None
        correlation = self._correlation(select, scope, ctes, item)
        if correlation is None:
            return None
        keys, inner_keys, rest = correlation
        aggregates = {
            "$lo": exp.Min(this=item.copy()),
            "$hi": exp.Max(this=item.copy()),
            "$c": exp.Count(this=exp.Star()),
            "$n": exp.Count(this=item.copy()),
        }
        counted = _per_key(select, inner_keys, aggregates, rest, grouped=True)
        node, scope, (lo, hi, rows, items) = _left_joined_values(
            node, scope, self.bind_query(counted, ctes), keys, "$all"
        )
        needle = compared.this
        every = isinstance(quantifier, exp.All)
        op = type(compared)
        if op in (exp.EQ, exp.NEQ):  # = ALL, <> ANY: whether every item is the needle
            differs = exp.or_(
                exp.NEQ(this=needle.copy(), expression=_ref(lo.name)),
                exp.NEQ(this=needle.copy(), expression=_ref(hi.name)),
            )
            decides = differs
        else:
            # x > ALL: x > the greatest; x > ANY: x > the least (and < the other way round)
            bound = hi if (op in (exp.GT, exp.GTE)) == every else lo
            compare = op(this=needle.copy(), expression=_ref(bound.name))
            decides = exp.Not(this=compare) if every else compare
        none = exp.EQ(this=exp.func("COALESCE", _ref(rows.name), 0), expression=exp.Literal.number(0))
        some_null = exp.LT(this=_ref(items.name), expression=_ref(rows.name))
        unknown = exp.cast(exp.Null(), exp.DataType.build("BOOLEAN"))
        answer = exp.Case(
            ifs=[
                exp.If(this=none, true=exp.true() if every else exp.false()),
                exp.If(this=exp.Is(this=needle.copy(), expression=exp.Null()), true=unknown),
                exp.If(this=decides, true=exp.false() if every else exp.true()),
                exp.If(this=some_null, true=unknown),
            ],
            default=exp.true() if every else exp.false(),
        )
        return node, scope, answer

    def _mark(
        self, node: LogicalNode, scope: Scope, sub: exp.In | exp.Exists, ctes: dict[str, exp.Expr]
    ) -> tuple[LogicalNode, Scope, _Marked] | None:
        """``node`` LEFT JOINed with the distinct correlation keys (and, for an IN, the
        item) of ``sub``'s subquery and a marker, TRUE where a row matches: None when the
        subquery reads the outer query otherwise than by equalities (an EXISTS's then
        goes to ``_mark_by_condition``)."""
        query = sub.this if isinstance(sub, exp.Exists) else sub.args["query"]
        select = query.unnest()
        item = None
        if isinstance(sub, exp.In):
            item = _one_item(select)
            if item is None:
                return None
        correlation = self._correlation(select, scope, ctes, item)
        if correlation is None and isinstance(sub, exp.Exists) and isinstance(select, exp.Select):
            return self._mark_by_condition(node, scope, sub, ctes)
        if correlation is None:
            return None
        keys, inner_keys, rest = correlation
        if isinstance(sub, exp.In) and item is not None:
            node, scope, needle = self._needle_computed(node, scope, sub.this)
            keys, inner_keys = [*keys, needle.name], [*inner_keys, item.copy()]
        inner = self.bind_query(_per_key(select, inner_keys, {"$hit": exp.true()}, rest, distinct=True), ctes)
        if item is not None:
            _check_comparable(node.field_type(keys[-1]), inner.fields[len(keys) - 1].type, sub)
        item_nullable = item is not None and inner.fields[len(keys) - 1].type.nullable
        needle_nullable = item is not None and node.field_type(keys[-1]).nullable
        node, scope, mark = _left_joined(node, scope, inner, keys, "$mark")
        return (
            node,
            scope,
            _Marked(select, item, keys, inner_keys, rest, mark, needle_nullable, item_nullable),
        )

    def _mark_by_condition(
        self, node: LogicalNode, scope: Scope, sub: exp.Exists, ctes: dict[str, exp.Expr]
    ) -> tuple[LogicalNode, Scope, _Marked]:
        """An EXISTS that reads the outer query otherwise than by equalities (``EXISTS
        (SELECT 1 FROM t WHERE t.v > o.v)``) marked: the outer rows with a match (its semi
        join) and the marker TRUE, beside those without one (its anti join) and the marker
        NULL. Each row is in one of the two, and moves to the other as matches come and go
        (a retraction there, an insertion here): Flink's mark join with a condition, of
        two joins without keys that read the same input."""
        name = _fresh("$mark", node)
        branches: list[LogicalNode] = []
        for anti in (False, True):
            rows = self._semi_join(node, scope, None, sub.this, anti, False, ctes, sub)
            value = exp.cast(exp.Null(), exp.DataType.build("BOOLEAN")) if anti else exp.true()
            fields = (*rows.fields, BoundField(name, BOOLEAN))
            branches.append(
                Calc(fields, rows, (*((f.name, _ref(f.name)) for f in rows.fields), (name, value)))
            )
        marked = Union(branches[0].fields, tuple(branches))
        mark = marked.fields[-1]
        outer = [
            ScopeField(sf.qualifiers, BoundField(sf.field.name, sf.field.type), sf.alias, sf.hidden)
            for sf in scope.fields
        ]
        scope = Scope([*outer, ScopeField(frozenset(), mark, hidden=True)])
        return marked, scope, _Marked(sub.this.unnest(), None, [], [], [], mark, False, False)

    def _null_flags(
        self, node: LogicalNode, scope: Scope, m: _Marked, ctes: dict[str, exp.Expr]
    ) -> tuple[LogicalNode, Scope, BoundField]:
        """Beside an IN's mark join, ``$z`` LEFT JOINed per correlation key: 1 when an item
        of the subquery is NULL, 0 when none is, NULL when it has no row."""
        assert m.item is not None
        is_null = exp.Is(this=m.item.copy(), expression=exp.Null())
        flag = exp.Max(this=exp.If(this=is_null, true=exp.Literal.number(1), false=exp.Literal.number(0)))
        nulls = _per_key(m.select, m.inner_keys[:-1], {"$z": flag}, m.rest, grouped=True)
        return _left_joined(node, scope, self.bind_query(nulls, ctes), m.keys[:-1], "$nulls")

    def _needle_computed(
        self, outer: LogicalNode, scope: Scope, needle: exp.Expr
    ) -> tuple[LogicalNode, Scope, exp.Expr]:
        """IN's left operand bound; an expression (``UPPER(name) IN (...)``) is computed as
        a column beside the outer rows, for the semi join to compare columns."""
        mine = self.bind_expr(needle, scope)
        if isinstance(mine, exp.Column):
            return outer, scope, mine
        field = BoundField(_fresh("$in", outer), infer(mine, outer.field_type))
        projections = (*((f.name, _ref(f.name)) for f in outer.fields), (field.name, mine))
        node = Calc((*outer.fields, field), outer, projections)
        computed = ScopeField(frozenset(), field, hidden=True)
        return node, Scope([*scope.fields, computed]), _ref(field.name)

    def _selected_computed(
        self, inner: LogicalNode, scope: Scope, item: exp.Expr
    ) -> tuple[LogicalNode, Scope, list[exp.Expr]]:
        """An IN subquery's select item as a column of its FROM: an expression of the
        subquery's own columns (``IN (SELECT id + 1 FROM t)``, ``IN (SELECT 1)``) computed
        beside its rows, so that the semi join compares columns. An item that is a column
        already, or that names the outer query's columns, is left as it was."""
        expr = item.this if isinstance(item, exp.Alias) else item
        try:
            bound = self.bind_expr(expr, scope)
        except SqlStreamError:  # correlated: refused below, by name
            return inner, scope, [item]
        if isinstance(bound, exp.Column):
            return inner, scope, [item]
        field = BoundField(_fresh("$in", inner), infer(bound, inner.field_type))
        projections = (*((f.name, _ref(f.name)) for f in inner.fields), (field.name, bound))
        node = Calc((*inner.fields, field), inner, projections)
        computed = ScopeField(frozenset(), field, hidden=True)
        return node, Scope([*scope.fields, computed]), [_ref(field.name)]


def named_subqueries(items: list[exp.Expr]) -> list[exp.Expr]:
    """SELECT items with a bare subquery named as Flink names it (EXPR$<i>), not by its
    column, before the subquery is replaced by a join's column."""
    return [
        exp.Alias(this=p, alias=exp.to_identifier(f"EXPR${i}")) if isinstance(p, exp.Subquery) else p
        for i, p in enumerate(items)
    ]


def _scalar_subqueries(expr: exp.Expr) -> list[exp.Subquery]:
    """The outermost scalar subqueries of ``expr``: not an IN's or EXISTS's query, nor one
    inside another query (a derived table in an IN's FROM is that query's)."""
    return [
        sub
        for sub in expr.find_all(exp.Subquery)
        if not isinstance(sub.parent, exp.In | exp.Exists | exp.Any | exp.All) and not _in_subquery(sub, expr)
    ]


def _check_comparable(needle: DataType, item: DataType, at: exp.Expr) -> None:
    """An IN's operand and its subquery's item must compare as Flink's validator lets them
    (a number with a string does not): DuckDB would cast each row's text in the join and
    fail the job at the first that is no number."""
    types = {"needle": needle, "item": item}
    try:
        check_comparisons(exp.EQ(this=_ref("needle"), expression=_ref("item")), types.__getitem__)
    except SqlStreamError as e:
        raise _err(e, at) from None


def written(e: exp.Expr) -> str:
    """``e`` as the statement wrote it: a column a rewrite put in its place keeps that text."""
    return str(e.meta.get("written") or e.sql())


def in_aggregate_call(node: exp.Expr) -> bool:
    """Whether ``node`` is inside an aggregate call or its FILTER: there it reads the
    aggregated query's input rows, elsewhere in its SELECT list or HAVING the aggregate's."""
    return any(is_aggregate(a) or isinstance(a, exp.Filter) for a in _ancestors(node))


def outer_columns(
    query: exp.Select, scope: Scope, inner_scope: Callable[[exp.Select], Scope]
) -> list[exp.Column]:
    """The columns of ``query`` (a subquery) that read the outer query: those its FROM does
    not give and the outer FROM (``scope``) does."""
    own = inner_scope(query)
    return [
        c
        for c in query.find_all(exp.Column)
        if not isinstance(c.this, exp.Star)
        and not _nested(c, query)
        and _lookup(own, c) is None
        and _lookup(scope, c) is not None
    ]


def _nested(c: exp.Column, query: exp.Select) -> bool:
    """Whether ``c`` is in a query nested in ``query`` (that query's own binding reads it)."""
    return next(a for a in _ancestors(c) if isinstance(a, exp.Select | exp.Subquery)) is not query


def _ancestors(node: exp.Expr) -> Iterator[exp.Expr]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _single_row(sub: exp.Subquery) -> exp.Expr:
    """A scalar subquery's query; refused by name when its shape lets it give more than one
    row (Flink plans it and fails the job at a second row)."""
    select = sub.unnest()
    if not _one_row(select):
        raise _err(
            UnsupportedError(
                "a scalar subquery that can give more than one row",
                hint="aggregate it without GROUP BY (SELECT MAX(x) FROM ...), or JOIN it",
            ),
            sub,
        )
    return select


def _one_row(select: exp.Expr) -> bool:
    """Whether a query gives at most one row by its shape: an aggregate without GROUP BY,
    or a SELECT without FROM."""
    if not isinstance(select, exp.Select) or select.args.get("group") or select.find(exp.Window):
        return False
    if (select.args.get("from_") or select.args.get("from")) is None:
        return True
    return any(is_aggregate(n) for p in select.expressions for n in p.walk() if not _in_subquery(n, p))


def _in_subquery(node: exp.Expr, top: exp.Expr) -> bool:
    """Whether ``node``, inside ``top``, is inside a query nested in ``top``."""
    while node is not top and node.parent is not None:
        node = node.parent
        if isinstance(node, exp.Subquery | exp.Select):
            return True
    return False


def _left_joined(
    node: LogicalNode, scope: Scope, inner: LogicalNode, keys: list[str], prefix: str
) -> tuple[LogicalNode, Scope, BoundField]:
    """``node`` LEFT JOINed with a subquery's ``inner`` (its key columns, then its value)
    on ``keys`` (the outer fields, in order; none: on TRUE). The subquery's columns get
    fresh names and stay hidden in the scope (not in ``*``); returns its value's field."""
    node, scope, values = _left_joined_values(node, scope, inner, keys, prefix)
    return node, scope, values[-1]


def _left_joined_values(
    node: LogicalNode, scope: Scope, inner: LogicalNode, keys: list[str], prefix: str
) -> tuple[LogicalNode, Scope, list[BoundField]]:
    """``_left_joined`` of a subquery with several values after its keys: their fields."""
    first = _fresh(prefix, node)
    values = [
        BoundField(first if i == 0 else f"{first}v{i}", f.type.with_nullable(True))
        for i, f in enumerate(inner.fields[len(keys) :])
    ]
    key_fields = [BoundField(f"{first}k{i}", f.type) for i, f in enumerate(inner.fields[: len(keys)])]
    renamed = (*key_fields, *values)
    inner = Calc(renamed, inner, tuple((r.name, _ref(f.name)) for r, f in zip(renamed, inner.fields)))
    fields = (*(BoundField(f.name, f.type) for f in node.fields), *renamed)
    joined = Join(fields, node, inner, "left", tuple(zip(keys, (k.name for k in key_fields))))
    outer = [
        ScopeField(sf.qualifiers, BoundField(sf.field.name, sf.field.type), sf.alias, sf.hidden)
        for sf in scope.fields
    ]
    return joined, Scope([*outer, *(ScopeField(frozenset(), f, hidden=True) for f in renamed)]), values


def _marked_subqueries(expr: exp.Expr) -> list[exp.In | exp.Exists]:
    """The IN (with a query) and EXISTS subqueries of a WHERE conjunct reached from it
    through AND, OR and parentheses, and not the conjunct itself; an EXISTS through NOT
    too (``a = 1 OR NOT EXISTS (...)``): it is TRUE or FALSE, never unknown, so its marker
    answers it under NOT as well. An IN under NOT may be unknown: ``_bind_predicate_values``
    answers it."""
    found: list[exp.In | exp.Exists] = []
    for sub in expr.find_all(exp.In, exp.Exists):
        if sub is expr or (isinstance(sub, exp.In) and sub.args.get("query") is None):
            continue
        through = (exp.And, exp.Or, exp.Paren, *((exp.Not,) if isinstance(sub, exp.Exists) else ()))
        parent = sub.parent
        while parent is not None and parent is not expr and isinstance(parent, through):
            parent = parent.parent
        if parent is expr and isinstance(expr, through) and isinstance(sub, exp.In | exp.Exists):
            found.append(sub)
    return found


def _predicate_subqueries(expr: exp.Expr) -> list[exp.In | exp.Exists]:
    """The IN (with a query) and EXISTS subqueries of ``expr``, outermost first, not
    inside another subquery of it (that one's own binding takes them)."""
    found: list[exp.In | exp.Exists] = []
    for sub in expr.find_all(exp.In, exp.Exists):
        if not isinstance(sub, exp.In | exp.Exists):
            continue
        if isinstance(sub, exp.In) and sub.args.get("query") is None:
            continue
        if not _in_subquery(sub, expr):
            found.append(sub)
    return found


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


_NULL_STRICT = (exp.Column, exp.Literal, exp.Paren, exp.Cast, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg,
                exp.Identifier, exp.DataType, *_COMPARISONS, exp.Between)  # fmt: skip


def _null_strict(c: exp.Column) -> bool:
    """Whether the condition holding outer column ``c`` is unknown when ``c`` is NULL: a
    conjunct of WHERE that is a comparison (or BETWEEN) of columns, literals, casts and
    arithmetic."""
    conjunct: exp.Expr = c
    while conjunct.parent is not None and not isinstance(conjunct.parent, exp.Where | exp.And):
        conjunct = conjunct.parent
    return (
        isinstance(conjunct.parent, exp.Where | exp.And)
        and isinstance(conjunct, (*_COMPARISONS, exp.Between))
        and all(isinstance(n, _NULL_STRICT) for n in conjunct.walk())
    )


def _quantified(expr: exp.Expr) -> list[exp.Binary]:
    """The comparisons with ANY, SOME or ALL of a subquery in ``expr``
    (``x > ALL (SELECT ...)``), not inside another subquery of it."""
    return [
        q.parent
        for q in expr.find_all(exp.Any, exp.All)
        if isinstance(q.parent, _COMPARISONS)
        and q.parent.expression is q
        and isinstance(q.this.unnest(), exp.Select)
        and not _in_subquery(q.parent, expr)
    ]


def quantified_as_in(select: exp.Select) -> exp.Select:
    """``select`` with ``x = ANY (SELECT ...)`` as ``x IN (SELECT ...)`` and ``x <> ALL
    (...)`` as ``NOT (x IN (...))``, which they are, to be planned as IN is (a semi join
    in WHERE). SOME is ANY."""

    def rewrite(n: exp.Expr) -> exp.Expr:
        q = n.expression if isinstance(n, exp.EQ | exp.NEQ) else None
        if not (isinstance(n, exp.EQ) and isinstance(q, exp.Any)) and not (
            isinstance(n, exp.NEQ) and isinstance(q, exp.All)
        ):
            return n
        query = q.this if isinstance(q.this, exp.Subquery) else exp.Subquery(this=q.this)
        found = exp.In(this=n.this, query=query)
        found.meta.update(n.meta)
        return found if isinstance(n, exp.EQ) else exp.Paren(this=exp.Not(this=found))

    if not any(select.find_all(exp.Any, exp.All)):
        return select
    rewritten = select.transform(rewrite)
    assert isinstance(rewritten, exp.Select)
    return rewritten


def _one_item(select: exp.Expr) -> exp.Expr | None:
    """The one item a subquery selects (unaliased); None for a query of other shape."""
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        return None
    return _unaliased(select.expressions[0])


def _per_key(
    select: exp.Expr,
    keys: list[exp.Expr],
    values: Mapping[str, exp.Expr],
    rest: list[exp.Expr],
    grouped: bool = False,
    distinct: bool = False,
) -> exp.Select:
    """A correlated subquery ``select`` as a query per correlation key, to be joined on
    them: its ``keys`` (the expressions the outer columns equal) as ``$k0``, ``$k1``, ...,
    then ``values`` by name, its WHERE's other conjuncts ``rest``, and GROUP BY the keys
    (none: one row) or DISTINCT."""
    out = select.copy()
    assert isinstance(out, exp.Select)
    names = [exp.to_identifier(f"$k{i}", quoted=True) for i in range(len(keys))]
    out.set(
        "expressions",
        [
            *(exp.Alias(this=k.copy(), alias=n) for k, n in zip(keys, names)),
            *(exp.Alias(this=v, alias=exp.to_identifier(n, quoted=True)) for n, v in values.items()),
        ],
    )
    out.set("where", exp.Where(this=exp.and_(*rest)) if rest else None)
    if grouped:
        out.set("group", exp.Group(expressions=[k.copy() for k in keys]) if keys else None)
    if distinct:
        out.set("distinct", exp.Distinct())
    return out


def _unaliased(e: exp.Expr) -> exp.Expr:
    return e.this if isinstance(e, exp.Alias) else e


def _lookup(scope: Scope, c: exp.Column) -> BoundField | None:
    """The field ``c`` names in ``scope``, None where it names none (or several)."""
    try:
        return scope.lookup(c.name, c.table or None)
    except SqlStreamError:
        return None


def _fresh(prefix: str, node: LogicalNode) -> str:
    """A field name ``node`` does not have."""
    taken = {f.name.lower() for f in node.fields}
    return next(f"{prefix}{i}" for i in range(len(taken) + 1) if f"{prefix}{i}" not in taken)
