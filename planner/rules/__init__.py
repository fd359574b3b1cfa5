"""Rewrite rules over the logical plan, one small module each, applied in this order.

A rule takes the plan's root and returns a new root; it must keep the output schema.
A plan rule takes every root of a statement (the INSERTs of a statement set share their
scans) and returns them rewritten, after the rules. ``apply_rules`` checks that and
names a failing rule in the error, never skipping it. EXPLAIN lists the rules that
changed the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from planner.errors import PlanError
from planner.logical import LogicalNode
from planner.rules.drop_unread_watermarks import drop_unread_watermarks
from planner.rules.merge_calcs import merge_calcs
from planner.rules.push_filters_into_joins import push_filters_into_joins
from planner.rules.push_projection_into_scan import push_projection_into_scan
from planner.rules.push_python_calls_below_joins import push_python_calls_below_joins
from planner.rules.remove_identity_calc import remove_identity_calc

Rule = Callable[[LogicalNode], LogicalNode]
PlanRule = Callable[[Sequence[LogicalNode]], list[LogicalNode]]

RULES: tuple[tuple[str, Rule], ...] = (
    ("push_filters_into_joins", push_filters_into_joins),
    ("push_python_calls_below_joins", push_python_calls_below_joins),
    ("merge_calcs", merge_calcs),
    ("remove_identity_calc", remove_identity_calc),
)
PLAN_RULES: tuple[tuple[str, PlanRule], ...] = (
    ("drop_unread_watermarks", drop_unread_watermarks),  # first: the scan need not read the rowtime
    ("push_projection_into_scan", push_projection_into_scan),
)


def apply_rules(roots: Sequence[LogicalNode]) -> tuple[list[LogicalNode], tuple[str, ...]]:
    """Run every rule in order on each root, then every plan rule on all of them; return
    the new roots and the names of the rules that changed one."""
    applied: list[str] = []
    out = list(roots)
    for name, rule in RULES:
        out = _checked(name, _each(rule), out, applied)
    for name, plan_rule in PLAN_RULES:
        out = _checked(name, plan_rule, out, applied)
    return out, tuple(applied)


def _each(rule: Rule) -> PlanRule:
    def run(roots: Sequence[LogicalNode]) -> list[LogicalNode]:
        return [rule(root) for root in roots]

    return run


def _checked(name: str, rule: PlanRule, roots: list[LogicalNode], applied: list[str]) -> list[LogicalNode]:
    try:
        new_roots = rule(roots)
    except PlanError as e:
        raise PlanError(f"rule {name} failed: {e.message}", hint=e.hint) from None
    for new_root, root in zip(new_roots, roots, strict=True):
        if [(f.name, f.type) for f in new_root.fields] != [(f.name, f.type) for f in root.fields]:
            raise PlanError(f"rule {name} changed the output schema of the plan (a planner bug)")
        if new_root != root and name not in applied:
            applied.append(name)
    return new_roots
