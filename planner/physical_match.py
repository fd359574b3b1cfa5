"""Physical planning of ``MATCH_RECOGNIZE`` (``planner.logical.Match``): one keyed
operator, hashed by the partition keys (one subtask without them, as Flink), named as
Flink's EXPLAIN names it: ``Match(partitionBy=[..], orderBy=[..], measures=[..], ...)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from catalog.connectors import ChangelogMode
from planner.dialect import Flink
from planner.errors import UnsupportedError
from planner.logical import Match
from planner.match_pattern import skip_text
from planner.physical import MatchSpec, Node, SortKey

if TYPE_CHECKING:
    from planner.physical_planner import PhysicalPlanner


def plan_match(planner: PhysicalPlanner, node: Match) -> Node:
    child = planner._translate(node.input)
    if child.changelog != ChangelogMode.INSERT_ONLY:
        raise UnsupportedError(
            "Match Recognize doesn't support consuming update and delete changes which is produced "
            f"by {planner._updating_producer(child)}",
            hint="MATCH_RECOGNIZE reads an append-only input",
        )
    spec = MatchSpec(
        node.partition_keys,
        node.time_field,
        tuple(SortKey(name, not desc, nulls_first=not desc) for name, desc in node.order),
        tuple((name, e.sql(dialect=Flink)) for name, e in node.measures),
        node.pattern,
        tuple((var, e.sql(dialect=Flink)) for var, e in node.defines),
        node.skip,
        node.skip_var,
        node.within_ms,
    )
    p = planner.default_parallelism if spec.partition_keys else 1
    edge = planner._edge(child, p, spec.partition_keys)
    return planner._add(match_name(spec), spec, (edge,), node.fields, p, ChangelogMode.INSERT_ONLY)


def match_name(spec: MatchSpec) -> str:
    """Flink's node text for the operator (its variables and functions as written)."""
    order = [f"{spec.time_column} ASC", *(f"{k.column} {'ASC' if k.ascending else 'DESC'}" for k in spec.order)]
    parts = [
        f"partitionBy=[{', '.join(spec.partition_keys)}]",
        f"orderBy=[{', '.join(order)}]",
        f"measures=[{', '.join(f'FINAL({e}) AS {name}' for name, e in spec.measures)}]",
        "rowsPerMatch=[ONE ROW PER MATCH]",
        f"after=[{skip_text(spec.skip, spec.skip_var)}]",
        f"pattern=[{' '.join(e.text() for e in spec.pattern)}]",
    ]
    if spec.within_ms is not None:
        parts.append(f"within=[{spec.within_ms}ms]")
    parts.append(f"define=[{', '.join(f'{var}=[{e}]' for var, e in spec.defines)}]")
    return f"Match({', '.join(parts)})"
