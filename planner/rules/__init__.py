"""Rewrite rules over the logical plan, one small module each, applied in this order.

A rule takes the plan's root and returns a new root; it must keep the output schema.
``apply_rules`` checks that and names a failing rule in the error, never skipping it.
EXPLAIN lists the rules that changed the plan.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.errors import PlanError
from planner.logical import LogicalNode
from planner.rules.merge_calcs import merge_calcs
from planner.rules.push_filters_into_joins import push_filters_into_joins
from planner.rules.push_python_calls_below_joins import push_python_calls_below_joins
from planner.rules.remove_identity_calc import remove_identity_calc

Rule = Callable[[LogicalNode], LogicalNode]

RULES: tuple[tuple[str, Rule], ...] = (
    ("push_filters_into_joins", push_filters_into_joins),
    ("push_python_calls_below_joins", push_python_calls_below_joins),
    ("merge_calcs", merge_calcs),
    ("remove_identity_calc", remove_identity_calc),
)


def apply_rules(root: LogicalNode) -> tuple[LogicalNode, tuple[str, ...]]:
    """Run every rule in order; return the new root and the names of rules that changed it."""
    applied: list[str] = []
    for name, rule in RULES:
        try:
            new_root = rule(root)
        except PlanError as e:
            raise PlanError(f"rule {name} failed: {e.message}", hint=e.hint) from None
        if [(f.name, f.type) for f in new_root.fields] != [(f.name, f.type) for f in root.fields]:
            raise PlanError(f"rule {name} changed the output schema of the plan (a planner bug)")
        if new_root != root:
            applied.append(name)
        root = new_root
    return root, tuple(applied)
