"""Whether a plan replays deterministically: restored from a checkpoint, does it emit the
same rows again as the first time?

An exactly-once sink that commits at the barrier instead of preparing (PostgreSQL's epoch
mode) writes each epoch's rows for good before the checkpoint completes; after a crash
the replay of what it already committed must be recognised and dropped, which is exact
only when the replay produces the same rows. That fails when a row depends on the wall
clock (``PROCTIME()``, ``NOW()``, processing-time windows), on chance (``RAND()``,
``UUID()``), or on a table read as it is at the time (lookup joins, scans that do not
resume from a recorded position; the connector's spec says which, see
``ConnectorSpec.replay_nondeterminism``).

The analysis follows fields: a field is *tainted* when its expression calls such a
function or reads a tainted field; the plan is non-deterministic when a tainted field
reaches the sink, or decides which rows pass (a filter, a grouping key, an aggregate's
argument, a watermark), or when an operator itself depends on time or outside state.
A ``PROCTIME()`` column that is declared but never used does not count.

>>> from catalog.types import DataType
>>> from catalog.schema import Column, Schema
>>> from catalog.table import TableDef
>>> bigint = DataType("BIGINT")
>>> table = TableDef("t", Schema((Column("v", bigint),)), {"connector": "kafka"})
>>> scan = Scan((BoundField("v", bigint),), table)
>>> replay_nondeterminism(scan) is None
True
>>> now = Calc((BoundField("at", bigint),), scan, (("at", exp.Anonymous(this="NOW")),))
>>> replay_nondeterminism(now)
"column 'at' is computed with NOW(), which reads the clock"
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from catalog.connectors import connector_spec
from catalog.schema import ColumnKind
from planner.logical import (
    Aggregate,
    BoundField,
    Calc,
    Collect,
    Correlate,
    Expand,
    Join,
    LogicalNode,
    LookupJoin,
    Scan,
    Sink,
    Union,
    WatermarkAssigner,
    WindowAssign,
)
from planner.typecheck import function_name
from planner.udf import user_function

# Flink's non-deterministic functions (Calcite's "dynamic" and random ones), by what they read.
_CLOCK = frozenset({
    "NOW", "CURRENT_TIMESTAMP", "LOCALTIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "LOCALTIME",
    "PROCTIME", "CURRENT_ROW_TIMESTAMP", "CURRENT_WATERMARK",
})  # fmt: skip
_CHANCE = frozenset({"RAND", "RAND_INTEGER", "UUID"})


def nondeterministic_call(expr: exp.Expr | None) -> str | None:
    """The first call in ``expr`` whose value differs between a run and its replay.

    >>> import sqlglot
    >>> from planner.dialect import Flink
    >>> nondeterministic_call(sqlglot.parse_one("SELECT v + RAND()", read=Flink).expressions[0])
    'RAND(), which is random'
    >>> nondeterministic_call(sqlglot.parse_one("SELECT UPPER(s)", read=Flink).expressions[0]) is None
    True
    """
    if expr is None:
        return None
    for node in expr.walk():
        if isinstance(node, exp.StrToUnix) and node.this is None:
            return "UNIX_TIMESTAMP(), which reads the clock"
        if not isinstance(node, exp.Func | exp.Column):
            continue
        called = user_function(node)
        if called is not None and not called.deterministic:
            return f"{called.name}(), a user function declared deterministic=False"
        name = node.name.upper() if isinstance(node, exp.Column) else function_name(node)
        if isinstance(node, exp.Column) and name not in ("CURRENT_TIME", "LOCALTIME"):
            continue  # CURRENT_TIME parses as a column; any other column is a field
        if name in _CLOCK:
            return f"{name}(), which reads the clock"
        if name in _CHANCE:
            return f"{name}(), which is random"
    return None


def _columns(expr: exp.Expr | None) -> set[str]:
    if expr is None:
        return set()
    return {c.name for c in expr.find_all(exp.Column)}


def _uses_tainted(exprs: Iterable[exp.Expr | None], tainted: dict[str, str]) -> str | None:
    for e in exprs:
        why = nondeterministic_call(e)
        if why:
            return f"it calls {why}"
        for name in sorted(_columns(e)):
            if name in tainted:
                return f"it reads column '{name}' ({tainted[name]})"
    return None


class _Analysis:
    def __init__(self) -> None:
        self.reason: str | None = None  # the first plan-wide reason found

    def fail(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def walk(self, node: LogicalNode) -> dict[str, str]:
        """Tainted output fields of ``node`` -> why."""
        if isinstance(node, Scan):
            spec = connector_spec(node.table.connector)
            if spec.replay_nondeterminism is not None:
                columns = [
                    (c.name, c.type.sql()) for c in node.table.schema.columns if c.kind == ColumnKind.PHYSICAL
                ]
                why = spec.replay_nondeterminism(node.table.options, columns)
                if why:
                    self.fail(f"source '{node.table.name}': {why}")
            return _proctime_fields(node.fields)
        if isinstance(node, Calc):
            inner = self.walk(node.input)
            why = _uses_tainted([node.condition], inner)
            if why:
                self.fail(f"the WHERE condition depends on the time of processing: {why}")
            out: dict[str, str] = {}
            for name, e in node.projections:
                call = nondeterministic_call(e)
                if call:
                    out[name] = f"computed with {call}"
                    continue
                used = [c for c in sorted(_columns(e)) if c in inner]
                if used:
                    out[name] = inner[used[0]]
            return out
        if isinstance(node, Expand):  # the grouping sets' copies of each row
            inner = self.walk(node.input)
            return {
                name: inner[used[0]]
                for row in node.projections
                for name, e in row
                if (used := [c for c in sorted(_columns(e)) if c in inner])
            }
        if isinstance(node, WatermarkAssigner):
            inner = self.walk(node.input)
            why = _uses_tainted([node.expr], inner)
            if why:
                self.fail(f"the watermark of '{node.rowtime}' is not replayable: {why}")
            return inner
        if isinstance(node, WindowAssign):
            inner = self.walk(node.input)
            if node.window.proctime:
                self.fail(f"a processing-time {node.window.type.upper()} window assigns rows by the clock")
            return inner
        if isinstance(node, Aggregate):
            inner = self.walk(node.input)
            if node.window is not None and node.window.proctime:
                self.fail(f"a processing-time {node.window.type.upper()} window fires by the clock")
            for a in node.aggs:
                if a.function is not None and not a.function.deterministic:
                    self.fail(f"the aggregate function {a.function.name}() is declared deterministic=False")
            why = _uses_tainted(
                [exp.column(k) for k in node.keys]
                + [e for a in node.aggs for e in (a.arg, a.filter, *a.args)],
                inner,
            )
            if why:
                self.fail(f"the aggregation's keys or arguments are not replayable: {why}")
            return {}
        if isinstance(node, LookupJoin):
            inner = self.walk(node.input)
            self.fail(f"the lookup join reads table '{node.table.name}' as it is at the time of each lookup")
            return inner
        if isinstance(node, Join):
            # Aligned barriers cut each input at the same rows on a replay, so the pairs a
            # join emits in an epoch are the same: only tainted fields spoil it.
            left, right = self.walk(node.left), self.walk(node.right)
            names = [f.name for f in (*node.left.fields, *node.right.fields)]
            sides = [left] * len(node.left.fields) + [right] * len(node.right.fields)
            why = _uses_tainted([exp.column(k) for k, _ in node.keys], left) or _uses_tainted(
                [exp.column(k) for _, k in node.keys], right
            )
            out = {f.name: side[n] for f, n, side in zip(node.fields, names, sides, strict=True) if n in side}
            why = why or _uses_tainted([node.residual], out)
            if why:
                self.fail(f"the join's condition is not replayable: {why}")
            return out
        if isinstance(node, Correlate):
            inner = self.walk(node.input)
            if node.function is not None and not node.function.deterministic:
                self.fail(f"the table function {node.function.name}() is declared deterministic=False")
            why = _uses_tainted(node.args, inner)
            if why:
                self.fail(f"the table function's arguments are not replayable: {why}")
            return inner
        if isinstance(node, Union):
            out = {}
            for child in node.children:
                out.update(self.walk(child))
            return out
        if isinstance(node, Sink | Collect):
            return self.walk(node.input)
        for child in node.inputs:  # a node kind added later: only its inputs are known
            self.walk(child)
        return {}


def _proctime_fields(fields: tuple[BoundField, ...]) -> dict[str, str]:
    return {f.name: "a PROCTIME() attribute" for f in fields if f.time_attribute == "proctime"}


def replay_nondeterminism(node: LogicalNode) -> str | None:
    """Why ``node``'s output may differ between a run and its replay from a checkpoint,
    or None when it replays the same rows (see the module docstring)."""
    analysis = _Analysis()
    tainted = analysis.walk(node)
    if analysis.reason is None:
        for f in node.fields:
            if f.name in tainted:
                return f"column '{f.name}' is {tainted[f.name]}"
    return analysis.reason
