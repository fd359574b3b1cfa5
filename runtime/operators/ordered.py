"""LISTAGG, ARRAY_AGG, FIRST_VALUE and LAST_VALUE in an unwindowed GROUP BY: SQL for their
state.

Over an insert-only input a key's accumulator is the value so far, and a batch's value
(its rows in arrival order) is merged into it: FIRST_VALUE keeps the old one, LAST_VALUE
takes the new one, LISTAGG appends with its separator. Nothing else is kept, as Flink
keeps nothing else (FirstValueAggFunction, ListAggFunction).

Over an updating input a retraction must find the value it takes back, so every live
value is kept with its arrival number, as Flink's ...WithRetractAggFunction keep theirs
(a list, or value -> arrival times): a retraction removes the earliest live instance of
its value (Flink's ``list.remove(value)`` and ``orderList.get(0)``), and the result of a
key touched by the batch is computed again from what is left: the value with the
smallest (FIRST_VALUE) or largest (LAST_VALUE) number, or all of them joined in order.
"""

from __future__ import annotations

from planner.physical import INPUT_RELATION, AggCall
from runtime.operators import aggs as A


def ordered_merge(agg: AggCall, old: str, new: str) -> str:
    """The accumulator after ``new`` (a batch's value, NULL when it had none) followed
    ``old`` (NULL before the key's first value); COLLECT's lists are joined and sorted."""
    if agg.func in ("collect", "percentile"):  # PERCENTILE's values so far, sorted too
        return f"list_sort(list_concat(coalesce({old}, []), coalesce({new}, [])))"
    if agg.func == "first_value":
        return f"coalesce({old}, {new})"
    if agg.func == "last_value":
        return f"coalesce({new}, {old})"
    joined = f"{old} || {A.separator(agg)} || {new}"
    if agg.func == "array_agg":
        joined = f"list_concat({old}, {new})"
    return f"CASE WHEN {old} IS NULL THEN {new} WHEN {new} IS NULL THEN {old} ELSE {joined} END"


def ordered_values(i: int, agg: AggCall, keys: list[str], sign: str) -> tuple[list[tuple[str, int]], str]:
    """The statements of one batch over table ``ord<i>`` (key, value ``__v``, arrival
    number ``__s``), each with the sign its changed rows count in the state size, ending
    in ``__dd<i>``: the new result ``s<i>`` of each key the batch touched (``t<i>``);
    and the table's CREATE statement."""
    k = ", ".join([*keys, ""])
    bk = ", ".join([*(f"b.{c}" for c in keys), ""])
    ok = ", ".join([*(f"o.{c}" for c in keys), ""])
    cond = f"({agg.filter})" if agg.filter else "true"
    on_k = [f"b.{c} IS NOT DISTINCT FROM o.{c}" for c in keys]
    # ARRAY_AGG lists NULLs too, and a retraction of NULL takes one back
    nulls = agg.func == "array_agg"
    on_v = " AND ".join([*on_k, "b.__v IS NOT DISTINCT FROM o.__v" if nulls else "b.__v = o.__v"])
    rows = (
        f"SELECT {k}({agg.arg}) AS __v, __seq AS __s, {sign} AS __g FROM {INPUT_RELATION} "
        f"WHERE {cond}{'' if nulls else f' AND ({agg.arg}) IS NOT NULL'}"
    )
    # the rows each value's retractions remove: its earliest live instances; for DISTINCT
    # its latest, so that the one left is where the value last became live (Flink's
    # distinct view passes a value on when its count goes from 0 to 1, and takes it back at 0)
    order = "o.__s DESC" if agg.distinct else "o.__s"
    earliest = (
        f"SELECT __rid FROM (SELECT o.rowid AS __rid, b.__n, row_number() OVER "
        f"(PARTITION BY {ok}o.__v ORDER BY {order}) AS __rn FROM ord{i} o JOIN __or{i} b ON {on_v}) "
        f"WHERE __rn <= __n"
    )
    live = f"ord{i}"
    if agg.distinct:  # each value once, at its earliest live instance
        live = f"(SELECT {k}__v, min(__s) AS __s FROM ord{i} GROUP BY ALL)"
    # a key none of whose values is left joins one row of NULLs: not a NULL value of ARRAY_AGG
    value = A.ordered_call(agg.func, "o.__v", "o.__s", A.separator(agg), "o.__s IS NOT NULL" if nulls else "")
    result = (
        f"SELECT {bk}{value} AS s{i}, true AS t{i} "
        f"FROM (SELECT DISTINCT {k}true AS __x FROM __od{i}) b LEFT JOIN {live} o "
        f"ON {' AND '.join(on_k) or 'true'} GROUP BY {bk}b.__x"
    )
    steps = [
        (f"CREATE OR REPLACE TEMP TABLE __od{i} AS {rows}", 0),
        (f"INSERT INTO ord{i} SELECT {k}__v, __s FROM __od{i} WHERE __g > 0", 1),
        (
            f"CREATE OR REPLACE TEMP TABLE __or{i} AS "
            f"SELECT {k}__v, count(*) AS __n FROM __od{i} WHERE __g < 0 GROUP BY ALL",
            0,
        ),
        (f"DELETE FROM ord{i} WHERE rowid IN ({earliest})", -1),
        (f"CREATE OR REPLACE TEMP TABLE __dd{i} AS {result}", 0),
    ]
    create = (
        f"CREATE TABLE ord{i} AS SELECT {k}({agg.arg}) AS __v, 0::BIGINT AS __s FROM {INPUT_RELATION} LIMIT 0"
    )
    return steps, create
