"""Flink's ARRAY_* and MAP_* functions as DuckDB expressions with Flink's meaning.

DuckDB's list and map functions come close but differ at the edges Flink defines (its
``ArrayContainsFunction``, ``ArraySliceFunction``, ``MapUnionFunction``... in
flink-table-runtime, and the oracle's fixtures ``tests/oracle/fixtures/arrays.json``):

- a NULL array (or map) argument makes the answer NULL, where DuckDB reads it as empty;
- elements are compared NULL-safely: ``ARRAY_CONTAINS(a, NULL)`` finds a NULL element,
  ``ARRAY_REMOVE(a, NULL)`` removes them, ``ARRAY_DISTINCT`` keeps one;
- the set functions (ARRAY_DISTINCT, _UNION, _EXCEPT, _INTERSECT) keep each element's first
  position, where DuckDB's list_distinct drops NULLs and does not keep order;
- a repeated map key keeps its first place and its last value (``MAP['x', 1, 'x', 2]`` is
  ``{x=2}``), where DuckDB refuses the map.

Each rewrite receives its node with the children already in DuckDB's terms.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from planner.errors import UnsupportedError
from planner.numeric import template


def _args(n: exp.Expr) -> list[exp.Expr]:
    return [a for a in [n.this, *n.expressions] if isinstance(a, exp.Expr)]


def _null_if_any_null(args: list[exp.Expr], value: str, **parts: exp.Expr) -> exp.Expr:
    """``value`` unless one of ``args`` is NULL (then NULL, as Flink's eval returns)."""
    checks = " OR ".join(f"{{n{i}}} IS NULL" for i in range(len(args)))
    names = {f"n{i}": a for i, a in enumerate(args)}
    return template(f"CASE WHEN {checks} THEN NULL ELSE {value} END", **names, **parts)


_DISTINCT = "list_filter({a}, (__e, __i) -> list_position({a}, __e) = __i)"
"""The first occurrence of each element, NULL included (list_position finds NULL)."""
_CONTAINS = "list_position({b}, __e) IS NOT NULL"
"""NULL-safe membership of ``__e`` in ``{b}``."""


def _array_contains(n: exp.Expr) -> exp.Expr:
    return template(
        "CASE WHEN {a} IS NULL THEN NULL ELSE list_position({a}, {x}) IS NOT NULL END",
        a=n.this,
        x=n.expression,
    )


def _array_position(n: exp.Expr) -> exp.Expr:
    """1-based, 0 when absent; NULL when the array or the needle is NULL."""
    return _null_if_any_null(
        [n.this, n.expression],
        "CAST(coalesce(list_position({a}, {x}), 0) AS INTEGER)",
        a=n.this,
        x=n.expression,
    )


def _array_distinct(n: exp.Expr) -> exp.Expr:
    return template(_DISTINCT, a=n.this)


def _array_remove(n: exp.Expr) -> exp.Expr:
    return template("list_filter({a}, __e -> __e IS DISTINCT FROM {x})", a=n.this, x=n.expression)


def _array_reverse(n: exp.Expr) -> exp.Expr:
    return template("list_reverse({a})", a=n.this)


def _array_slice(n: exp.Expr) -> exp.Expr:
    """ArraySliceFunction: negative positions count from the end, the start is at least 1,
    an end of 0 is 1, an end past the array is its last element; empty when end < start."""
    a, start = n.this, n.args["start"]
    end = n.args.get("end")
    length = template("len({a})", a=a)
    stop = end if end is not None else length
    s = template("greatest(1, CASE WHEN {s} < 0 THEN {s} + {n} + 1 ELSE {s} END)", s=start, n=length)
    e = template("(CASE WHEN {e} < 0 THEN {e} + {n} + 1 ELSE {e} END)", e=stop, n=length)
    e = template("CASE WHEN {e} = 0 THEN 1 ELSE least({e}, {n}) END", e=e, n=length)
    return _null_if_any_null(
        [a, start, stop],
        "CASE WHEN len({a}) = 0 THEN {a} WHEN {e} < {s} THEN list_slice({a}, 1, 0) "
        "ELSE list_slice({a}, {s}, {e}) END",
        a=a,
        s=s,
        e=e,
    )


def _array_concat(n: exp.Expr) -> exp.Expr:
    args = _args(n)
    joined = template("list_concat(" + ", ".join(f"{{a{i}}}" for i in range(len(args))) + ")",
                      **{f"a{i}": a for i, a in enumerate(args)})  # fmt: skip
    return _null_if_any_null(args, "{v}", v=joined)


def _array_union(n: exp.Anonymous) -> exp.Expr:
    a, b = n.expressions
    joined = template("list_concat({a}, {b})", a=a, b=b)
    return _null_if_any_null([a, b], _DISTINCT, a=joined)


def _array_except(n: exp.Expr) -> exp.Expr:
    """The distinct elements of the first array that the second lacks, in first order."""
    a, b = n.this, n.expression
    distinct = template(_DISTINCT, a=a)
    return _null_if_any_null([a, b], f"list_filter({{d}}, __e -> NOT ({_CONTAINS}))", d=distinct, b=b)


def _array_intersect(n: exp.Expr) -> exp.Expr:
    a, b = n.expressions
    distinct = template(_DISTINCT, a=a)
    return _null_if_any_null([a, b], f"list_filter({{d}}, __e -> {_CONTAINS})", d=distinct, b=b)


def _array_max_min(n: exp.Expr) -> exp.Expr:
    """NULL elements are skipped; an empty array (or one of NULLs) has no maximum."""
    name = "list_max" if isinstance(n, exp.ArrayMax) else "list_min"
    return template(name + "({a})", a=n.this)


def float_max_min(n: exp.Expr) -> exp.Expr:
    """ARRAY_MAX / ARRAY_MIN of DOUBLEs or FLOATs: Flink's loop keeps the first value unless
    a later one is greater (smaller) by Java's ``>`` (``<``), false for NaN either side, so a
    NaN first stays and a NaN later is passed over; DuckDB orders NaN above every number."""
    op = ">" if isinstance(n, exp.ArrayMax) else "<"
    values = template("list_filter({a}, __x -> __x IS NOT NULL)", a=n.this)
    return template(
        "CASE WHEN len({v}) > 0 THEN list_reduce({v}, (__m, __x) -> "
        f"CASE WHEN __x {op} __m AND NOT isnan(__x) AND NOT isnan(__m) THEN __x ELSE __m END) END",
        v=values,
    )


def _array_sort(n: exp.Anonymous) -> exp.Expr:
    """ARRAY_SORT(a[, ascending[, nulls_first]]): ascending with NULLs first by default;
    descending puts NULLs last unless told otherwise; a NULL flag makes the answer NULL."""
    array, *flags = n.expressions
    for flag in flags:
        if isinstance(flag, exp.Cast) and isinstance(flag.this, exp.Null):
            return template("CASE WHEN false THEN {a} END", a=array)
        if not isinstance(flag, exp.Boolean):
            raise UnsupportedError("ARRAY_SORT with an order that is not TRUE or FALSE")
    ascending = flags[0].this if flags else True
    nulls_first = flags[1].this if len(flags) > 1 else ascending
    order = "ASC" if ascending else "DESC"
    nulls = "NULLS FIRST" if nulls_first else "NULLS LAST"
    return template(f"list_sort({{a}}, '{order}', '{nulls}')", a=array)


def _array_prepend(n: exp.Expr) -> exp.Expr:
    return _null_if_any_null([n.this], "list_concat([{x}], {a})", a=n.this, x=n.expression)


def _array_append(n: exp.Expr) -> exp.Expr:
    return _null_if_any_null([n.this], "list_append({a}, {x})", a=n.this, x=n.expression)


def _map_keys(n: exp.Expr) -> exp.Expr:
    return template("map_keys({m})", m=_args(n)[0])


def _map_values(n: exp.Expr) -> exp.Expr:
    return template("map_values({m})", m=_args(n)[0])


def _map_entries(n: exp.Expr) -> exp.Expr:
    return template("map_entries({m})", m=_args(n)[0])


def map_of(keys: exp.Expr, values: exp.Expr) -> exp.Expr:
    """A map of two lists of equal length, a repeated key keeping its first place and its
    last value (Flink's ``MAP['b', 1, 'a', 2, 'b', 3]`` lists b=3, then a=2). A NULL key fails
    the job: neither Arrow nor DuckDB maps can hold one."""
    message = exp.Literal.string("a map key is NULL: sqlstream's maps cannot hold a NULL key")
    # The lists are computed once, bound to __kv (each {k} in the filters' lambdas would
    # compute the keys again for every element).
    first = "list_filter(__kv.k, (__e, __i) -> list_position(__kv.k, __e) = __i)"
    last = "__kv.v[len(__kv.k) + 1 - list_position(list_reverse(__kv.k), __e)]"
    return template(
        "list_transform([struct_pack(k := {k}, v := {v})], __kv -> "
        "CASE WHEN list_position(__kv.k, NULL) IS NOT NULL THEN error({m}) ELSE "
        f"map({first}, list_transform({first}, __e -> {last})) END)[1]",
        k=keys,
        v=values,
        m=message,
    )


def _map_from_arrays(n: exp.Expr) -> exp.Expr:
    """MAP_FROM_ARRAYS(keys, values): NULL when either is; arrays of different lengths fail
    the job, as Flink's do."""
    keys, values = n.args["keys"], n.args["values"]
    message = exp.Literal.string("MAP_FROM_ARRAYS: the keys and values arrays differ in length")
    return _null_if_any_null(
        [keys, values],
        "CASE WHEN len({k}) <> len({v}) THEN error({m}) ELSE {map} END",
        k=keys,
        v=values,
        m=message,
        map=map_of(keys, values),
    )


def _map_union(n: exp.Anonymous) -> exp.Expr:
    """MAP_UNION(m1, m2, ...): later maps' values win; NULL when any map is NULL."""
    args = n.expressions
    names = {f"m{i}": a for i, a in enumerate(args)}
    joined = template("map_concat(" + ", ".join(f"{{m{i}}}" for i in range(len(args))) + ")", **names)
    return _null_if_any_null(list(args), "{v}", v=joined)


def _var_map(n: exp.Expr) -> exp.Expr:
    """MAP[k1, v1, k2, v2, ...]: the constructor, a repeated key keeping its last value."""
    return map_of(n.args["keys"], n.args["values"])


def _row(n: exp.Anonymous) -> exp.Expr:
    """ROW(a, b, ...): a struct whose fields are named as Flink names them, EXPR$0, ..."""
    fields = [exp.PropertyEQ(this=exp.to_identifier(f"EXPR${i}", quoted=True), expression=a)
              for i, a in enumerate(n.expressions)]  # fmt: skip
    return exp.Struct(expressions=fields)


REWRITES: dict[type[exp.Expr] | str, Callable[..., exp.Expr]] = {
    "ROW": _row,
    exp.ArrayContains: _array_contains,
    exp.ArrayPosition: _array_position,
    exp.ArrayDistinct: _array_distinct,
    exp.ArrayRemove: _array_remove,
    exp.ArrayReverse: _array_reverse,
    exp.ArraySlice: _array_slice,
    exp.ArrayConcat: _array_concat,
    "ARRAY_UNION": _array_union,
    exp.ArrayExcept: _array_except,
    exp.ArrayIntersect: _array_intersect,
    exp.ArrayMax: _array_max_min,
    exp.ArrayMin: _array_max_min,
    "ARRAY_SORT": _array_sort,
    exp.ArrayPrepend: _array_prepend,
    exp.ArrayAppend: _array_append,
    exp.MapKeys: _map_keys,
    "MAP_VALUES": _map_values,
    "MAP_ENTRIES": _map_entries,
    exp.Map: _map_from_arrays,
    "MAP_UNION": _map_union,
    exp.VarMap: _var_map,
}
