"""Drop a Calc that passes its input through unchanged (``SELECT * FROM t``), so no
DuckDB query runs for it at all."""

from __future__ import annotations

from sqlglot import exp

from planner.logical import Calc, LogicalNode
from planner.rules.rewrite import transform_up


def remove_identity_calc(root: LogicalNode) -> LogicalNode:
    def rule(node: LogicalNode) -> LogicalNode:
        if not isinstance(node, Calc) or node.condition is not None:
            return node
        inputs = node.input.fields
        if len(node.projections) != len(inputs):
            return node
        for (name, e), f, out in zip(node.projections, inputs, node.fields):
            if not (isinstance(e, exp.Column) and e.name == f.name and name == f.name):
                return node
            if out != f:
                return node
        return node.input

    return transform_up(root, rule)
