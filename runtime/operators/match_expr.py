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
>>> f = ev.compile("B.price < LAST(A.price) AND SUM(A.price) / COUNT(A.price) > 9")
>>> f([(0, "A", (12, 0)), (1, "A", (9, 1)), (2, "B", (8, 2))])
True
>>> ev.compile("AVG(A.price)")([(0, "A", (12, 0)), (1, "A", (9, 1))])
10
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlglot import exp

from planner.parse import parse_expression

Step = tuple[int, str, tuple[Any, ...]]
Compiled = Callable[[Sequence[Step]], Any]

_COMPARE: dict[type[exp.Expr], Callable[[Any, Any], Any]] = {
    exp.EQ: operator.eq, exp.NEQ: operator.ne, exp.GT: operator.gt, exp.GTE: operator.ge,
    exp.LT: operator.lt, exp.LTE: operator.le,
}  # fmt: skip


class Evaluator:
    """Compiles expressions over the input's ``columns`` (``time`` is the rowtime's)."""

    def __init__(self, columns: Sequence[str], time: str) -> None:
        self.index = {c: i for i, c in enumerate(columns)}
        self.time = self.index[time]

    def compile(self, text: str) -> Compiled:
        return self._c(parse_expression(text, navigation=True))

    def _c(self, e: exp.Expr) -> Compiled:  # noqa: C901 (one case a node kind)
        if isinstance(e, exp.Paren):
            return self._c(e.this)
        if isinstance(e, exp.Null):
            return lambda s: None
        if isinstance(e, exp.Boolean):
            flag = bool(e.this)
            return lambda s: flag
        if isinstance(e, exp.Literal):
            value: Any = e.this if e.is_string else int(e.this) if e.is_int else Decimal(e.this)
            return lambda s: value
        if isinstance(e, exp.Column):
            return self._column(e)
        if isinstance(e, exp.Anonymous):
            return self._call(e)
        if isinstance(e, exp.Sum | exp.Avg | exp.Count | exp.Min | exp.Max):
            return self._aggregate(e)
        if isinstance(e, exp.Neg):
            inner = self._c(e.this)
            return lambda s: None if (v := inner(s)) is None else -v
        if isinstance(e, exp.Not):
            inner = self._c(e.this)
            return lambda s: None if (v := inner(s)) is None else not v
        if isinstance(e, exp.And | exp.Or):
            return _logic(isinstance(e, exp.And), self._c(e.this), self._c(e.expression))
        if isinstance(e, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod):
            op = type(e).__name__
            left, right = self._c(e.this), self._c(e.expression)
            return lambda s: arithmetic(op, left(s), right(s))
        if type(e) in _COMPARE:
            cmp = _COMPARE[type(e)]
            left, right = self._c(e.this), self._c(e.expression)
            return lambda s: None if (a := left(s)) is None or (b := right(s)) is None else cmp(a, b)
        if isinstance(e, exp.Is):
            inner = self._c(e.this)
            return lambda s: inner(s) is None
        if isinstance(e, exp.Between):
            this, low, high = self._c(e.this), self._c(e.args["low"]), self._c(e.args["high"])
            ge = _logic(True, lambda s: _cmp(operator.ge, this(s), low(s)), lambda s: _cmp(operator.le, this(s), high(s)))
            return ge
        raise ValueError(f"MATCH_RECOGNIZE cannot evaluate {e.sql()}")  # the binder refused it

    def _column(self, e: exp.Column) -> Compiled:
        i, var = self.index[e.name], e.table or None

        def column(s: Sequence[Step]) -> Any:
            for step in reversed(s):
                if var is None or step[1] == var:
                    return step[2][i]
            return None

        return column

    def _call(self, e: exp.Anonymous) -> Compiled:
        name = e.name.upper()
        if name == "MATCH_ROWTIME":
            t = self.time
            return lambda s: s[-1][2][t]
        arg = e.expressions[0]
        n = int(e.expressions[1].name) if len(e.expressions) > 1 else 0
        var, value = _variable(arg), self._c(arg)
        first = name == "FIRST"

        def navigate(s: Sequence[Step]) -> Any:
            rows = [step for step in s if var is None or step[1] == var]
            k = n if first else len(rows) - 1 - n
            return value([rows[k]]) if 0 <= k < len(rows) else None

        return navigate

    def _aggregate(self, e: exp.Expr) -> Compiled:
        arg = e.this
        star = isinstance(arg, exp.Star)
        var = None if star else _variable(arg)
        value = None if star else self._c(arg)
        kind = type(e).__name__

        def aggregate(s: Sequence[Step]) -> Any:
            rows = [step for step in s if var is None or step[1] == var]
            if value is None:
                return len(rows)
            values = [v for v in (value([r]) for r in rows) if v is not None]
            if kind == "Count":
                return len(values)
            if not values:
                return None
            if kind == "Min":
                return min(values)
            if kind == "Max":
                return max(values)
            total = sum(values[1:], values[0])
            return total if kind == "Sum" else arithmetic("Div", total, len(values))

        return aggregate


def _variable(e: exp.Expr) -> str | None:
    """The one variable whose rows ``e`` reads (None: every row of the match)."""
    tables = {c.table for c in e.find_all(exp.Column) if c.table}
    return next(iter(tables)) if tables else None


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
    (division truncates toward zero); a DOUBLE operand makes a DOUBLE.

    >>> arithmetic("Div", -7, 2), arithmetic("Div", 7.0, 2), arithmetic("Mod", -7, 2)
    (-3, 3.5, -1)
    """
    if a is None or b is None:
        return None
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
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
