"""SQL for aggregate calls: per-batch partials, and their merge into final values.

*Partial* mode (no DISTINCT, no Python aggregate): each batch is aggregated per group into
partial columns (``p<i>``, and ``c<i>`` for AVG's count), merged later with sum/min/max.
*Raw* mode (some aggregate is DISTINCT or a Python ``@udaf``, see ``udaf``): the argument
``a<i>`` and filter ``f<i>`` of every row are kept and aggregated when the group is emitted.
"""

from __future__ import annotations

from catalog.errors import SqlStreamError
from catalog.types import BIGINT, DataType, parse_type
from planner.numeric import decimal_divide_sql, float_to_integral_sql, wrap_sql
from planner.physical import AggCall
from runtime.operators import udaf

STATISTICS = ("stddev_pop", "stddev_samp", "var_pop", "var_samp")
"""Aggregates computed from the values themselves (kept in state), not from running sums
(``statistic_call``): over doubles DuckDB's own, numerically stable (Welford) functions,
whose answers are Flink's where a running sum of squares would lose them (1e308 squared
is infinite); over integers exact sums, whose answer no order of the values changes."""
ORDERED = ("listagg", "array_agg", "first_value", "last_value")
"""Aggregates over the values in the order they arrived (``__seq``, an arrival number):
LISTAGG joins them with its separator, ARRAY_AGG lists them, FIRST_VALUE and LAST_VALUE
pick one. NULLs are skipped, as Flink skips them, except by ARRAY_AGG, which lists them
(its IGNORE NULLS is a FILTER the binder adds)."""
FUNCS = (
    "count", "count_star", "sum", "min", "max", "avg", "udaf", "collect", "percentile", *STATISTICS, *ORDERED,
    "lag", "lead",  # only OVER a window (the binder's rule)
)  # fmt: skip


def needs_raw(aggs: tuple[AggCall, ...]) -> bool:
    """Whether window state keeps each row's values (no partial sums): for DISTINCT, the
    variances, Python aggregates, COLLECT and the arrival-ordered aggregates."""
    return any(a.distinct or a.func in ("udaf", "collect", "percentile", *STATISTICS, *ORDERED) for a in aggs)


def needs_seq(aggs: tuple[AggCall, ...]) -> bool:
    """Whether the rows need their arrival number ``__seq`` (an arrival-ordered aggregate)."""
    return any(a.func in ORDERED for a in aggs)


def separator(agg: AggCall) -> str:
    """LISTAGG's separator, a DuckDB string literal ('' for the other aggregates)."""
    return agg.args[0] if agg.func == "listagg" else "''"


def ordered_call(
    func: str, value: str, seq: str, sep: str = "", where: str = "", distinct: bool = False
) -> str:
    """SQL aggregating ``value`` in the order of ``seq`` for one of :data:`ORDERED`
    (``where``: a condition a row must meet besides a non-NULL value). LISTAGG(DISTINCT)
    and ARRAY_AGG(DISTINCT) take each value once, where it first arrived, as Flink's
    distinct view hands it on. ARRAY_AGG of no value is NULL, not an empty array (Flink's
    ArrayAggFunction)."""
    cond = f"({value}) IS NOT NULL" + (f" AND {where}" if where else "")
    if func == "array_agg":
        cond = where or "true"
    if func in ("listagg", "array_agg") and distinct:
        values = f"list({value} ORDER BY {seq}) FILTER (WHERE {cond})"
        first = f"list_filter({values}, lambda __x, __i: list_position({values}, __x) = __i)"
        return first if func == "array_agg" else f"array_to_string({first}, {sep})"
    if func == "array_agg":
        return f"list({value} ORDER BY {seq}) FILTER (WHERE {cond})"
    if func == "listagg":
        return f"string_agg({value}, {sep} ORDER BY {seq}) FILTER (WHERE {cond})"
    pick = "arg_min" if func == "first_value" else "arg_max"
    return f"{pick}({value}, {seq}) FILTER (WHERE {cond})"


def collect_call(value: str, where: str = "") -> str:
    """COLLECT: the non-NULL values as a sorted list (a multiset; sorted so that the same
    multiset is always the same list), empty rather than NULL for a group of NULLs."""
    cond = f"({value}) IS NOT NULL" + (f" AND {where}" if where else "")
    return f"coalesce(list({value} ORDER BY {value}) FILTER (WHERE {cond}), [])"


def percentile_call(
    value: str, agg: AggCall, weight: str | None = None, where: str = "", distinct: str = ""
) -> str:
    """PERCENTILE: DuckDB's continuous quantile (linear interpolation between the two
    nearest values, Flink's PercentileAggFunction) over the values as DOUBLEs, each counted
    ``weight`` times when a weight is given (the frequency, or a value's live count); NULL
    without a value."""
    v = f"CAST({value} AS DOUBLE)"
    more = f" FILTER (WHERE {where})" if where else ""
    p = agg.args[0]
    if weight is None:
        return f"quantile_cont({distinct}{v}, {p}){more}"
    # each value repeated by its weight (a weight of 0 or less: not at all)
    repeated = f"flatten(list(list_resize([{v}], greatest({weight}, 0), {v})){more})"
    return f"list_aggregate({repeated}, 'quantile_cont', {p})"


def check(agg: AggCall) -> None:
    if agg.func not in FUNCS:
        raise SqlStreamError(
            f"aggregate function {agg.func.upper()} is not supported in streaming",
            hint="use COUNT, SUM, MIN, MAX, AVG, STDDEV_POP/SAMP or VAR_POP/SAMP",
        )
    if agg.func not in ("count_star", "udaf") and agg.arg is None:
        raise SqlStreamError(f"aggregate {agg.name}: {agg.func.upper()} needs an argument")


def _filter(agg: AggCall) -> str:
    return f" FILTER (WHERE {agg.filter})" if agg.filter else ""


def decimal_scale(agg: AggCall) -> int | None:
    """The scale of a DECIMAL SUM's or AVG's result (at least its sum's), else None."""
    t = parse_type(agg.type)
    return (t.scale or 0) if agg.func in ("sum", "avg") and t.name == "DECIMAL" else None


def _total(agg: AggCall, x: str, where: str) -> str:
    """SUM's (or AVG's) sum of ``x``: a DECIMAL's NULL beyond 38 digits (``decimal_sum_call``)."""
    scale = decimal_scale(agg)
    if scale is None:
        d = "DISTINCT " if agg.distinct else ""
        return f"sum({d}{x})" + (f" FILTER (WHERE {where})" if where else "")
    return decimal_sum_call(x, scale, where, distinct=agg.distinct)


def _merged_total(i: int, agg: AggCall) -> str:
    """Partial sums ``p<i>`` added up. A DECIMAL one is NULL once a partial has overflowed
    (a NULL sum of values, ``c<i>`` counting them), as a sum of the rows at once is whatever
    the batches they came in."""
    total = _total(agg, f"p{i}", "")
    if decimal_scale(agg) is not None:
        return f"CASE WHEN bool_or(p{i} IS NULL AND c{i} > 0) THEN NULL ELSE {total} END"
    return total


def _counted(agg: AggCall) -> bool:
    """Whether the partials count the values (``c<i>``): AVG's, and a DECIMAL SUM's, whose
    NULL partial sum is an overflow when it had values."""
    return agg.func == "avg" or (agg.func == "sum" and decimal_scale(agg) is not None)


def partial_items(i: int, agg: AggCall) -> list[str]:
    f = _filter(agg)
    if agg.func == "count_star":
        return [f"count(*){f} AS p{i}"]
    if agg.func in ("avg", "sum"):
        total = f"{_total(agg, agg.arg or '', agg.filter or '')} AS p{i}"
        return [total, f"count({agg.arg}){f} AS c{i}"] if _counted(agg) else [total]
    return [f"{agg.func}({agg.arg}){f} AS p{i}"]


def partial_names(i: int, agg: AggCall) -> list[str]:
    """The names of ``partial_items``' columns."""
    return [f"p{i}", f"c{i}"] if _counted(agg) else [f"p{i}"]


def merge_items(i: int, agg: AggCall) -> list[str]:
    """Partial columns of several rows merged into one partial row (same names)."""
    if agg.func in ("min", "max"):
        return [f"{agg.func}(p{i}) AS p{i}"]
    if agg.func in ("avg", "sum"):
        total = f"{_merged_total(i, agg)} AS p{i}"
        return [total, f"sum(c{i}) AS c{i}"] if _counted(agg) else [total]
    return [f"sum(p{i}) AS p{i}"]


def raw_items(i: int, agg: AggCall) -> list[str]:
    if agg.func == "udaf":
        return udaf.raw_items(i, agg)
    items = [] if agg.func == "count_star" else [f"{agg.arg} AS a{i}"]
    if agg.func == "percentile" and len(agg.args) > 1:  # its frequency, a row's weight
        items.append(f"{agg.args[1]} AS w{i}")
    if agg.filter:
        items.append(f"coalesce({agg.filter}, false) AS f{i}")
    return items


def _cast(expr: str, agg: AggCall) -> str:
    if agg.func in ("count", "count_star", "min", "max"):
        # a count fits a BIGINT and MIN/MAX is one of the values, already of the argument's
        # type: a plain cast, as GROUP BY's results are, without the wrap-around of a SUM
        # (a HUGEINT round trip per window, a sixth of firing 229k HOP windows)
        return f"CAST({expr} AS {parse_type(agg.type).duckdb()})"
    if agg.func in STATISTICS:
        return statistic_sql(expr, parse_type(agg.type))
    return result_sql(expr, parse_type(agg.type))


def statistic_call(func: str, arg: str, t: DataType, more: str = "", distinct: str = "") -> str:
    """SQL aggregating ``arg`` into a variance or deviation of Flink's type ``t`` (``more``:
    a FILTER clause). DOUBLE and FLOAT use DuckDB's own (Welford's) functions, which keep
    1e308's deviation 0 as Flink does. Integers are exact (see ``_integral_statistic``). A
    DECIMAL's is Flink's reduction to sums, (sum(x * x) - sum(x)^2 / n) / n (or n - 1), with
    the exact sums taken to DOUBLE (Flink's answer for 99999999.99 and 0.01 is
    2499999999000000.000000, not the exact ...000100)."""
    if t.is_integral:
        return _integral_statistic(func, arg, t, more, distinct)
    if t.name != "DECIMAL":
        return statistic_sql(f"{func}({distinct}{arg}){more}", t)
    n, total, squares = _sums(f"CAST({arg} AS {t.duckdb()})", more, distinct)  # exact: the
    # result's scale is at least the argument's
    total, squares = f"CAST({total} AS DOUBLE)", f"CAST({squares} AS DOUBLE)"
    sample = func.endswith("samp")
    variance = f"(({squares} - {total} * {total} / {n}) / ({n}{' - 1' if sample else ''}))"
    if func.startswith("stddev"):
        variance = f"sqrt(greatest({variance}, 0))"
    # through the double's shortest text, as Java's BigDecimal.valueOf(double) reads it
    # (DuckDB's DOUBLE to DECIMAL cast goes astray beyond 2^53)
    value = f"TRY_CAST(CAST({variance} AS VARCHAR) AS {t.duckdb()})"
    return f"CASE WHEN {_empty(func, n)} THEN NULL ELSE {value} END"


def _integral_statistic(func: str, arg: str, t: DataType, more: str, distinct: str) -> str:
    """An integer's variance from exact sums, (n * sum(x * x) - sum(x)^2) / (n * (n - 1))
    (or n * n), truncated as Flink's cast of its double: a variance in floating point (Flink's
    and DuckDB's Welford alike) depends on the order the values came in, and 0, 4, 6, 0's
    VAR_SAMP, exactly 9, came out 9 in one order and 8.999999999999998, so 8, in another. The
    sums fit a HUGEINT while the values fit 32 bits (any INT's, and a BIGINT's that do; a
    group of wider BIGINTs takes DuckDB's DOUBLE function)."""
    narrow = f"CAST({arg} AS BIGINT) BETWEEN -2147483648 AND 2147483647"
    # a BIGINT beyond 32 bits counts as 0 in the sums, which then go unused
    x = f"CASE WHEN {narrow} THEN {arg} ELSE 0 END" if t.name == "BIGINT" else arg
    x = f"CAST({x} AS HUGEINT)"
    n, total, squares = _sums(x, more, distinct)
    spread = f"({n} * {squares} - {total} * {total})"
    denominator = f"({n} * ({n} - 1))" if func.endswith("samp") else f"({n} * {n})"
    if func.startswith("stddev"):  # a whole square root comes out exact from the double
        exact = f"sqrt(CAST({spread} AS DOUBLE) / CAST({denominator} AS DOUBLE))"
    else:
        exact = f"CAST({spread} // {denominator} AS DOUBLE)"
    value = f"CASE WHEN {_empty(func, n)} THEN NULL ELSE {exact} END"
    if t.name == "BIGINT":
        value = f"CASE WHEN bool_and({narrow}){more} THEN {value} ELSE {func}({distinct}{arg}){more} END"
    return statistic_sql(value, t)


def _sums(x: str, more: str, distinct: str) -> tuple[str, str, str]:
    """The count, sum and sum of squares of the values ``x`` (of DISTINCT ones: over the list
    of distinct values, since the distinct squares of 2 and -2 are one 4)."""
    if not distinct:
        return f"count({x}){more}", f"sum({x}){more}", f"sum({x} * {x}){more}"
    values = f"list_distinct(list({x}){more})"  # without NULLs
    squares = f"list_sum(list_transform({values}, lambda __x: __x * __x))"
    return f"len({values})", f"list_sum({values})", squares


def _empty(func: str, n: str) -> str:
    """When a variance is NULL: over no value, or one for a sample's."""
    return f"{n} <= 1" if func.endswith("samp") else f"{n} = 0"


def statistic_sql(expr: str, t: DataType) -> str:
    """A variance or deviation (a DOUBLE) as its Flink type, the argument's: Java's cast of
    a double (truncating, saturating) for an integer, HALF_UP to the scale for a DECIMAL."""
    if t.is_integral:
        return float_to_integral_sql(expr, t)
    if t.name == "DECIMAL":
        return f"TRY_CAST({expr} AS {t.duckdb()})"
    return f"CAST({expr} AS {t.duckdb()})"


def decimal_sum_call(x: str, scale: int, where: str = "", over: str = "", distinct: bool = False) -> str:
    """SQL aggregating DECIMAL ``x`` (of scale ``scale`` or less; ``where``: a condition a row
    must meet; ``over``: a window, for a window function; ``distinct``: each value once) into
    its exact sum as a DECIMAL(38, s), NULL for no value, and NULL, not a failed job, once the
    sum leaves 38 digits: Flink's SUM and AVG of a DECIMAL add with DecimalDataUtils, whose
    overflow is NULL, and AVG stays NULL after it (its accumulator adds to a NULL). DuckDB's
    own sum raises on that overflow, so only values below 10^26 unscaled (a DECIMAL(38, 18)
    below 10^8; sums of fewer than 10^12 of them stay within 38 digits) go through it; the
    rare wider ones (~2.5 us each) are added one by one onto that sum, each addition TRYed,
    so that once one overflows the sum is NULL whatever comes after. (Flink's SUM, unlike its
    AVG, starts again from the next value after a NULL sum, which makes its answer depend on
    the order the rows came in: KNOWN_MISMATCHES in tests/oracle.)"""
    cond = f" AND {where}" if where else ""
    w = f" OVER {over}" if over else ""
    narrow = f"abs(CAST({x} AS DOUBLE)) < 1e{26 - scale}"
    d = "DISTINCT " if distinct else ""
    exact = f"sum({d}{x}) FILTER (WHERE {narrow}{cond}){w}"
    wide = f"list({d}{x}) FILTER (WHERE NOT {narrow}{cond}){w}"
    folded = f"list_reduce(list_prepend(coalesce({exact}, 0), {wide}), lambda __a, __v: try(__a + __v))"
    # no wide value: DuckDB's sum as it is (NULL for no value)
    return f"CASE WHEN count({x}) FILTER (WHERE NOT {narrow}{cond}){w} = 0 THEN {exact} ELSE {folded} END"


def decimal_merge_sql(old: str, old_count: str, new: str, new_count: str | None = None) -> str:
    """Two DECIMAL sums (of ``old_count`` and ``new_count`` values) added: NULL once either
    has overflowed (a NULL sum of values) or their sum leaves 38 digits; a sum of no value
    is not added (``new_count`` None: ``new`` is 0 for no value, as a retracting delta's net
    count says nothing). Scalar SQL with a TRY, so not over aggregates or window functions."""
    skip = f"WHEN coalesce({new_count}, 0) = 0 THEN {old} " if new_count else ""
    return f"CASE WHEN coalesce({old_count}, 0) = 0 THEN {new} {skip}ELSE try({old} + {new}) END"


def _avg(total: str, count: str, agg: AggCall) -> str:
    t = parse_type(agg.type)
    if t.name == "DECIMAL":  # its division TRYs, and DuckDB binds no aggregate inside TRY,
        # but a lambda's body over a one-element list of them is outside the aggregates
        final = avg_sql("__x.s", "__x.c", t)
        return f"list_transform([{{'s': {total}, 'c': {count}}}], lambda __x: {final})[1]"
    return avg_sql(total, count, t)


def result_sql(expr: str, t: DataType) -> str:
    """An aggregate's exact value as its Flink type: an integral SUM wraps around as
    Flink's Java accumulator does (it does not fail the job); a DECIMAL one that overflows
    is NULL."""
    if t.is_integral:
        return wrap_sql(expr, t, via="HUGEINT")  # DuckDB's sum of integers is a HUGEINT
    if t.name == "DECIMAL":
        return f"TRY_CAST({expr} AS {t.duckdb()})"
    return f"CAST({expr} AS {t.duckdb()})"


def avg_sql(total: str, count: str, t: DataType) -> str:
    """AVG from its exact sum and count: integral AVG sums in a Java long (which wraps
    around) and divides truncating; DECIMAL rounds HALF_UP to Flink's DECIMAL(38, max(6, s))."""
    if t.is_integral:
        div = f"{wrap_sql(total, BIGINT)} // {count}"  # Flink sums in a long
        # a long over a positive count is a long (over a BIGINT count DuckDB fails the one
        # that is not, MIN // -1, before any wrap): a BIGINT AVG needs only its type, and each
        # expression node DuckDB binds costs (~35 us: q17 binds its emission every batch)
        div = f"CAST({div} AS BIGINT)" if t.name == "BIGINT" else wrap_sql(div, t)
    elif t.name == "DECIMAL":
        div = decimal_divide_sql(total, DataType("DECIMAL", 38, t.scale), count, BIGINT, t)
    else:
        div = f"CAST(CAST({total} AS DOUBLE) / {count} AS {t.duckdb()})"
    return f"CASE WHEN {count} = 0 THEN NULL ELSE {div} END"


def final_expr(i: int, agg: AggCall, raw: bool, order: str = "__seq") -> str:
    """The aggregate's value over a group of state rows; ``order``: the order an arrival-
    ordered aggregate takes its values in (a HOP window's slices: see ``window_aggregate``)."""
    if not raw:
        if agg.func in ("count", "count_star"):
            return _cast(f"coalesce(sum(p{i}), 0)", agg)
        if agg.func == "sum":
            return _cast(_merged_total(i, agg), agg)
        if agg.func in ("min", "max"):
            return _cast(f"{agg.func}(p{i})", agg)
        return _avg(_merged_total(i, agg), f"sum(c{i})", agg)
    if agg.func == "udaf":
        return udaf.window_call(i, agg)
    d = "DISTINCT " if agg.distinct else ""
    f = f" FILTER (WHERE f{i})" if agg.filter else ""
    if agg.func == "count_star":
        return _cast(f"count(*){f}", agg)
    if agg.func in ORDERED:
        where = f"f{i}" if agg.filter else ""
        return _cast(ordered_call(agg.func, f"a{i}", order, separator(agg), where, agg.distinct), agg)
    if agg.func == "collect":
        return _cast(collect_call(f"a{i}", f"f{i}" if agg.filter else ""), agg)
    if agg.func == "percentile":
        weight = f"w{i}" if len(agg.args) > 1 else None
        return percentile_call(f"a{i}", agg, weight, f"f{i}" if agg.filter else "", d)
    if agg.func == "avg":
        return _avg(_total(agg, f"a{i}", f"f{i}" if agg.filter else ""), f"count({d}a{i}){f}", agg)
    if agg.func == "sum":
        return _cast(_total(agg, f"a{i}", f"f{i}" if agg.filter else ""), agg)
    if agg.func in STATISTICS:
        return statistic_call(agg.func, f"a{i}", parse_type(agg.type), f, d)
    return _cast(f"{agg.func}({d}a{i}){f}", agg)
