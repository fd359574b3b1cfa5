"""Which operators' state a savepoint (or checkpoint) gives a changed query, before it runs:
``sqlstream explain FILE.sql --from-savepoint PATH``.

A restore matches state to operators by node id and the node's fingerprint (its kind,
inputs and, for a stateful one, its keys, aggregates and window: see
``runtime.checkpoint.control.node_fingerprint``). So for every operator of the new plan
that keeps state, its state either *carries over* (same id, same fingerprint), is
*incompatible* (the savepoint has state for that id, written by a different operator:
restoring needs ``execution.savepoint.ignore-unclaimed-state`` and the operator starts
empty), or is *new* (nothing to restore: starts empty); state of the savepoint that no
operator of the new plan claims is *dropped*. Sources resume from their positions and
sinks commit their pending transactions under the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from catalog.config import IGNORE_UNCLAIMED_STATE
from planner.physical import PhysicalPlan, SinkSpec, SourceSpec
from runtime.checkpoint.control import node_fingerprint, plan_fingerprint, row_state_changes, saved_plan
from runtime.checkpoint.storage import load


@dataclass(frozen=True)
class Carry:
    node_id: int
    name: str
    verdict: str  # "carries over" | "incompatible" | "new, starts empty" | "dropped"
    detail: str = ""


def compatibility(plan: PhysicalPlan, path: str | Path) -> tuple[list[Carry], bool]:
    """Per operator with state (in the plan or the savepoint), what a restore does; and
    whether the whole plan matches (then it restores without any option)."""
    meta, _ = load(path)
    saved: dict[str, str] = {}  # node id -> what kind of state the savepoint has for it
    sections = ((meta.operators, "state"), (meta.sources, "positions"), (meta.sinks, "transactions"))
    for section, what in sections:
        for node_id, subtasks in section.items():
            if any(subtasks.values()):
                saved[node_id] = what
    out: list[Carry] = []
    claimed: set[str] = set()
    old_plan = saved_plan(meta)
    changed = row_state_changes(old_plan, plan)
    for node in plan.nodes:
        key = str(node.id)
        keeps = node.stateful or isinstance(node.spec, SourceSpec | SinkSpec)
        if not keeps:
            continue
        mine = node_fingerprint(node)
        if key not in saved:
            out.append(Carry(node.id, node.name, "new, starts empty"))
        elif node.id in changed:
            claimed.add(key)
            detail = f"{changed[node.id]}; with '{IGNORE_UNCLAIMED_STATE.name}' = 'true' it starts empty"
            out.append(Carry(node.id, node.name, "incompatible", detail))
        elif meta.nodes.get(key) == mine:
            claimed.add(key)
            out.append(Carry(node.id, node.name, "carries over", saved[key]))
        else:
            claimed.add(key)
            out.append(Carry(node.id, node.name, "incompatible",
                             f"the savepoint's {saved[key]} for it came from a different operator; "
                             f"with '{IGNORE_UNCLAIMED_STATE.name}' = 'true' it starts empty"))  # fmt: skip
    old = {str(n.id): n.name for n in old_plan.nodes} if old_plan else {}
    for key, what in sorted(saved.items(), key=lambda kv: int(kv[0])):
        if key not in claimed:
            name = old.get(key, "an operator")
            out.append(Carry(int(key), name, "dropped", f"its {what}: no operator of this query claims it"))
    return out, meta.plan_fingerprint == plan_fingerprint(plan) and not changed


def compatibility_text(plan: PhysicalPlan, path: str | Path) -> str:
    """The ``== State Compatibility ==`` section of EXPLAIN."""
    carries, same = compatibility(plan, path)
    lines = ["== State Compatibility ==", f"from {Path(path)}:"]
    lines.append(
        "the same query: everything carries over" if same else
        f"a changed query: restoring needs SET '{IGNORE_UNCLAIMED_STATE.name}' = 'true'"
    )  # fmt: skip
    for c in carries:
        lines.append(f"{c.name}#{c.node_id}: {c.verdict}" + (f" ({c.detail})" if c.detail else ""))
    return "\n".join(lines) + "\n"
