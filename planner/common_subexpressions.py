"""A Calc's expressions that it would compute more than once per row, computed once: Flink's
code generator reuses a deterministic call's result within a Calc ("reusable expressions");
DuckDB shares common subexpressions only among expressions it always evaluates, so neither
between a query's WHERE and its SELECT list nor into a CASE branch. Nexmark q21 extracts
the same REGEXP_EXTRACT in both and paid for the regex twice.

Only a costly call (a regex, JSON, text parsed or split: see ``_worth_sharing``) is shared,
and only one that Flink evaluates for *every* row anyway is taken out: one that the
condition (or, without a condition, a projection) reaches outside any branch that may be
skipped (CASE's later WHEN and its THEN/ELSE values, IF's values, COALESCE's later arguments,
the right side of AND/OR, and so of BETWEEN's upper bound and an IN list's later items, which
Calcite expands into AND and OR). Computing it up front then neither adds work nor raises an error
(a division by zero) on a row where Flink's evaluation would not. The exception: Java's case
mappings (LOWER, UPPER, INITCAP of columns), which raise no error on any text, are shared
wherever they occur twice; computing one for a row Flink would skip costs only that call.
Calls of Python functions and of functions whose value changes between calls (RAND, NOW)
stay where they are, and so does anything inside a lambda (its parameter is not a column).

>>> import sqlglot
>>> from catalog.types import DataType
>>> from planner.dialect import Flink
>>> q = sqlglot.parse_one("SELECT CASE WHEN c = 'a' THEN '0' ELSE REGEXP_EXTRACT(u, 'x=(.*)', 1) END "
...                       "FROM t WHERE REGEXP_EXTRACT(u, 'x=(.*)', 1) IS NOT NULL OR c = 'a'", read=Flink)
>>> found = shared((("id", q.expressions[0]),), q.args["where"].this, lambda name: DataType("STRING"))
>>> [(n, e.sql(dialect=Flink)) for n, e, _ in found.common]
[('__common0', "REGEXP_EXTRACT(u, 'x=(.*)', 1)")]
>>> found.projections[0][1].sql(dialect=Flink), found.condition.sql(dialect=Flink)
("CASE WHEN c = 'a' THEN '0' ELSE `__common0` END", "NOT `__common0` IS NULL OR c = 'a'")
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlglot import exp

from catalog.errors import SqlStreamError
from catalog.types import DataType
from planner.determinism import nondeterministic_call
from planner.typecheck import Lookup, function_name, infer
from planner.udf import user_function

# Calls whose per-row cost is far above a column's copy: regular expressions, JSON, text
# split or parsed, times parsed or formatted, hashes and encodings
_COSTLY_PREFIXES = ("REGEXP", "JSON", "SPLIT", "PARSE_", "TO_TIMESTAMP", "SHA", "URL_", "IS_JSON")
_COSTLY = frozenset({
    "STR_TO_MAP", "DATE_FORMAT", "TO_DATE", "UNIX_TIMESTAMP", "FROM_UNIXTIME", "CONVERT_TZ",
    "MD5", "TO_BASE64", "FROM_BASE64", "ENCODE", "DECODE", *("LOWER", "UPPER", "INITCAP"),
})  # fmt: skip
# Java's case mappings differ from DuckDB's on a few characters, so each is a CASE over the
# text with a regular expression (planner.scalars), compiled whenever the statement binds:
# q21's five LOWER(channel) cost more than the CTE that computes one (benchmarks/README.md,
# 2026-12-05, "q21's Calc"). They fail on no text: see _infallible.
_INFALLIBLE = frozenset({"LOWER", "UPPER", "INITCAP"})

PREFIX = "__common"
"""The name of a shared expression's column: ``__common0``, ``__common1``, ... (a name the
input already has is skipped)."""


@dataclass(frozen=True)
class Shared:
    """The Calc's expressions with each shared one replaced by a column of its name."""

    common: tuple[tuple[str, exp.Expr, DataType], ...]  # (column name, expression, its type)
    projections: tuple[tuple[str, exp.Expr], ...]
    condition: exp.Expr | None

    def lookup(self, lookup: Lookup) -> Lookup:
        """``lookup`` that also knows the shared expressions' columns."""
        types = {name: t for name, _, t in self.common}
        return lambda name: types[name] if name in types else lookup(name)


def shared(
    projections: tuple[tuple[str, exp.Expr], ...],
    condition: exp.Expr | None,
    lookup: Lookup,
    inputs: Iterable[str] = (),
) -> Shared:
    """The expressions of ``SELECT projections WHERE condition`` evaluated for every row
    that occur more than once (largest first), each replaced by a column. ``inputs`` are
    the input's column names: a shared column never takes one, read or not (the Calc
    selects every input column beside it, and DuckDB would silently pick one of the two)."""
    exprs = [e for _, e in projections] + ([condition] if condition is not None else [])
    every_row = [condition] if condition is not None else [e for _, e in projections]
    counts = Counter(node for e in exprs for node in _occurrences(e))
    unconditional = {n for e in every_row for n in _unconditional(e) if counts[n] > 1 and _worth_sharing(n)}
    anywhere = {n for n, k in counts.items() if k > 1 and _infallible(n) and _worth_sharing(n)}
    candidates = sorted(unconditional | anywhere, key=lambda n: -sum(1 for _ in n.walk()))
    common: list[tuple[str, exp.Expr, DataType]] = []
    projections = tuple((name, e.copy()) for name, e in projections)
    condition = condition.copy() if condition is not None else None
    taken = {*inputs, *(c.name for e in exprs for c in e.find_all(exp.Column))}
    for candidate in candidates:
        current = [e for _, e in projections] + ([condition] if condition is not None else [])
        if sum(1 for e in current for n in _occurrences(e) if n == candidate) < 2:
            continue  # its occurrences were inside a larger shared expression
        try:
            typ = infer(candidate, lookup)
        except SqlStreamError:
            continue
        name = _free_name(taken, len(common))
        taken.add(name)
        common.append((name, candidate.copy(), typ))
        projections = tuple((n, _replaced(e, candidate, name)) for n, e in projections)
        condition = _replaced(condition, candidate, name) if condition is not None else None
    return Shared(tuple(common), projections, condition)


def _free_name(taken: set[str], index: int) -> str:
    while f"{PREFIX}{index}" in taken:
        index += 1
    return f"{PREFIX}{index}"


def _replaced(expr: exp.Expr, target: exp.Expr, name: str) -> exp.Expr:
    """``expr`` with every occurrence of ``target`` (outside lambdas) a column ``name``."""
    if expr == target:
        return exp.column(name, quoted=True)
    for node in list(_occurrences(expr)):
        if node is not expr and node == target:
            node.replace(exp.column(name, quoted=True))
    return expr


def _occurrences(expr: exp.Expr) -> Iterator[exp.Expr]:
    """Every node of ``expr``, parents first, except inside lambdas."""
    yield expr
    for child in expr.iter_expressions():
        if not isinstance(child, exp.Lambda):
            yield from _occurrences(child)


def _unconditional(expr: exp.Expr) -> Iterator[exp.Expr]:
    """The nodes of ``expr`` that Flink evaluates whenever it evaluates ``expr``."""
    yield expr
    if isinstance(expr, exp.Lambda):
        return
    if isinstance(expr, exp.And | exp.Or | exp.Coalesce | exp.If):
        yield from _unconditional(expr.this)
        return
    if isinstance(expr, exp.Between):  # x >= low AND x <= high
        yield from _unconditional(expr.this)
        yield from _unconditional(expr.args["low"])
        return
    if isinstance(expr, exp.In) and expr.expressions:  # x = a OR x = b OR ...
        yield from _unconditional(expr.this)
        yield from _unconditional(expr.expressions[0])
        return
    if isinstance(expr, exp.Case):
        if expr.this is not None:
            yield from _unconditional(expr.this)
        ifs = expr.args.get("ifs") or []
        if ifs:
            yield from _unconditional(ifs[0].this)
        return
    for child in expr.iter_expressions():
        yield from _unconditional(child)


def _infallible(node: exp.Expr) -> bool:
    """A case mapping of columns and constants: no text makes it raise an error, so it
    may be computed for rows where Flink's evaluation would skip it."""
    return isinstance(node, exp.Func) and all(
        isinstance(n, exp.Column | exp.Identifier | exp.Literal | exp.Paren)
        or (isinstance(n, exp.Func) and function_name(n) in _INFALLIBLE)
        for n in node.walk()
    )


def _costly(name: str) -> bool:
    return name in _COSTLY or name.startswith(_COSTLY_PREFIXES)


def _worth_sharing(node: exp.Expr) -> bool:
    """A costly call over the row's columns, safe to compute once. The shared column costs
    a copy of the columns the query reads for every row, before the filter (a wide string
    column copied for a filter that keeps 1 row in 3000 cost 0.025 CPU s per million rows):
    more than LOWER or arithmetic computed twice, far less than a regex."""
    nodes = list(node.walk())
    if not any(isinstance(n, exp.Column) for n in nodes):
        return False
    if not any(isinstance(n, exp.Func) and _costly(function_name(n)) for n in nodes):
        return False
    if any(isinstance(n, exp.Lambda | exp.Subquery | exp.Window | exp.AggFunc | exp.Star) for n in nodes):
        return False
    if any(user_function(n) is not None for n in nodes):
        return False
    return nondeterministic_call(node) is None
