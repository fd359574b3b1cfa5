"""Window functions in the select list: ``ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..)``
for Top-N and deduplication, as Flink plans them.

A SELECT with ``ROW_NUMBER() OVER w AS rn`` binds to a ``Rank`` without a range over its
FROM (and WHERE), with the rank as a field the select list refers to. The query around it
gives the range: ``WHERE rn <= N``, ``rn = 1``, ``rn < N``, ``rn BETWEEN a AND b``
(``rank_filter``), and whether ``rn`` is selected at all (Flink's no-ranking-number
form). A ``ROW_NUMBER`` that no filter bounds stays unranged and is refused
(``planner.refusals``), as are RANK and DENSE_RANK, which Flink does not run on a stream
(neither in a Top-N nor in a window Top-N: StreamExecRank and StreamExecWindowRank refuse
them). In batch mode every window call binds to a ``BatchOver`` instead, computed over the
whole bounded input, as Flink's batch OverAggregate does.
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from catalog.config import RUNTIME_MODE
from catalog.types import BIGINT
from planner.bind import lag, null_treatment
from planner.bind.aggregates import _AGGS, STATISTICS, _make_agg, hoist_python_calls
from planner.bind.relations import RelationBinder
from planner.bind.scope import Scope, ScopeField, _err, _ref
from planner.bind.windows import _interval_ms
from planner.errors import PlanError, UnsupportedError, position
from planner.logical import (
    BatchOver,
    BoundField,
    Calc,
    LogicalNode,
    OverAggregate,
    OverCall,
    Rank,
    SortField,
)
from planner.typecheck import function_name, infer

RANK_FIELD = "w0$o0"  # Flink's name of the first window call's result
_RANKS = ("ROW_NUMBER", "RANK", "DENSE_RANK")
STATISTICS_TYPES = tuple(STATISTICS)
_DISTINCT_OVER = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)  # DISTINCT OVER a bounded frame


def has_over(select: exp.Select) -> bool:
    """Whether a select-list item is or holds a window call (``f(..) OVER ..``)."""
    return any(p.find(exp.Window) is not None for p in select.expressions)


def _unalias(e: exp.Expr) -> exp.Expr:
    return e.this if isinstance(e, exp.Alias) else e


class OverBinder(RelationBinder):
    """Binds the window calls of a select list, and the rank filter around them."""

    def _bind_over(
        self, select: exp.Select, node: LogicalNode, scope: Scope, condition: exp.Expr | None
    ) -> tuple[exp.Select, LogicalNode, Scope]:
        """The select with its window call replaced by a reference to the rank, the node
        that computes it (over FROM and WHERE), and the scope the select list sees."""
        for arg, what in (("group", "GROUP BY"), ("having", "HAVING"), ("distinct", "DISTINCT")):
            if select.args.get(arg):
                raise _err(
                    UnsupportedError(f"{what} together with a window function (OVER)"), select.args[arg]
                )
        for w in list(select.find_all(exp.Window)):
            try:
                w.set("this", null_treatment.over_call(w.this))
            except UnsupportedError as e:
                raise _err(e, w) from None
        named = {w.this.name.lower(): w for w in select.args.get("windows") or []}
        calls: list[tuple[int, exp.Window]] = []
        for i, p in enumerate(select.expressions):
            call = _unalias(p)
            if isinstance(call, exp.Window):
                calls.append((i, call))
        if condition is not None:
            node = Calc(node.fields, node, tuple((f.name, _ref(f.name)) for f in node.fields), condition)
        for _, call in calls:
            lag.refuse_frame(call, _resolve(call, named))
        if RUNTIME_MODE.get(self.config) == "batch":
            return self._bind_batch_over(select, node, scope, named)
        for w in select.find_all(exp.Window):
            lag.refuse_lead_on_stream(w)
        aggregates = [
            w for p in select.expressions for w in p.find_all(exp.Window) if self._is_over_aggregate(w.this)
        ]
        if aggregates:
            return self._bind_over_aggregate(select, node, scope, named, aggregates)
        if len(calls) > 1:
            raise _err(UnsupportedError("more than one ROW_NUMBER() / OVER call in one SELECT"), calls[1][1])
        if not calls:  # a ranking call inside an expression
            nested = next(w for p in select.expressions for w in p.find_all(exp.Window))
            raise _err(
                UnsupportedError(
                    f"{function_name(nested.this)}() OVER (...) inside an expression is not supported yet",
                    hint="rank in a subquery, then compute with the rank column outside it",
                ),
                nested,
            )
        index, call = calls[0]
        window = _resolve(call, named)
        name = function_name(call.this)
        if name in ("RANK", "DENSE_RANK"):
            raise _err(
                UnsupportedError(
                    f"{name}() on a streaming table is not supported",
                    hint="Flink's Top-N and deduplication rank with ROW_NUMBER() (window Top-N "
                    f"too); SET 'execution.runtime-mode' = 'batch' runs {name}() over a bounded input",
                ),
                call,
            )
        if name != "ROW_NUMBER":
            raise _err(UnsupportedError(f"window function {name}(...) OVER (...) is not supported yet"), call)
        rank = self._bind_rank(window, call, node, scope)
        rewritten = select.copy()
        item = rewritten.expressions[index]
        alias = item.alias if isinstance(item, exp.Alias) else f"EXPR${index}"
        rewritten.expressions[index].replace(exp.alias_(_ref(RANK_FIELD), alias, quoted=True))
        rank_scope = Scope([*scope.fields, ScopeField(frozenset(), rank.fields[-1], hidden=True)])
        return rewritten, rank, rank_scope

    def _bind_over_aggregate(
        self,
        select: exp.Select,
        node: LogicalNode,
        scope: Scope,
        named: dict[str, exp.Window],
        calls: list[exp.Window],
    ) -> tuple[exp.Select, LogicalNode, Scope]:
        """Aggregates OVER one window (Flink computes all of a SELECT's over the same
        window): an OverAggregate, the select's calls replaced by its result fields."""
        windows = [_resolve(c, named) for c in calls]
        shape = _window_shape(windows[0])
        for c, w in zip(calls, windows):
            if _window_shape(w) != shape:
                raise _err(UnsupportedError("aggregates OVER different windows in one SELECT"), c)
        if any(
            isinstance(w, exp.Window) and not self._is_over_aggregate(w.this)
            for p in select.expressions
            for w in p.find_all(exp.Window)
        ):
            raise _err(UnsupportedError("ROW_NUMBER() together with OVER aggregates in one SELECT"), calls[0])
        window, call = windows[0], calls[0]
        keys = []
        for p in window.args.get("partition_by") or []:
            bound = self.bind_expr(p, scope)
            if not isinstance(bound, exp.Column):
                raise _err(
                    UnsupportedError("PARTITION BY an expression in OVER; select it as a column first"), p
                )
            keys.append(bound.name)
        order = window.args.get("order")
        if order is None or len(order.expressions) != 1:
            raise _err(PlanError("an OVER aggregation must be ordered by one time attribute"), call)
        ordered = order.expressions[0]
        time_col = self.bind_expr(ordered.this, scope)
        attr = node.field(time_col.name).time_attribute if isinstance(time_col, exp.Column) else None
        if attr is None or ordered.args.get("desc"):
            raise _err(
                PlanError(
                    "OVER windows' ordering in stream mode must be defined on a time attribute, ascending",
                    hint="SET 'execution.runtime-mode' = 'batch' orders a bounded input by any column",
                ),
                ordered,
            )
        if attr == "proctime":
            raise _err(
                UnsupportedError("an OVER aggregation ordered by processing time is not supported yet"),
                ordered,
            )
        rows, preceding = _frame(window, call)
        aggs = []
        for i, c in enumerate(calls):
            func = c.this
            unbounded = preceding is None
            if isinstance(func.this, exp.Distinct) and (unbounded or not isinstance(func, _DISTINCT_OVER)):
                # a bounded frame's values are all at hand; an UNBOUNDED one would need every
                # distinct value kept as the partition's accumulator
                message = (
                    "DISTINCT in an OVER aggregate over an UNBOUNDED frame is not supported yet"
                    if unbounded
                    else f"{function_name(func)}(DISTINCT ...) in an OVER aggregate is not supported yet"
                )
                raise _err(UnsupportedError(message), c)
            if unbounded and isinstance(func, STATISTICS_TYPES):
                # the partition's accumulators keep counts, sums and extremes, not the values
                raise _err(
                    UnsupportedError(
                        f"{function_name(func)}(...) OVER an UNBOUNDED frame is not supported yet",
                        hint="a frame of ROWS (or RANGE) BETWEEN n PRECEDING AND CURRENT ROW is",
                    ),
                    c,
                )
            if isinstance(func, exp.Lag):
                aggs.append(lag.offset_agg(f"w0$o{i}", func, self._bind_args(func, scope), node.field_type))
                continue
            bound = self.bind_expr(func, scope)
            aggs.append(_make_agg(f"w0$o{i}", bound, node.field_type))
        pre_items: list[tuple[str, exp.Expr]] = []
        aggs = hoist_python_calls(aggs, pre_items, 0)
        if pre_items:  # arguments that call Python functions: computed by a Calc below
            keep = [(f.name, _ref(f.name)) for f in node.fields]
            computed = tuple(BoundField(n, infer(e, node.field_type)) for n, e in pre_items)
            node = Calc((*node.fields, *computed), node, (*keep, *pre_items))
        fields = (*node.fields, *(BoundField(a.name, a.type) for a in aggs))
        over = OverAggregate(fields, node, tuple(keys), time_col.name, rows, preceding, tuple(aggs))
        rewritten = _calls_replaced(select)
        over_scope = Scope(
            [*scope.fields, *(ScopeField(frozenset(), f, hidden=True) for f in fields[len(node.fields) :])]
        )
        return rewritten, over, over_scope

    def _bind_args(self, call: exp.Lag | exp.Lead, scope: Scope) -> exp.Lag | exp.Lead:
        """LAG or LEAD with its arguments bound (the call itself is no scalar function)."""
        bound = call.copy()
        for key in ("this", "offset", "default"):
            if call.args.get(key) is not None:
                bound.set(key, self.bind_expr(call.args[key], scope))
        return bound

    def _is_over_aggregate(self, call: exp.Expr) -> bool:
        """A built-in aggregate, LAG or LEAD (Flink's OVER aggregates too), or a call of a
        user aggregate function (``@udaf``)."""
        if isinstance(call, (*_AGGS, *lag.OFFSET_FUNCTIONS)):
            return True
        fdef = self.catalog.function(call.name) if isinstance(call, exp.Anonymous) else None
        return fdef is not None and fdef.kind == "aggregate"

    def _bind_batch_over(
        self, select: exp.Select, node: LogicalNode, scope: Scope, named: dict[str, exp.Window]
    ) -> tuple[exp.Select, LogicalNode, Scope]:
        """Batch mode: every window call of the select list, in any order and frame, over
        the whole bounded input (a BatchOver); the select's calls become its fields."""
        windows = [w for p in select.expressions for w in p.find_all(exp.Window)]
        calls = [self._bind_over_call(w, _resolve(w, named), i, node, scope) for i, w in enumerate(windows)]
        types = [BIGINT.with_nullable(False) if c.agg is None else c.agg.type for c in calls]
        fields = (*node.fields, *(BoundField(f"w0$o{i}", t) for i, t in enumerate(types)))
        over = BatchOver(fields, node, tuple(calls))
        rewritten = _calls_replaced(select)
        added = [ScopeField(frozenset(), f, hidden=True) for f in fields[len(node.fields) :]]
        return rewritten, over, Scope([*scope.fields, *added])

    def _bind_over_call(
        self, call: exp.Window, window: exp.Window, i: int, node: LogicalNode, scope: Scope
    ) -> OverCall:
        name = function_name(call.this)
        func = call.this
        order = window.args.get("order")
        sort = []
        for o in order.expressions if order is not None else ():
            desc = bool(o.args.get("desc"))
            nulls_first = o.args.get("nulls_first")
            first = (not desc) if nulls_first is None else bool(nulls_first)
            sort.append((self.bind_expr(o.this, scope), SortField("", not desc, first)))
        partition = tuple(self.bind_expr(p, scope) for p in window.args.get("partition_by") or [])
        frame = window.args.get("spec")
        if name in _RANKS:
            if not sort:
                raise _err(PlanError(f"{name}() needs ORDER BY in its OVER clause"), call)
            if frame is not None:
                raise _err(PlanError(f"ROWS/RANGE is not allowed with {name}()"), call)
            return OverCall(name, None, partition, tuple(sort))
        if isinstance(func, lag.OFFSET_FUNCTIONS):
            offset = lag.offset_agg(f"w0$o{i}", func, self._bind_args(func, scope), node.field_type)
            return OverCall("agg", offset, partition, tuple(sort))
        if not isinstance(func, _AGGS):
            raise _err(UnsupportedError(f"window function {name}(...) OVER (...) is not supported yet"), call)
        if isinstance(func.this, exp.Distinct):
            raise _err(UnsupportedError("DISTINCT in an OVER aggregate is not supported yet"), call)
        agg = _make_agg(f"w0$o{i}", self.bind_expr(func, scope), node.field_type)
        return OverCall("agg", agg, partition, tuple(sort), frame)

    def _bind_rank(self, window: exp.Window, call: exp.Expr, node: LogicalNode, scope: Scope) -> Rank:
        """The Rank of a ROW_NUMBER call; PARTITION BY and ORDER BY expressions that are not
        columns are computed first, by a Calc under the Rank (as Flink projects them)."""
        extra: list[tuple[str, exp.Expr]] = []

        def column(e: exp.Expr) -> str:
            bound = self.bind_expr(e, scope)
            if isinstance(bound, exp.Column):
                return bound.name
            name = f"$w{len(extra)}"
            extra.append((name, bound))
            return name

        keys = [column(p) for p in window.args.get("partition_by") or []]
        order = window.args.get("order")
        if order is None or not order.expressions:
            raise _err(PlanError("ROW_NUMBER() needs ORDER BY in its OVER clause"), call)
        sort = []
        for o in order.expressions:
            desc = bool(o.args.get("desc"))
            nulls_first = o.args.get("nulls_first")
            first = (not desc) if nulls_first is None else bool(nulls_first)
            sort.append(SortField(column(o.this), not desc, first))
        if extra:
            keep = [(f.name, _ref(f.name)) for f in node.fields]
            fields = (*node.fields, *(BoundField(n, infer(e, node.field_type)) for n, e in extra))
            node = Calc(fields, node, (*keep, *extra))
        rank_field = BoundField(RANK_FIELD, BIGINT.with_nullable(False))
        line, col = position(call)
        return Rank(
            (*node.fields, rank_field), node, tuple(keys), tuple(sort), "ROW_NUMBER", RANK_FIELD,
            line=line, col=col,
        )  # fmt: skip

    def _rank_filter(
        self,
        node: LogicalNode,
        condition: exp.Expr | None,
        items: list[tuple[str, exp.Expr]],
        select: exp.Select,
        scope: Scope,
    ) -> tuple[LogicalNode, exp.Expr | None]:
        """Over a subquery that ranks (``node`` a Calc over an unranged Rank), take the
        bounds on the rank out of ``condition`` into the Rank; drop the rank column when
        nothing in ``uses`` (the select list, the rest of the filter, GROUP BY, HAVING)
        reads it. Returns the node and what is left of the condition."""
        if condition is None or not isinstance(node, Calc) or not isinstance(node.input, Rank):
            return node, condition
        rank = node.input
        if rank.end is not None:
            return node, condition
        names = {n for n, e in node.projections if isinstance(e, exp.Column) and e.name == rank.rank_field}
        start, end, rest = 1, None, []
        for conjunct in condition.flatten() if isinstance(condition, exp.And) else [condition]:
            bound = _rank_bound(conjunct, names)
            if bound is None:
                rest.append(conjunct)
                continue
            start = max(start, bound[0])
            if bound[1] is not None:
                end = bound[1] if end is None else min(end, bound[1])
        if end is None:
            return node, condition
        remaining = exp.and_(*rest) if rest else None
        group = select.args.get("group")
        having = select.args.get("having")
        uses = [e for _, e in items] + [
            self.bind_expr(g, scope) for g in (group.expressions if group else [])
        ]
        if having is not None:
            uses.append(self.bind_expr(having.this, scope))
        used = any(
            isinstance(c, exp.Column) and c.name in names
            for e in [*uses, *([remaining] if remaining is not None else [])]
            for c in e.walk()
        )
        fields = rank.fields if used else rank.fields[:-1]
        ranked = dataclasses.replace(rank, fields=fields, start=start, end=end, output_rank=used)
        if used:
            return dataclasses.replace(node, input=ranked), remaining
        keep = [(p, f) for p, f in zip(node.projections, node.fields) if p[0] not in names]
        calc = Calc(tuple(f for _, f in keep), ranked, tuple(p for p, _ in keep))
        return calc, remaining


def _calls_replaced(select: exp.Select) -> exp.Select:
    """The select with its i-th window call replaced by a reference to field ``w0$o<i>``;
    an item that is a bare call keeps Flink's name for it, ``EXPR$<position>``."""
    rewritten = select.copy()
    for index, item in enumerate(rewritten.expressions):
        if isinstance(item, exp.Window):
            item.replace(exp.alias_(item.copy(), f"EXPR${index}", quoted=True))
    for i, w in enumerate([w for p in rewritten.expressions for w in p.find_all(exp.Window)]):
        w.replace(_ref(f"w0$o{i}"))
    return rewritten


def _resolve(call: exp.Window, named: dict[str, exp.Window]) -> exp.Window:
    """The window of ``OVER w`` from the WINDOW clause, or the call's own."""
    alias = call.args.get("alias")
    if alias is None or call.args.get("partition_by") or call.args.get("order"):
        return call
    window = named.get(alias.name.lower())
    if window is None:
        raise _err(PlanError(f"no window named '{alias.name}'", hint="define it in WINDOW w AS (...)"), call)
    return window


def _window_shape(w: exp.Window) -> str:
    """A window's PARTITION BY, ORDER BY and frame, as text, to compare two windows."""
    parts = [w.args.get(k) for k in ("partition_by", "order", "spec")]
    return repr([p.sql() if isinstance(p, exp.Expr) else [x.sql() for x in p] if p else None for p in parts])


def _frame(window: exp.Window, where: exp.Expr) -> tuple[bool, int | None]:
    """(ROWS?, preceding rows or milliseconds, None for UNBOUNDED) of a window's frame;
    Flink's default with ORDER BY is RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW."""
    spec = window.args.get("spec")
    if spec is None:
        return False, None
    rows = str(spec.args.get("kind", "")).upper() == "ROWS"
    end = spec.args.get("end")
    if str(end).upper() != "CURRENT ROW":
        raise _err(UnsupportedError("an OVER frame must end at CURRENT ROW"), where)
    start = spec.args.get("start")
    if str(start).upper() == "UNBOUNDED":
        return rows, None
    if str(spec.args.get("start_side", "")).upper() != "PRECEDING":
        raise _err(UnsupportedError("an OVER frame must start PRECEDING the current row"), where)
    if rows:
        n = _int(start) if isinstance(start, exp.Expr) else None
        if n is None or n < 0:
            raise _err(PlanError("ROWS BETWEEN needs a number of rows PRECEDING"), where)
        return True, n
    if not isinstance(start, exp.Interval):
        raise _err(PlanError("RANGE BETWEEN needs an INTERVAL PRECEDING on a time attribute"), where)
    return False, _interval_ms(start)


def _rank_bound(e: exp.Expr, names: set[str]) -> tuple[int, int | None] | None:
    """The (start, end) that a comparison of the rank column with an integer sets."""
    if isinstance(e, exp.Paren):
        return _rank_bound(e.this, names)
    if isinstance(e, exp.Between) and _is_rank(e.this, names):
        lo, hi = _int(e.args.get("low")), _int(e.args.get("high"))
        return (lo, hi) if lo is not None and hi is not None else None
    if not isinstance(e, exp.EQ | exp.LT | exp.LTE | exp.GT | exp.GTE):
        return None
    left, right = e.this, e.expression
    flipped = {exp.LT: exp.GT, exp.LTE: exp.GTE, exp.GT: exp.LT, exp.GTE: exp.LTE, exp.EQ: exp.EQ}
    kind: type[exp.Expr] = type(e)
    if _is_rank(right, names):
        left, right, kind = right, left, flipped[type(e)]
    n = _int(right)
    if not _is_rank(left, names) or n is None:
        return None
    if kind is exp.EQ:
        return n, n
    if kind is exp.LTE:
        return 1, n
    if kind is exp.LT:
        return 1, n - 1
    return (n if kind is exp.GTE else n + 1), None


def _is_rank(e: exp.Expr | None, names: set[str]) -> bool:
    return isinstance(e, exp.Column) and e.name in names


def _int(e: exp.Expr | None) -> int | None:
    while isinstance(e, exp.Cast | exp.Paren):
        e = e.this
    if isinstance(e, exp.Literal) and not e.is_string:
        try:
            return int(e.this)
        except ValueError:
            return None
    return None
