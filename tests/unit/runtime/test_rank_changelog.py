"""The changelog of Top-N and deduplication over an insert-only input, batch by batch,
against a model of ``RankSpec`` in Python: every row of a partition sorted by the order
(NULLs where the spec puts them, ties by arrival), the range compared before and after
each batch, per rank position or per row as the spec's ``changes`` says. The operator
keeps only each partition's first ``end`` rows and ranks narrow rows with a pre-reduced
batch; the model keeps every row and sorts whole partitions. Random batches with NULL and
duplicated keys and values, equal rows included (a position whose new row equals the old
one in value sends nothing)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from decimal import Decimal
from functools import cmp_to_key
from typing import Any, TypeVar

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
from catalog import Catalog
from planner.physical import ARRIVAL, ROW_KIND_COLUMN, RankSpec
from runtime.batches import output_schema
from runtime.connectors.base import SubtaskContext
from runtime.metrics import OperatorMetrics
from runtime.operator import Operator, OperatorContext
from runtime.operators.rank import RankOp
from tests.unit.runtime.test_join_oracle import SETTINGS

Op = TypeVar("Op", bound=Operator)
DDL = (
    "CREATE TABLE t (k INT, v INT, s STRING, ts TIMESTAMP(3), d DECIMAL(4, 1), b BOOLEAN, "
    "proc AS PROCTIME()) "
    "WITH ('connector' = 'datagen')"
)


def top(select: str, over: str, where: str) -> str:
    return f"SELECT {select} FROM (SELECT *, ROW_NUMBER() OVER ({over}) AS rn FROM t) WHERE {where}"


QUERIES = (
    top("k, v, s, rn", "PARTITION BY k ORDER BY v DESC", "rn <= 2"),  # per position
    top("k, v, s", "PARTITION BY k ORDER BY v ASC NULLS LAST", "rn <= 3"),  # per row
    top("k, v, s", "PARTITION BY k ORDER BY v DESC", "rn = 1"),  # Top-1
    top("k, v, s", "PARTITION BY k ORDER BY v", "rn BETWEEN 2 AND 3"),  # from the second
    top("s, v, rn", "ORDER BY s", "rn <= 2"),  # a text ascending: ranked by a window
    top("k, v, s, ts", "PARTITION BY k ORDER BY v DESC, ts ASC", "rn = 1"),  # Nexmark q9's order
    top("k, s, ts", "PARTITION BY k ORDER BY ts DESC NULLS FIRST", "rn <= 1"),
    top("k, v, s", "PARTITION BY k ORDER BY s DESC, v", "rn = 1"),  # Top-1 by a join and comparison
    top("k, v, s", "PARTITION BY k ORDER BY s, v", "rn = 1"),  # Top-1 by a window
    top("k, v, s", "ORDER BY v DESC", "rn = 1"),  # one partition
    top("k, d, b", "PARTITION BY k ORDER BY d, b", "rn <= 2"),  # DECIMAL and BOOLEAN ascending
    top("k, d, b", "PARTITION BY k ORDER BY b NULLS LAST, d DESC", "rn = 1"),
    top("k, v, s", "PARTITION BY k ORDER BY proc", "rn = 1"),  # keep the first row
    top("k, v, s", "PARTITION BY k ORDER BY proc DESC", "rn = 1"),  # keep the last row
    top("v, s, rn", "PARTITION BY s ORDER BY v ASC NULLS FIRST, k DESC", "rn <= 2"),
)

rows_ = st.tuples(
    st.one_of(st.integers(0, 2), st.none()),
    st.one_of(st.integers(-3, 3), st.none()),
    st.sampled_from(["a", "b", "c", None]),
    st.one_of(st.integers(0, 4), st.none()),
    st.one_of(st.integers(-20, 20).map(lambda i: Decimal(i) / 10), st.none()),
    st.one_of(st.booleans(), st.none()),
)
batches_ = st.lists(st.lists(rows_, min_size=0, max_size=8), min_size=1, max_size=5)


def open_operator(ddl: str, query: str, spec: type, kind: type[Op]) -> Op:
    """The operator ``kind`` of the node of ``query``'s plan whose spec is a ``spec``, opened
    as subtask 0 of 1."""
    cat = Catalog()
    for stmt in planner.parse(ddl):
        cat.create(planner.create_table(stmt, cat))
    plan = planner.plan(query, cat, {})
    node = next(n for n in plan.nodes if isinstance(n.spec, spec))
    inputs = tuple(plan.node(e.source) for e in node.inputs)
    ctx = OperatorContext(
        SubtaskContext("t", node.id, "op", 0, 1), node, plan, OperatorMetrics(node.id, 0), None, inputs
    )
    op = kind(ctx)
    asyncio.run(op.open())
    return op


def rank_op(query: str) -> RankOp:
    return open_operator(DDL, query, RankSpec, RankOp)


class Model:
    """Every row in a list per partition, ranked by sorting: ``RankSpec`` as documented."""

    def __init__(self, op: RankOp) -> None:
        self.spec = op.spec
        self.names = [f.name for f in op.ctx.input_nodes[0].schema]
        self.rows: dict[tuple[Any, ...], list[tuple[int, dict[str, Any]]]] = {}
        self.seq = 0

    def _compare(self, a: tuple[int, dict[str, Any]], b: tuple[int, dict[str, Any]]) -> int:
        for key in self.spec.order:
            if key.column == ARRIVAL:
                x, y = a[0], b[0]
            else:
                x, y = a[1][key.column], b[1][key.column]
                if (x is None) != (y is None):
                    return (-1 if x is None else 1) * (1 if key.nulls_first else -1)
                if x is None:
                    continue
            if x != y:
                return (-1 if x < y else 1) * (1 if key.ascending else -1)
        return (a[0] > b[0]) - (a[0] < b[0]) if not self.spec.ties_last else (a[0] < b[0]) - (a[0] > b[0])

    def _ranked(self, part: tuple[Any, ...]) -> list[tuple[int, dict[str, Any]]]:
        return sorted(self.rows.get(part, []), key=cmp_to_key(self._compare))

    def batch(self, rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
        touched = {tuple(r[k] for k in self.spec.partition_keys) for r in rows}
        before = {p: self._ranked(p) for p in touched}
        for r in rows:
            self.rows.setdefault(tuple(r[k] for k in self.spec.partition_keys), []).append((self.seq, r))
            self.seq += 1
        out: Counter[tuple[Any, ...]] = Counter()
        s, e = self.spec.start, self.spec.end
        for p in touched:
            old, new = before[p][s - 1 : e], self._ranked(p)[s - 1 : e]
            if self.spec.changes == "rows":
                gone = {i for i, _ in old} - {i for i, _ in new}
                came = {i for i, _ in new} - {i for i, _ in old}
                out.update((3, *self._values(r)) for i, r in old if i in gone)
                out.update((0, *self._values(r)) for i, r in new if i in came)
                continue
            for pos in range(max(len(old), len(new))):
                o = old[pos] if pos < len(old) else None
                n = new[pos] if pos < len(new) else None
                if o and n and (o[0] == n[0] or self._values(o[1]) == self._values(n[1])):
                    continue  # the same row, or one equal in value
                rank = (pos + s,) if self.spec.rank_column else ()
                if o is not None:
                    out[(1 if n is not None else 3, *self._values(o[1]), *rank)] += 1
                if n is not None:
                    out[(2 if o is not None else 0, *self._values(n[1]), *rank)] += 1
        return out

    def _values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[n] for n in self.names)


def feed(op: RankOp, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    schema = output_schema(op.ctx.input_nodes[0].schema, False)
    batch = pa.RecordBatch.from_pylist(rows, schema=schema)
    out = asyncio.run(op.process_batch(batch, 0))
    names = [n for n in op.schema.names if n != ROW_KIND_COLUMN]
    return [(r.get(ROW_KIND_COLUMN, 0), *(r[n] for n in names)) for b in out for r in b.to_pylist()]


@settings(SETTINGS, max_examples=40)
@pytest.mark.parametrize("query", QUERIES)
@given(batches=batches_)
def test_each_batch_sends_the_models_changes(query: str, batches: list[list[tuple[Any, ...]]]) -> None:
    op = rank_op(query)
    assert not op.retracting
    model = Model(op)
    base = pa.scalar(0, pa.timestamp("ms")).as_py()
    try:
        for raw in batches:
            rows = [
                {"k": k, "v": v, "s": s, "ts": None if t is None else base.replace(second=t), "d": d, "b": b}
                | {"proc": None}
                for k, v, s, t, d, b in raw
            ]
            got = feed(op, rows)
            kinds = [g[0] for g in got]
            # every retraction of a batch before its additions
            assert kinds == sorted(kinds, key=lambda k: k not in (1, 3))
            if op.ctx.updating:
                assert Counter(got) == model.batch(rows)
            else:  # insert-only output: no row kinds, every change an insertion
                assert Counter(got) == Counter((0, *g[1:]) for g in model.batch(rows))
            # the state keeps no more than the range's end per partition
            assert op.metrics.state_rows <= op.spec.end * max(1, len(model.rows))
    finally:
        asyncio.run(op.close())


@pytest.mark.parametrize(
    "query",
    [
        top("k, v, s, rn", "PARTITION BY k ORDER BY v DESC", "rn <= 10"),  # Nexmark q19's shape
        top("k, v, s", "PARTITION BY k ORDER BY ts DESC", "rn = 1"),  # q18's: keep the latest
        top("k, v, s", "PARTITION BY k ORDER BY v ASC NULLS LAST", "rn <= 3"),  # per row
        top("k, v, s, rn", "PARTITION BY k ORDER BY v", "rn BETWEEN 2 AND 4"),
    ],
)
def test_large_batches_of_mostly_new_partitions(query: str) -> None:
    """Batches as a file source sends them: thousands of rows over partitions most of which
    the batch is the first to touch (their candidates go out from the Arrow batch) beside
    partitions with rows in state (ranked together with them), NULL keys (in all batches
    but one) and ties included; every batch's changes are the model's."""
    rng = random.Random(14)
    op = rank_op(query)
    model = Model(op)
    base = pa.scalar(0, pa.timestamp("ms")).as_py()
    try:
        for first_key in (0, 400, 800):  # each batch: 600 keys, 200 of them seen before
            keys = [*range(first_key, first_key + 600)] + ([None] if first_key != 400 else [])
            rows = [
                {
                    "k": rng.choice(keys),  # the second batch has no NULL key: compared by =
                    "v": rng.choice([None, *range(50)]),
                    "s": rng.choice(["a", "b", None]),
                    "ts": base.replace(second=rng.randrange(60)),
                    "d": None,
                    "b": None,
                    "proc": None,
                }
                for _ in range(3000)
            ]
            got = feed(op, rows)
            kinds = [g[0] for g in got]
            assert kinds == sorted(kinds, key=lambda k: k not in (1, 3))
            expected = model.batch(rows)
            if not op.ctx.updating:
                got = [(0, *g[1:]) for g in got]
            assert Counter(got) == expected
            assert sum(expected.values()) > 500
    finally:
        asyncio.run(op.close())
