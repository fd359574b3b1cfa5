"""Which operators read an upsert stream correctly as it is.

An upsert stream (``ChangelogMode.UPSERT``: upsert-kafka, postgres-cdc with
'changelog-mode' = 'upsert') carries +I/+U rows that replace the row of their key without
a -U of it, and -D rows that carry only the key. An operator that takes it for a full
changelog counts a +U as one more row and cannot retract what a -D deletes: a wrong
answer, not an error. Flink normalizes such a stream first (ChangelogNormalize); the
operators here are those that need no normalization because they work by the key
themselves:

- a Calc that projects (no filter: an update from a matching row to one that does not
  match would leave the old row) and keeps the key columns as they are;
- a WatermarkAssigner (it keeps every column);
- a sink that writes by key (upsert-kafka, JDBC) whose PRIMARY KEY is that key, column for
  column: a +U overwrites the key's row and a -D deletes it by key;
- the versioned side of an event-time temporal join keyed by it: each row is the key's
  new version, a -D its deletion.
"""

from __future__ import annotations

from sqlglot import exp

from catalog.connectors import ChangelogMode, connector_spec, sink_changelogs
from planner.physical import (
    CalcSpec,
    CollectSpec,
    GroupAggregateSpec,
    Node,
    SinkSpec,
    TemporalJoinSpec,
    WatermarkSpec,
)


def passed_key(node: Node, index: int, source: Node, key: tuple[str, ...]) -> tuple[str, ...] | None:
    """The key of ``node``'s output when it reads the upsert stream ``source`` (keyed by
    ``key``) on its input ``index`` correctly; None when it does not."""
    spec = node.spec
    if isinstance(spec, WatermarkSpec):
        return key
    if isinstance(spec, CalcSpec):
        if spec.condition is not None:
            return None
        kept = {sql: name for name, sql in reversed(spec.projections)}
        names = [kept.get(_column(k)) for k in key]
        return tuple(n for n in names if n is not None) if None not in names else None
    if isinstance(spec, SinkSpec):
        accepted = sink_changelogs(connector_spec(spec.connector), spec.options)
        if ChangelogMode.UPSERT not in accepted or len(spec.columns) != len(source.schema):
            return None
        sink_names = [f.name for f in spec.columns]
        names = [f.name for f in source.schema]
        same = sorted(names.index(k) for k in key) == sorted(sink_names.index(k) for k in spec.primary_key)
        return key if spec.primary_key and same else None
    if isinstance(spec, TemporalJoinSpec) and index == 1:
        return key if set(spec.right_keys) == set(key) else None
    return None


def refusal(node: Node, key: tuple[str, ...]) -> tuple[str, str]:
    """What in ``node`` cannot read an upsert stream keyed by ``key``, and the hint."""
    columns = ", ".join(key)
    hint = (
        "read the topic through the 'kafka' connector (append-only), or write the stream, "
        f"unfiltered, into an upsert sink (upsert-kafka, jdbc) whose PRIMARY KEY is ({columns})"
    )
    spec = node.spec
    if isinstance(spec, CalcSpec):
        if spec.condition is not None:
            why = "a row updated from matching the filter to not matching it would stay"
            return "a filter (WHERE)", f"{why}; {hint}"
        return f"a projection that drops the key ({columns})", f"keep the key columns; {hint}"
    if isinstance(spec, SinkSpec):
        if ChangelogMode.UPSERT not in sink_changelogs(connector_spec(spec.connector), spec.options):
            subject = f"the sink '{spec.table}' (connector '{spec.connector}'), which does not write by key,"
            return subject, hint
        return (
            f"the sink '{spec.table}', keyed otherwise than by ({columns}),",
            f"an update would leave the row it replaces under another key; {hint}",
        )
    if isinstance(spec, CollectSpec):
        return "a query result (SELECT)", hint
    if isinstance(spec, GroupAggregateSpec):
        return f"GroupAggregate(groupBy=[{', '.join(spec.keys) or 'no keys'}])", hint
    return node.name, hint


def _column(name: str) -> str:
    """A column read as it is, as the projections' DuckDB SQL writes it."""
    return exp.to_identifier(name, quoted=True).sql("duckdb")
