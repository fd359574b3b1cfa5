"""The time condition of an interval join, as Flink recognises it (``IntervalJoinUtil``).

A join condition that compares the time attributes of both sides is an interval join
when those comparisons bound ``left_time - right_time`` from below and from above:

    a.rt BETWEEN b.rt - INTERVAL '5' SECOND AND b.rt + INTERVAL '5' SECOND
    a.rt >= b.rt - INTERVAL '5' SECOND AND a.rt < b.rt + INTERVAL '1' MINUTE
    a.rt = b.rt

Each side of a comparison is a time attribute plus or minus INTERVAL constants. A
strict ``<`` or ``>`` moves its bound by a millisecond, as Flink does. The comparisons
stay in the join's condition (the runtime evaluates the exact predicate); the bounds
tell the runtime how long a row may still find a partner, and downstream how far the
watermark is held back.

>>> from sqlglot import parse_one
>>> c = parse_one("a BETWEEN b - INTERVAL '5' SECOND AND b + INTERVAL '1' MINUTE")
>>> time_bounds({"a": "rowtime"}, {"b": "rowtime"}, [c], c)
TimeBounds(left_time='a', right_time='b', lower_ms=-5000, upper_ms=60000)
>>> c = parse_one("b > a - INTERVAL '1' SECOND AND b <= a")
>>> time_bounds({"a": "rowtime"}, {"b": "rowtime"}, list(c.flatten()), c)
TimeBounds(left_time='a', right_time='b', lower_ms=0, upper_ms=999)
"""

from __future__ import annotations

from sqlglot import exp

from planner.bind.scope import _err
from planner.bind.windows import _interval_ms
from planner.errors import UnsupportedError
from planner.logical import TimeBounds

_FLIPPED: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.GTE: exp.LTE,
    exp.GT: exp.LT,
    exp.LTE: exp.GTE,
    exp.LT: exp.GT,
    exp.EQ: exp.EQ,
}

_FORM = "a.rt BETWEEN b.rt - INTERVAL '5' SECOND AND b.rt + INTERVAL '5' SECOND (or two of >, >=, <, <=)"


def time_bounds(
    left_times: dict[str, str],
    right_times: dict[str, str],
    conjuncts: list[exp.Expr],
    where: exp.Expr,
) -> TimeBounds | None:
    """The interval join's bounds, from the conjuncts of the join condition (output field
    names; ``left_times``/``right_times``: each side's time attributes, name -> "rowtime"
    or "proctime"). None when no conjunct compares a time attribute of each side; a
    comparison that bounds the times but not as an interval join can is refused by
    name and position (``where``: the ON clause, for a missing bound)."""
    lowers: list[int] = []
    uppers: list[int] = []
    pair: tuple[str, str] | None = None
    for conj in conjuncts:
        cols = {c.name for c in conj.find_all(exp.Column)}
        if not (cols & left_times.keys() and cols & right_times.keys()):
            continue
        for cmp in _comparisons(conj):
            bound = _bound(cmp, left_times, right_times)
            if bound is None:
                raise _err(
                    UnsupportedError(
                        f"the time condition '{conj.sql()}' between both sides of a join is not an "
                        "interval join's bound",
                        hint=f"bound one time attribute by the other: {_FORM}",
                    ),
                    conj,
                )
            times, op, offset = bound
            if pair is not None and times != pair:
                raise _err(
                    UnsupportedError(
                        "an interval join compares one time attribute of each side: "
                        f"'{conj.sql()}' compares another pair than {pair[0]} and {pair[1]}"
                    ),
                    conj,
                )
            pair = times
            if op in (exp.GTE, exp.EQ):
                lowers.append(offset)
            if op is exp.GT:
                lowers.append(offset + 1)
            if op in (exp.LTE, exp.EQ):
                uppers.append(offset)
            if op is exp.LT:
                uppers.append(offset - 1)
    if pair is None:
        return None
    kinds = {left_times[pair[0]], right_times[pair[1]]}
    if kinds != {"rowtime"}:
        raise _err(
            UnsupportedError(
                "processing-time interval joins are not supported"
                if kinds == {"proctime"}
                else "an interval join of a rowtime and a processing-time attribute",
                hint="join on event-time attributes (columns with a WATERMARK)",
            ),
            where,
        )
    if not lowers or not uppers:
        missing = "lower" if not lowers else "upper"
        raise _err(
            UnsupportedError(
                f"the time condition between {pair[0]} and {pair[1]} has no {missing} bound: an "
                "interval join needs both, and a join whose state is not bounded by time cannot "
                "compare time attributes",
                hint=f"bound it on both sides: {_FORM}",
            ),
            where,
        )
    return TimeBounds(pair[0], pair[1], max(lowers), min(uppers))


def _comparisons(conj: exp.Expr) -> list[exp.Expr]:
    """``x BETWEEN lo AND hi`` as ``x >= lo`` and ``x <= hi``; any other conjunct as is."""
    if isinstance(conj, exp.Paren):
        return _comparisons(conj.this)
    if isinstance(conj, exp.Between) and not conj.args.get("symmetric"):
        return [exp.GTE(this=conj.this, expression=conj.args["low"]),
                exp.LTE(this=conj.this, expression=conj.args["high"])]  # fmt: skip
    return [conj]


def _bound(
    cmp: exp.Expr, left_times: dict[str, str], right_times: dict[str, str]
) -> tuple[tuple[str, str], type[exp.Expr], int] | None:
    """``l + x OP r + y`` as ((l, r), OP, y - x): a bound of ``l - r``."""
    op = type(cmp)
    if op not in _FLIPPED:
        return None
    a, b = _term(cmp.this), _term(cmp.expression)
    if a is None or b is None:
        return None
    if a[0] in right_times and b[0] in left_times:
        a, b, op = b, a, _FLIPPED[op]
    if a[0] not in left_times or b[0] not in right_times:
        return None
    return (a[0], b[0]), op, b[1] - a[1]


def _term(e: exp.Expr) -> tuple[str, int] | None:
    """A time attribute plus or minus INTERVAL constants, as (column, milliseconds)."""
    if isinstance(e, exp.Paren):
        return _term(e.this)
    if isinstance(e, exp.Column):
        return e.name, 0
    if isinstance(e, exp.Add | exp.Sub):
        sign = 1 if isinstance(e, exp.Add) else -1
        inner, const = e.this, e.expression
        if isinstance(e, exp.Add) and _is_interval(inner):
            inner, const = const, inner
        if not _is_interval(const):
            return None
        term = _term(inner)
        if term is None:
            return None
        return term[0], term[1] + sign * _interval_ms(const)
    return None


def _is_interval(e: exp.Expr) -> bool:
    return isinstance(e.unnest() if isinstance(e, exp.Paren) else e, exp.Interval)
