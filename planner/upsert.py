"""Which operators read an upsert stream correctly as it is, and where it is normalized.

An upsert stream (``ChangelogMode.UPSERT``: upsert-kafka, postgres-cdc with
'changelog-mode' = 'upsert') carries +I/+U rows that replace the row of their key without
a -U of it, and -D rows that carry only the key. An operator that takes it for a full
changelog counts a +U as one more row and cannot retract what a -D deletes: a wrong
answer, not an error. These read it as it is, by the key:

- a Calc that projects (no filter: an update from a matching row to one that does not
  match would leave the old row) and keeps the key columns as they are;
- a WatermarkAssigner (it keeps every column);
- a sink that writes by key (upsert-kafka, JDBC) whose PRIMARY KEY is that key, column for
  column: a +U overwrites the key's row and a -D deletes it by key;
- the versioned side of an event-time temporal join keyed by it: each row is the key's
  new version, a -D its deletion;
- ChangelogNormalize, which makes it a full changelog for every other reader.

Any other reader gets the stream through a ChangelogNormalize (Flink's operator, keyed by
the key, keeping each key's last row), planned where the stream reaches it: the planner
translates the reader, finds it cannot read its input (``Unreadable``), and translates it
again over that input normalized. A sink that writes by key takes a normalized stream
filtered on the way when it is keyed as the stream (a row the filter drops sends a -U that
nothing overwrites, and the sink deletes its key, as Flink's do); keyed otherwise, the
stream goes through a SinkUpsertMaterializer (``planner.sink_materialize``, itself reading
it normalized), and without one (upsert-materialize NONE) the plan is refused by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlglot import exp

from catalog.connectors import ChangelogMode, connector_spec, sink_changelogs
from planner.errors import UnsupportedError
from planner.logical import LogicalNode
from planner.physical import (
    CalcSpec,
    ChangelogNormalizeSpec,
    CollectSpec,
    GroupAggregateSpec,
    Node,
    OperatorSpec,
    SinkSpec,
    TemporalJoinSpec,
    WatermarkSpec,
)
from planner.sink_materialize import keyed_within

# Operators that send each input row's changes on as they come (a -U gives -U rows): a
# stream through them into a sink is the stream their input sends, changed row by row
_ROW_BY_ROW = (
    "calc",
    "correlate",
    "expand",
    "replicate",
    "watermark",
    "window_assign",
    "union",
    "lookup_join",
)


class Unreadable(Exception):
    """A node that cannot read the upsert stream ``source`` as it is; ``error`` is the
    refusal when normalizing the stream cannot help."""

    def __init__(self, error: UnsupportedError, source: Node) -> None:
        super().__init__(error.message)
        self.error = error
        self.source = source


def passed_key(node: Node, index: int, source: Node, key: tuple[str, ...]) -> tuple[str, ...] | None:
    """The key of ``node``'s output when it reads the upsert stream ``source`` (keyed by
    ``key``) on its input ``index`` correctly; None when it does not."""
    spec = node.spec
    if isinstance(spec, WatermarkSpec | ChangelogNormalizeSpec):
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
        if not spec.primary_key or any(k not in names for k in key):
            return None
        same = sorted(names.index(k) for k in key) == sorted(sink_names.index(k) for k in spec.primary_key)
        return key if same else None
    if isinstance(spec, TemporalJoinSpec) and index == 1:
        return key if set(spec.right_keys) == set(key) else None
    return None


def writes_by_key(spec: OperatorSpec) -> bool:
    """Whether ``spec`` is a sink that writes by its PRIMARY KEY (upsert-kafka, jdbc)."""
    if not isinstance(spec, SinkSpec) or not spec.primary_key:
        return False
    return ChangelogMode.UPSERT in sink_changelogs(connector_spec(spec.connector), spec.options)


def normalized_into_sink_by_key(
    node: Node, source: Node, nodes: Sequence[Node]
) -> tuple[str, tuple[str, ...]] | None:
    """When ``node`` is a sink that writes by key and ``source`` sends it a normalized upsert
    stream changed row by row on the way (filtered, or keyed otherwise): the sink's table
    and the stream's key, for the refusal; else None."""
    if not writes_by_key(node.spec):
        return None
    assert isinstance(node.spec, SinkSpec)
    columns = [f.name for f in node.spec.columns]
    if keyed_within(nodes, source, columns, node.spec.primary_key):
        return None  # a -U that nothing overwrites (a row the filter drops) deletes its row
    todo = [source]
    while todo:
        current = todo.pop()
        if isinstance(current.spec, ChangelogNormalizeSpec):
            return node.spec.table, current.spec.keys
        if current.kind in _ROW_BY_ROW:
            todo.extend(nodes[e.source - 1] for e in current.inputs)
    return None


def input_of(
    node: LogicalNode, source: Node, memo: Mapping[int, Node], nodes: Sequence[Node]
) -> LogicalNode | None:
    """The input of ``node`` whose operators send the upsert stream ``source`` (itself, or
    upstream of it on its way through nodes that keep it an upsert stream); None when it
    comes from none of them."""
    current: Node | None = source
    while current is not None:
        for child in node.inputs:
            if memo.get(id(child)) is current:
                return child
        upstream = (nodes[e.source - 1] for e in current.inputs)
        current = next((u for u in upstream if u.changelog == ChangelogMode.UPSERT), None)
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
