"""The expressions of ``MATCH_RECOGNIZE`` (DEFINE conditions, MEASURES) as Python closures
over the rows of a (partial) match, since a condition reads the rows matched so far and
is evaluated row by row while the pattern runs.

A match is a sequence of *steps* ``(position, variable, row)``, ``row`` a tuple of the
input's columns. A DEFINE condition for variable ``V`` is evaluated over the steps so far
plus the candidate step (the current row, as ``V``); MEASURES over the whole match:

- ``V.col``: the column of the last row of ``V`` (NULL when ``V`` has no row);
  ``col``: of the last row of the match (in DEFINE, the current row);
- ``FIRST(V.col, n)`` / ``LAST(V.col, n)``: of ``V``'s n-th row from the first / last
  (n = 0 without it); without ``V``, of the whole match's rows;
- ``SUM``, ``AVG``, ``COUNT``, ``MIN``, ``MAX`` over ``V``'s rows (or all), ignoring
  NULL as SQL does; AVG of integers is an integer, as Flink's;
- ``MATCH_ROWTIME()``: the time of the last row;
- arithmetic (integer division truncates), comparisons, AND/OR/NOT, IS [NOT] NULL,
  BETWEEN, with SQL's NULL logic.

>>> ev = Evaluator(["price", "ts"], "ts")
>>> price = MatchExpr("column", name="price", var="A")
>>> avg = ev.compile(MatchExpr("agg", (price,), name="avg", var="A"))
>>> avg([(0, "A", (12, 0)), (1, "A", (9, 1)), (2, "B", (8, 2))])
10
>>> ev.compile(MatchExpr("last", (price,), var="A", offset=1))([(0, "A", (12, 0)), (1, "A", (9, 1))])
12
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from decimal import Decimal, localcontext
from typing import Any

from planner.physical import MatchExpr
from runtime.decimal_context import EXACT

Step = tuple[int, str, tuple[Any, ...]]
Compiled = Callable[[Sequence[Step]], Any]

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "<>": operator.ne, ">": operator.gt, ">=": operator.ge,
    "<": operator.lt, "<=": operator.le,
}  # fmt: skip
_ARITH = {"+": "Add", "-": "Sub", "*": "Mul", "/": "Div", "%": "Mod"}


class Evaluator:
    """Compiles expressions over the input's ``columns`` (``time`` is the rowtime's)."""

    def __init__(self, columns: Sequence[str], time: str) -> None:
        self.index = {c: i for i, c in enumerate(columns)}
        self.time = self.index[time]

    def compile(self, e: MatchExpr) -> Compiled:
        """``e`` as a closure over a match's steps. DECIMAL values are Python Decimals, whose
        operators (``-v``, ``a + b``, SUM's additions) round to the current context: it is
        :data:`runtime.decimal_context.EXACT` while the closure runs, since the default keeps
        28 digits (and a 38-digit ``A.price - C.price`` lost its last ones)."""
        compiled = self._compile(e)

        def exact(s: Sequence[Step]) -> Any:
            with localcontext(EXACT):
                return compiled(s)

        return exact

    def _compile(self, e: MatchExpr) -> Compiled:
        op = e.op
        if op == "literal":
            value = _literal(e)
            return lambda s: value
        if op == "column":
            return self._column(e)
        if op in ("first", "last"):
            return self._navigate(e)
        if op == "agg":
            return self._aggregate(e)
        if op == "rowtime":
            t = self.time
            return lambda s: s[-1][2][t]
        args = [self._compile(a) for a in e.args]
        if op == "neg":
            return lambda s: None if (v := args[0](s)) is None else -v
        if op == "not":
            return lambda s: None if (v := args[0](s)) is None else not v
        if op == "is_null":
            return lambda s: args[0](s) is None
        if op in ("and", "or"):
            return _logic(op == "and", args[0], args[1])
        if op == "between":
            this, low, high = args
            return _logic(
                True,
                lambda s: _cmp(operator.ge, this(s), low(s)),
                lambda s: _cmp(operator.le, this(s), high(s)),
            )
        left, right = args
        if op == "arith":
            name = _ARITH[e.name]
            return lambda s: arithmetic(name, left(s), right(s))
        cmp = _COMPARE[e.name]
        return lambda s: _cmp(cmp, left(s), right(s))

    def _column(self, e: MatchExpr) -> Compiled:
        i, var = self.index[e.name], e.var

        def column(s: Sequence[Step]) -> Any:
            for step in reversed(s):
                if var is None or step[1] == var:
                    return step[2][i]
            return None

        return column

    def _navigate(self, e: MatchExpr) -> Compiled:
        var, value, n, first = e.var, self._compile(e.args[0]), e.offset, e.op == "first"

        def navigate(s: Sequence[Step]) -> Any:
            rows = s if var is None else [step for step in s if step[1] == var]
            k = n if first else len(rows) - 1 - n
            return value([rows[k]]) if 0 <= k < len(rows) else None

        return navigate

    def _aggregate(self, e: MatchExpr) -> Compiled:
        var, kind = e.var, e.name
        value = self._compile(e.args[0]) if e.args else None

        def aggregate(s: Sequence[Step]) -> Any:
            rows = s if var is None else [step for step in s if step[1] == var]
            if value is None:
                return len(rows)
            values = [v for v in (value([r]) for r in rows) if v is not None]
            if kind == "count":
                return len(values)
            if not values:
                return None
            if kind == "min":
                return min(values)
            if kind == "max":
                return max(values)
            total = sum(values[1:], values[0])
            return total if kind == "sum" else arithmetic("Div", total, len(values))

        return aggregate


def _literal(e: MatchExpr) -> Any:
    if e.name == "null" or e.value is None:
        return None
    if e.name == "int":
        return int(e.value)
    if e.name == "decimal":
        return Decimal(e.value)
    if e.name == "bool":
        return e.value == "true"
    return e.value


def _cmp(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    return None if a is None or b is None else op(a, b)


def _logic(conjunction: bool, left: Compiled, right: Compiled) -> Compiled:
    """SQL's three-valued AND / OR."""

    def logic(s: Sequence[Step]) -> Any:
        a = left(s)
        if a is not None and bool(a) != conjunction:
            return a  # FALSE AND .., TRUE OR ..
        b = right(s)
        if b is not None and bool(b) != conjunction:
            return b
        return None if a is None or b is None else conjunction

    return logic


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """``a op b`` as Flink computes it: NULL in, NULL out; integers stay integers
    (division truncates toward zero); a DOUBLE operand makes a DOUBLE; a DECIMAL with more
    than 38 digits before the point is NULL (it fits no DECIMAL type: Flink's overflows).

    >>> arithmetic("Div", -7, 2), arithmetic("Div", 7.0, 2), arithmetic("Mod", -7, 2)
    (-3, 3.5, -1)
    >>> arithmetic("Add", Decimal("9" * 38), Decimal(1)) is None
    True
    """
    if a is None or b is None:
        return None
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
    elif isinstance(a, Decimal) or isinstance(b, Decimal):
        value = _arithmetic(op, a, b)
        return value if value.copy_abs() < _PAST_ANY_DECIMAL else None  # abs() would round
    return _arithmetic(op, a, b)


_PAST_ANY_DECIMAL = Decimal("1e38")  # DECIMAL(38, 0)'s bound, the largest of any type


def _arithmetic(op: str, a: Any, b: Any) -> Any:
    if op == "Add":
        return a + b
    if op == "Sub":
        return a - b
    if op == "Mul":
        return a * b
    if isinstance(a, int) and isinstance(b, int):
        if b == 0:
            raise ZeroDivisionError("division by zero in MATCH_RECOGNIZE")
        quotient = abs(a) // abs(b)
        quotient = quotient if (a >= 0) == (b > 0) else -quotient
        return quotient if op == "Div" else a - b * quotient
    if op == "Div":
        return a / b
    return a - b * int(a / b)
