"""The upsert keys of a node's output (Flink's ``FlinkRelMdUpsertKeys``): sets of columns of
which each row of an updating stream is the only live row with its values, so that its
-U/+U/-D address one row. A sink that writes by a PRIMARY KEY that holds none of them gets
rows of several upstream keys under one of its keys, and needs a SinkUpsertMaterializer
(``planner.sink_materialize``).

Derived as Flink derives them, for what our plans contain: a scan's PRIMARY KEY; a Calc
passes the keys whose columns it projects as they are (a computed column is no key column
any more, even UPPER(name)); an unwindowed GROUP BY's keys (no keys: the empty key, one
row); a window aggregate's keys with its window bounds; a Top-1 or deduplication, its
partition columns; ChangelogNormalize and SinkUpsertMaterializer, their keys; a regular
join, each side's keys combined, and one side's own keys where the other side's join
columns hold one of its keys (unless an outer join pads that side's rows with NULLs); a
semi or anti join, the left's. A UNION ALL, and anything else, has none known.

>>> from planner.physical import Edge, Field, GroupAggregateSpec
>>> src = Node(1, "scan", CalcSpec(()), (), (Field("k", "INT"), Field("v", "INT")), 1)
>>> out = (Field("k", "INT"), Field("n", "BIGINT"))
>>> agg = Node(2, "agg", GroupAggregateSpec(("k",), ()), (Edge(1),), out, 1)
>>> calc = Node(3, "calc", CalcSpec((("key", '"k"'), ("n", '"n" + 1'))), (Edge(2),), agg.schema, 1)
>>> upsert_keys([src, agg, calc], agg), upsert_keys([src, agg, calc], calc)
([('k',)], [('key',)])
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from planner.physical import (
    CalcSpec,
    ChangelogNormalizeSpec,
    GroupAggregateSpec,
    JoinSpec,
    Node,
    RankSpec,
    SinkMaterializerSpec,
    SourceSpec,
    WatermarkSpec,
    WindowAggregateSpec,
)
from planner.plain_duckdb import quote

Key = tuple[str, ...]


def upsert_keys(nodes: Sequence[Node], node: Node) -> list[Key] | None:
    """The upsert keys of ``node``'s output (column names), or None when none is known
    (``nodes``: the plan so far, node ``i`` at ``i - 1``)."""
    spec = node.spec
    inputs = [nodes[e.source - 1] for e in node.inputs]
    names = [f.name for f in node.schema]
    if isinstance(spec, SourceSpec):
        key = spec.primary_key
        return [key] if key and all(k in names for k in key) else None
    if isinstance(spec, WatermarkSpec):
        return upsert_keys(nodes, inputs[0])
    if isinstance(spec, CalcSpec):
        below = upsert_keys(nodes, inputs[0])
        if below is None:
            return None
        types = {f.name: f.type for f in inputs[0].schema}
        passed: dict[str, str] = {}
        for name, sql in spec.projections:
            column = _injective(sql, types)
            if column is not None:
                passed.setdefault(column, name)  # a column projected as it is, under its first name
        kept = [tuple(passed.get(k, "") for k in key) for key in below]
        return [key for key in kept if all(key)] or None
    if isinstance(spec, GroupAggregateSpec):
        return [tuple(names[: len(spec.keys)])]
    if isinstance(spec, WindowAggregateSpec):
        return None  # append-only: its rows are never retracted
    if isinstance(spec, ChangelogNormalizeSpec | SinkMaterializerSpec):
        return [spec.keys]
    if isinstance(spec, RankSpec):
        if spec.end == 1 and spec.rank_column is None:
            return [spec.partition_keys]
        if spec.rank_column is not None and spec.changes == "position":
            return [(*spec.partition_keys, spec.rank_column)]
        return None
    if isinstance(spec, JoinSpec):
        return _join_keys(nodes, node, spec, inputs)
    return None


def _join_keys(nodes: Sequence[Node], node: Node, spec: JoinSpec, inputs: list[Node]) -> list[Key] | None:
    """Flink's ``getJoinUniqueKeys`` over the upsert keys of the two inputs."""
    left, right = (upsert_keys(nodes, n) for n in inputs)
    if spec.semi_or_anti:
        return left
    names = [f.name for f in node.schema]
    left_names = dict(zip((f.name for f in inputs[0].schema), names[: spec.left_width]))
    right_names = dict(zip((f.name for f in inputs[1].schema), names[spec.left_width :]))

    def out(key: Key, side: dict[str, str]) -> Key | None:
        mapped = tuple(side.get(k) for k in key)
        return None if None in mapped else tuple(k for k in mapped if k is not None)

    lefts = [k for k in (out(key, left_names) for key in left or []) if k is not None]
    rights = [k for k in (out(key, right_names) for key in right or []) if k is not None]
    keys: list[Key] = [(*lk, *rk) for lk in lefts for rk in rights]
    right_unique = any(set(key) <= set(spec.right_keys) for key in right or [])
    left_unique = any(set(key) <= set(spec.left_keys) for key in left or [])
    if right_unique and not spec.right_outer:  # a right outer join pads left columns with NULLs
        keys += lefts
    if left_unique and not spec.left_outer:
        keys += rights
    return keys or None


_CAST = re.compile(r'CAST\(("(?:[^"]|"")+") AS ([A-Z]+)\)')
_INTEGERS = ("TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT")
_RANK = {"TINYINT": 0, "SMALLINT": 1, "INT": 2, "INTEGER": 2, "BIGINT": 3}


def _injective(sql: str, types: Mapping[str, str]) -> str | None:
    """The input column a projection is, when distinct values of it stay distinct: the
    column as it is, or cast to a type that holds every value apart (a wider integer, a
    string), as Flink keeps a key through such a cast (INT to BIGINT) and not through a
    narrowing one (BIGINT to INT).

    >>> _injective('"k"', {"k": "INT"}), _injective('CAST("k" AS BIGINT)', {"k": "INT NOT NULL"})
    ('k', 'k')
    >>> _injective('(CAST("k" AS TEXT))', {"k": "INT"})
    'k'
    >>> _injective('CAST("k" AS INTEGER)', {"k": "BIGINT"}), _injective('"k" + 1', {"k": "INT"})
    (None, None)
    """
    names = {quote(n): n for n in types}
    if sql in names:
        return names[sql]
    while sql.startswith("(") and sql.endswith(")") and _CAST.fullmatch(sql[1:-1]):
        sql = sql[1:-1]
    cast = _CAST.fullmatch(sql)
    if cast is None or cast.group(1) not in names:
        return None
    column = names[cast.group(1)]
    source, target = types[column].split("(")[0].split()[0].upper(), cast.group(2)
    if target in ("VARCHAR", "TEXT", "STRING"):
        return column
    if source in _INTEGERS and target in _INTEGERS and _RANK[target] >= _RANK[source]:
        return column
    return column if source == target else None
