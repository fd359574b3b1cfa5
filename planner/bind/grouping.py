"""GROUPING SETS, ROLLUP and CUBE, and the GROUPING()/GROUPING_ID() functions, planned as
Flink plans them: an Expand below the aggregation sends each input row once per grouping
set, with the keys that set leaves out as NULL and the set's number in a column ``$e``;
the aggregation groups by the keys and ``$e``, so each set's groups stay apart even when
their keys are NULL alike.

Flink numbers a set by a bit mask of its missing keys; we number the sets in order, so
that a set written twice gives its groups twice, as the SQL standard (and DuckDB) does.
GROUPING(a, b) is then a constant per set, chosen by ``$e``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlglot import exp

from catalog.types import BIGINT
from planner.bind.scope import _err, _ref
from planner.errors import PlanError
from planner.logical import BoundField, Expand, LogicalNode
from planner.typecheck import make_cast

EXPAND_ID = "$e"
GROUPING_FUNCTIONS = (exp.Grouping, exp.GroupingId)
_CONSTRUCTS = (exp.GroupingSets, exp.Rollup, exp.Cube)


@dataclass(frozen=True)
class GroupingSets:
    """The GROUP BY of a query: its distinct key expressions, and each grouping set as the
    indexes of the keys it groups by (None for a plain GROUP BY: one set of every key)."""

    keys: list[exp.Expr]
    sets: list[frozenset[int]] | None


def has_grouping_sets(group: exp.Group | None) -> bool:
    """Whether the GROUP BY is more than a list of keys: grouping sets, or parentheses
    (``GROUP BY ()``, the global aggregate; ``GROUP BY (a, b)``, the keys a and b)."""
    return group is not None and any(isinstance(g, (*_CONSTRUCTS, exp.Tuple)) for g in group.expressions)


def expand_group_by(items: list[exp.Expr]) -> list[list[exp.Expr]]:
    """The grouping sets a GROUP BY list means: the cross product of its items' sets
    (``GROUP BY a, ROLLUP (b, c)`` is ``(a, b, c), (a, b), (a)``), each set as written
    (unbound expressions, in order, possibly repeated)."""
    choices = [_sets_of(item) for item in items]
    return [[e for part in combo for e in part] for combo in itertools.product(*choices)]


def _sets_of(item: exp.Expr) -> list[list[exp.Expr]]:
    if isinstance(item, exp.GroupingSets):
        return [s for element in item.expressions for s in _sets_of(element)]
    if isinstance(item, exp.Rollup):
        parts = [_columns_of(e) for e in item.expressions]
        return [[e for p in parts[:n] for e in p] for n in range(len(parts), -1, -1)]
    if isinstance(item, exp.Cube):
        parts = [_columns_of(e) for e in item.expressions]
        subsets = itertools.product((True, False), repeat=len(parts))
        return [[e for keep, p in zip(mask, parts) if keep for e in p] for mask in subsets]
    return [_columns_of(item)]


def _columns_of(element: exp.Expr) -> list[exp.Expr]:
    if isinstance(element, exp.Tuple):
        return list(element.expressions)
    if isinstance(element, exp.Paren):
        return _columns_of(element.this)
    if isinstance(element, _CONSTRUCTS):
        raise _err(PlanError(f"{element.key.upper()} inside a ROLLUP or CUBE element"), element)
    return [element]


def expand(
    source: LogicalNode,
    keys: list[str],
    sets: list[frozenset[int]],
    keep: set[str],
) -> tuple[Expand, list[str], dict[str, str]]:
    """The Expand below the aggregation of ``sets`` over ``keys`` (fields of ``source``).

    A key in every set keeps its name and values. The others are NULL in the rows of the
    sets that leave them out; where an aggregate's argument or filter, or the window's time
    column (``keep``), needs such a column's own values, the Expand also passes them on
    under a new name (``a_0``), as Flink's does. Returns the Expand, the aggregation's keys
    (ending with ``$e``) and the renames for the aggregates' expressions."""
    common = set.intersection(*(set(s) for s in sets))
    nulled = {keys[i] for i in range(len(keys)) if i not in common}
    taken = {f.name for f in source.fields} | {EXPAND_ID}
    renames: dict[str, str] = {}
    for name in sorted(nulled & keep):
        n = 0
        while f"{name}_{n}" in taken:
            n += 1
        renames[name] = f"{name}_{n}"
        taken.add(renames[name])
    expand_id = BoundField(EXPAND_ID, BIGINT.with_nullable(False))
    fields = (
        *(BoundField(f.name, f.type.with_nullable(True)) if f.name in nulled else f for f in source.fields),
        expand_id,
        *(BoundField(new, source.field_type(old)) for old, new in renames.items()),
    )
    lists = []
    for number, members in enumerate(sets):
        present = {keys[i] for i in members}
        row: list[tuple[str, exp.Expr]] = []
        for f in source.fields:
            if f.name in nulled and f.name not in present:
                row.append((f.name, make_cast(exp.null(), f.type.with_nullable(True))))
            else:
                row.append((f.name, _ref(f.name)))
        row.append((EXPAND_ID, make_cast(exp.Literal.number(number), expand_id.type)))
        row.extend((new, _ref(old)) for old, new in renames.items())
        lists.append(tuple(row))
    return Expand(fields, source, tuple(lists)), [*keys, EXPAND_ID], renames


def rename_columns(e: exp.Expr | None, renames: dict[str, str]) -> exp.Expr | None:
    if e is None or not renames:
        return e
    return e.copy().transform(
        lambda n: _ref(renames[n.name]) if isinstance(n, exp.Column) and n.name in renames else n
    )


def grouping_value(call: exp.Expr, key_index: dict[str, int], sets: list[frozenset[int]] | None) -> exp.Expr:
    """GROUPING(a, ...) / GROUPING_ID(a, ...): bit i (from the last argument up) is 1 when
    the row's grouping set leaves the i-th argument out; a BIGINT, as in Flink."""
    indexes = []
    for a in call.expressions:
        index = key_index.get(a.sql())
        if index is None:
            raise _err(
                PlanError(f"the argument of {call.key.upper()}, {a.sql()}, must be a GROUP BY expression"),
                a,
            )
        indexes.append(index)
    if not indexes:
        raise _err(PlanError(f"{call.key.upper()} needs at least one argument"), call)
    bigint = BIGINT.with_nullable(False)

    def value(members: frozenset[int]) -> exp.Expr:
        bits = 0
        for index in indexes:
            bits = (bits << 1) | (0 if index in members else 1)
        return make_cast(exp.Literal.number(bits), bigint)

    if sets is None:
        return value(frozenset(key_index.values()))
    return exp.Case(
        this=_ref(EXPAND_ID),
        ifs=[exp.If(this=exp.Literal.number(n), true=value(members)) for n, members in enumerate(sets)],
    )
