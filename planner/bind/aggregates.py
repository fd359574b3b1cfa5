"""GROUP BY and aggregate calls: keys, the aggregate list, HAVING, and whether the
aggregation is windowed (a window TVF or a group window) or updating.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlglot import exp

from catalog.types import BIGINT, DataType
from planner.bind import grouping
from planner.bind.hints import StateTtlHint, aggregate_input
from planner.bind.json_aggregates import OBJECT_KEY
from planner.bind.scope import Scope, _err, _output_field, _ref, cast_if_needed
from planner.bind.windows import WindowBinder, _legacy_aux, _legacy_window, _window_fields
from planner.dialect import Flink
from planner.errors import PlanError, UnsupportedError, position
from planner.expressions import Collect, Percentile
from planner.logical import (
    Aggregate,
    BoundField,
    Calc,
    Join,
    LogicalAgg,
    LogicalNode,
    WindowAssign,
    attached_window,
)
from planner.typecheck import infer
from planner.udf import is_aggregate_call, user_function
from planner.window import WINDOW_COLUMNS, Window

# Variance and standard deviation (STDDEV is STDDEV_SAMP, VARIANCE is VAR_SAMP): their
# name in the physical plan, which is DuckDB's aggregate of the same meaning.
STATISTICS: dict[type[exp.Expr], str] = {
    exp.StddevPop: "stddev_pop",
    exp.StddevSamp: "stddev_samp",
    exp.Stddev: "stddev_samp",
    exp.VariancePop: "var_pop",
    exp.Variance: "var_samp",
}
# Aggregates whose value depends on the order rows arrived in (and COLLECT, a multiset):
# their name in the physical plan.
ORDERED: dict[type[exp.Expr], str] = {
    exp.GroupConcat: "listagg",
    exp.ArrayAgg: "array_agg",
    exp.FirstValue: "first_value",
    exp.LastValue: "last_value",
    Collect: "collect",
}
_AGGS: tuple[type[exp.Expr], ...] = (
    exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg, *STATISTICS, *ORDERED, Percentile
)  # fmt: skip


def is_aggregate(node: exp.Expr) -> bool:
    """A built-in aggregate call or a call of a user aggregate function (``@udaf``)."""
    return isinstance(node, _AGGS) or is_aggregate_call(node)


class AggregateBinder(WindowBinder):
    """Binds GROUP BY, DISTINCT and aggregate calls into an Aggregate between two Calcs
    (with an Expand below the Aggregate for GROUPING SETS, ROLLUP and CUBE)."""

    def _bind_group_by(self, group: exp.Group | None, scope: Scope) -> grouping.GroupingSets:
        """The bound GROUP BY keys, and its grouping sets if it has any."""
        if group is None:
            return grouping.GroupingSets([], None)
        if not grouping.has_grouping_sets(group):
            return grouping.GroupingSets([self.bind_expr(g, scope) for g in group.expressions], None)
        keys: list[exp.Expr] = []
        index: dict[str, int] = {}
        sets = []
        for written in grouping.expand_group_by(list(group.expressions)):
            members = set()
            for e in written:
                bound = self.bind_expr(e, scope)
                if bound.sql() not in index:
                    index[bound.sql()] = len(keys)
                    keys.append(bound)
                members.add(index[bound.sql()])
            sets.append(frozenset(members))
        return grouping.GroupingSets(keys, sets)

    def _bind_aggregate(
        self,
        node: LogicalNode,
        scope: Scope,
        items: list[tuple[str, exp.Expr]],
        group_exprs: list[exp.Expr],
        having: exp.Expr | None,
        condition: exp.Expr | None,
        select: exp.Select,
        sets: list[frozenset[int]] | None = None,
        joined: tuple[LogicalNode, ...] = (),
    ) -> LogicalNode:
        """``joined``: the one-row values of the SELECT list's and HAVING's scalar subqueries
        (``_bind_aggregated_subqueries``), LEFT JOINed on TRUE to the aggregate's rows."""
        window: Window | None = None
        keys_exprs: list[exp.Expr] = []
        for g in group_exprs:
            legacy = _legacy_window(g, node, self.config)
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
        attached: tuple[Window, str, str] | None = None
        if window is None and sets is None:
            found = attached_window(node, [e.name for e in keys_exprs if isinstance(e, exp.Column)])
            if found is not None:
                window, end = attached_tumble(found[0]), found[2]
                attached = found
        if window is not None and source.updating:
            raise _err(UnsupportedError("a window aggregation over an updating input"), select)
        if window is not None and joined:
            raise _err(
                UnsupportedError("a scalar subquery in the SELECT list or HAVING of a window aggregation"),
                select,
            )
        if sets is not None:
            sets = _sets_over(sets, group_exprs, keys_exprs, select)
        if window is not None and window.type == "session":
            partition = getattr(node, "partition_keys", ())
            for p in partition:
                if not any(isinstance(k, exp.Column) and k.name == p for k in keys_exprs):
                    keys_exprs.append(_ref(p))
                    if sets is not None:
                        sets = [s | {len(keys_exprs) - 1} for s in sets]
        # Pre-aggregation calc: WHERE and computed group keys.
        key_names: list[str] = []
        pre_items: list[tuple[str, exp.Expr]] = []
        key_of: dict[str, str] = {}
        for i, k in enumerate(keys_exprs):
            # (an attached window's start and end named window_start/_end are computed keys:
            # the aggregation's own window columns take those names)
            if isinstance(k, exp.Column) and not (attached and k.name in WINDOW_COLUMNS):
                key_names.append(k.name)
                key_of[k.sql()] = k.name
            else:
                name = f"$f{i}"
                pre_items.append((name, k))
                key_names.append(name)
                key_of[k.sql()] = name
        # Aggregate calls from the select list and HAVING.
        aggs: list[LogicalAgg] = []
        agg_of: dict[str, str] = {}
        lookup = source.field_type

        def collect(e: exp.Expr) -> None:
            for sub in e.walk():
                if isinstance(sub, exp.Filter) and is_aggregate(sub.this):
                    target: exp.Expr = sub
                elif is_aggregate(sub) and not isinstance(sub.parent, exp.Filter):
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
        if window is not None and window.type != "tumble":
            _check_mergeable(aggs, window)
        aggs = hoist_python_calls(aggs, pre_items, len(keys_exprs))
        if attached:  # each row's window_time: it falls in the tumble ending where its window does
            pre_items.append((ATTACHED_TIME, exp.Sub(this=_ref(end), expression=ONE_MS.copy())))
        if pre_items or condition is not None:
            keep = [(f.name, _ref(f.name)) for f in source.fields]
            pre_fields = tuple(source.fields) + tuple(
                BoundField(n, infer(e, source.field_type)) for n, e in pre_items
            )
            source = Calc(pre_fields, source, tuple(keep + pre_items), condition)
        key_index = {text: key_names.index(name) for text, name in key_of.items()}
        if sets is not None:
            args = [e for a in aggs for e in (a.arg, a.filter) if e is not None]
            used = {c.name for e in args for c in e.find_all(exp.Column)}
            if window is not None:
                used.add(window.time_column)
            expanded, key_names, renames = grouping.expand(source, key_names, sets, used)
            rename = grouping.rename_columns
            aggs = [replace(a, arg=rename(a.arg, renames), filter=rename(a.filter, renames)) for a in aggs]
            source = expanded
        agg_node_fields = tuple(source.field(k) for k in key_names)
        if window is not None:
            agg_node_fields = tuple(
                BoundField(f.name, f.type) if f.time_attribute == "rowtime" else f for f in agg_node_fields
            ) + _window_fields(window)
        agg_node_fields += tuple(BoundField(a.name, a.type) for a in aggs)
        agg = Aggregate(agg_node_fields, source, tuple(key_names), tuple(aggs), window)
        if attached:  # its keys hold the window's start and end (a window join can pair them)
            named = {k.name: key_names[i] for i, k in enumerate(keys_exprs) if isinstance(k, exp.Column)}
            agg = replace(agg, attached=(attached[0], named[attached[1]], named[attached[2]]))
        if window is None:  # Flink's STATE_TTL hint on the input of an unwindowed GROUP BY
            hinted = StateTtlHint.of(select).ttl_ms.get(str(aggregate_input(select)).lower())
            agg = replace(agg, state_ttl_ms=hinted)
        after: LogicalNode = agg
        for value in joined:
            after = Join((*after.fields, *value.fields), after, value, "left", ())
        # Post-aggregation calc: the select list over keys, window columns and aggregates.

        def rewrite(e: exp.Expr) -> exp.Expr:
            def visit(n: exp.Expr) -> exp.Expr:
                if isinstance(n, grouping.GROUPING_FUNCTIONS):
                    return grouping.grouping_value(n, key_index, sets)
                text = n.sql()
                if text in agg_of:
                    return _ref(agg_of[text])
                if text in key_of and not isinstance(n.parent, exp.Filter):
                    return _ref(key_of[text])
                aux = _legacy_aux(n, window, self.config)
                if aux is not None:
                    return _ref(aux)
                return n

            out = e.copy().transform(visit)
            allowed = {f.name for f in after.fields}
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
        fields = tuple(_output_field(name, e, after) for name, e in post)
        return Calc(fields, after, tuple(post), post_having)


ATTACHED_TIME = "$window_time"
ONE_MS = exp.Interval(this=exp.Literal.string("1"), unit=exp.var("MILLISECOND"))


def attached_tumble(window: Window) -> Window:
    """The TUMBLE that a GROUP BY of the window_start and window_end of ``window``'s rows
    (``planner.logical.attached_window``) aggregates by, over each row's window_end - 1 ms
    (``ATTACHED_TIME``): its windows end exactly where ``window``'s do (every HOP window
    ends on a slide, every CUMULATE window on a step), so it groups each window's rows
    alone (start and end stay group keys) and fires when ``window`` would. Flink's
    window-attached aggregation; the output is append-only, as Flink's.

    >>> attached_tumble(Window("hop", "ts", size_ms=10_000, slide_ms=2_000)).size_ms
    2000
    """
    grain = {"tumble": window.size_ms, "hop": window.slide_ms, "cumulate": window.step_ms}[window.type]
    offset = (window.offset_ms + window.size_ms) % grain
    return Window("tumble", ATTACHED_TIME, size_ms=grain, offset_ms=offset)


def _check_mergeable(aggs: list[LogicalAgg], window: Window) -> None:
    """Flink computes HOP, CUMULATE and SESSION windows by merging the accumulators of their
    slices or sessions, and FIRST_VALUE and LAST_VALUE cannot be merged: it refuses them."""
    for a in aggs:
        if a.func in ("first_value", "last_value"):
            raise PlanError(
                f"{a.func.upper()} cannot be computed in a {window.type.upper()} window: "
                "its accumulators cannot be merged (Flink has no merge for it)",
                hint="use a TUMBLE window, or MIN/MAX",
                line=a.line,
                col=a.col,
            )


def _sets_over(
    sets: list[frozenset[int]], group_exprs: list[exp.Expr], keys: list[exp.Expr], select: exp.Select
) -> list[frozenset[int]] | None:
    """The grouping sets as indexes into ``keys``, what is left of the GROUP BY once the
    window (a group window, or window_start and window_end of a window TVF) is taken out;
    the window must be grouped by in every set. None when one set groups by every key (a
    plain GROUP BY)."""
    position_of = {id(k): i for i, k in enumerate(keys)}
    result = []
    for members in sets:
        windowed = [i for i in range(len(group_exprs)) if id(group_exprs[i]) not in position_of]
        missing = [group_exprs[i] for i in windowed if i not in members]
        if missing:
            raise _err(
                UnsupportedError(
                    f"a grouping set without the window ({missing[0].sql(dialect=Flink)})",
                    hint="group by the window outside the grouping sets: GROUP BY window_start, "
                    "window_end, GROUPING SETS (...)",
                ),
                select,
            )
        result.append(frozenset(position_of[id(group_exprs[i])] for i in members if i not in windowed))
    if len(result) == 1 and result[0] == frozenset(range(len(keys))):
        return None
    return result


def hoist_python_calls(
    aggs: list[LogicalAgg], pre_items: list[tuple[str, exp.Expr]], first: int
) -> list[LogicalAgg]:
    """``aggs`` with each argument (and FILTER) that calls a Python scalar function read
    from a column the Calc below computes (appended to ``pre_items`` as ``$f<first + n>``),
    as Flink projects aggregate arguments before aggregating: the function then runs in a
    Calc, whose rows it raises on follow ``table.exec.udf-errors.*`` like any projection's."""

    def hoisted(e: exp.Expr | None) -> exp.Expr | None:
        if e is None or not _calls_python(e):
            return e
        for name, done in pre_items:
            if done == e:
                return _ref(name)
        name = f"$f{first + len(pre_items)}"
        pre_items.append((name, e))
        return _ref(name)

    return [
        replace(
            a,
            arg=hoisted(a.arg),
            filter=hoisted(a.filter),
            args=tuple(hoisted(e) or e for e in a.args),
        )
        for a in aggs
    ]


def _calls_python(e: exp.Expr) -> bool:
    """Whether ``e`` calls a Python scalar function (``@udf``)."""
    for n in e.walk():
        f = user_function(n)
        if f is not None and f.kind == "scalar":
            return True
    return False


def _make_agg(name: str, node: exp.Expr, lookup: Callable[[str], DataType]) -> LogicalAgg:
    filter_expr: exp.Expr | None = None
    text = node.sql(dialect=Flink)
    if isinstance(node, exp.Filter):
        filter_expr = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
        node = node.this
    fdef = user_function(node)
    if fdef is not None:
        if any(isinstance(a, exp.Distinct) for a in node.expressions):
            raise _err(UnsupportedError(f"DISTINCT in a call of the aggregate function {fdef.name}"), node)
        args = tuple(
            cast_if_needed(a, infer(a, lookup), t) for a, t in zip(node.expressions, fdef.input_types)
        )
        return LogicalAgg(
            name, "udaf", None, fdef.result_type.with_nullable(True), False, filter_expr, text,
            *position(node), function=fdef, args=args,
        )  # fmt: skip
    if type(node) in ORDERED:
        return _ordered_agg(name, node, filter_expr, text, lookup)
    if isinstance(node, Percentile):
        return _percentile(name, node, filter_expr, text, lookup)
    arg: exp.Expr | None = node.this
    distinct = False
    if isinstance(arg, exp.Distinct):
        distinct = True
        if len(arg.expressions) != 1:
            raise _err(UnsupportedError("COUNT(DISTINCT ...) over several columns"), node)
        arg = arg.expressions[0]
    func = STATISTICS.get(type(node)) or type(node).__name__.lower()
    if isinstance(node, exp.Count) and (arg is None or isinstance(arg, exp.Star)):
        func, arg = "count_star", None
    if (
        func in ("min", "max")
        and arg is not None
        and infer(arg, lookup).name in ("BYTES", "BINARY", "VARBINARY")
    ):
        # Flink's MIN and MAX order no binary string (its MinAggFunction has no such type)
        raise _err(
            PlanError(
                f"{func.capitalize()} aggregate function does not support type: {infer(arg, lookup).sql()}"
            ),
            node,
        )
    result_type = infer(node, lookup)
    if func == "count_star" or func == "count":
        result_type = BIGINT.with_nullable(False)
    return LogicalAgg(name, func, arg, result_type, distinct, filter_expr, text, *position(node))


def _percentile(
    name: str, node: Percentile, filter_expr: exp.Expr | None, text: str, lookup: Callable[[str], DataType]
) -> LogicalAgg:
    """PERCENTILE(value, percentage [, frequency]): the percentage (or an ARRAY of them)
    is a constant between 0 and 1, and travels in ``args`` (with the frequency, a row's
    weight, after it)."""
    value = node.this
    distinct = isinstance(value, exp.Distinct)
    if distinct:
        value = value.expressions[0]
        if node.args.get("frequency") is not None:
            raise _err(UnsupportedError("PERCENTILE(DISTINCT ...) with a frequency"), node)
    if not infer(value, lookup).is_numeric:
        raise _err(PlanError(f"PERCENTILE takes a number, not {infer(value, lookup).sql()}"), value)
    percentage = node.args["percentage"]
    listed = percentage.expressions if isinstance(percentage, exp.Array) else [percentage]
    for p in listed:
        number = _number(p)
        if number is None:
            raise _err(PlanError("PERCENTILE's percentage must be a numeric literal or an ARRAY of them"), p)
        if not 0 <= number <= 1:
            raise _err(PlanError(f"PERCENTILE's percentage {p.sql()} is not between 0.0 and 1.0"), p)
    frequency = node.args.get("frequency")
    if frequency is not None and not infer(frequency, lookup).is_integral:
        kind = infer(frequency, lookup).sql()
        raise _err(PlanError(f"PERCENTILE's frequency must be an integer, not {kind}"), frequency)
    args = (percentage, *([frequency] if frequency is not None else []))
    result = infer(node, lookup)
    return LogicalAgg(
        name, "percentile", value, result, distinct, filter_expr, text, *position(node), args=args
    )


def _number(e: exp.Expr) -> float | None:
    """The value of a numeric literal (negated or not); None for anything else."""
    sign = -1.0 if isinstance(e, exp.Neg) else 1.0
    e = e.this if isinstance(e, exp.Neg) else e
    return sign * float(e.name) if isinstance(e, exp.Literal) and not e.is_string else None


def _ordered_agg(
    name: str, node: exp.Expr, filter_expr: exp.Expr | None, text: str, lookup: Callable[[str], DataType]
) -> LogicalAgg:
    """LISTAGG, ARRAY_AGG, FIRST_VALUE, LAST_VALUE or COLLECT. NULL values are skipped, as
    Flink's functions skip them; LISTAGG's separator (',' when omitted) travels in ``args``."""
    func = ORDERED[type(node)]
    arg = node.this
    distinct = isinstance(arg, exp.Distinct)
    if distinct:
        if func not in ("listagg", "array_agg") or len(arg.expressions) != 1:
            raise _err(UnsupportedError(f"DISTINCT in {func.upper()}"), node)
        arg = arg.expressions[0]
    args: tuple[exp.Expr, ...] = ()
    if func == "listagg":
        if infer(arg, lookup).name not in ("STRING", "VARCHAR", "CHAR"):
            raise _err(
                PlanError(
                    f"LISTAGG takes a string, not {infer(arg, lookup).sql()}",
                    hint="cast the argument: LISTAGG(CAST(x AS STRING))",
                ),
                node,
            )
        separator = node.args.get("separator")
        if separator is None:
            separator = exp.Literal.string(",")
        elif not (isinstance(separator, exp.Literal) and separator.is_string):
            raise _err(UnsupportedError("a LISTAGG separator that is not a string literal"), separator)
        args = (separator,)
    if node.meta.get(OBJECT_KEY):  # Calcite's JSON_OBJECTAGG takes a character string KEY
        key = infer(arg.expressions[0], lookup)
        if not key.is_string:
            raise _err(PlanError(f"JSON_OBJECTAGG's KEY must be a string, not {key.sql()}"), arg)
    result = infer(node, lookup)
    return LogicalAgg(name, func, arg, result, distinct, filter_expr, text, *position(node), args=args)
