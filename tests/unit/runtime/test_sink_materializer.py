"""SinkUpsertMaterializer alone: well-formed changelogs of several upstream rows (each its
own upsert key ``u``, each row landing on sink key ``k``, which an update may change),
interleaved at random, against Flink's ``SinkUpsertMaterializer`` row by row (a model of it
below); cut into random batches, the sink table the operator's changes leave after each
batch is the one Flink's leave."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.connectors import ChangelogMode
from planner.physical import (
    ROW_KIND_COLUMN,
    Field,
    SinkMaterializerSpec,
)
from runtime.operators.sink_materializer import SinkMaterializerOp
from tests.unit.runtime.helpers import behind_source

SCHEMA = (Field("k", "INT"), Field("u", "INT"), Field("v", "INT"))
INSERT, BEFORE, AFTER, DELETE = 0, 1, 2, 3

Change = tuple[int, int, int | None, int | None]  # (row kind, k, u, v)
Step = tuple[int, int, int, bool]  # (upstream row u, its new k, its new v, deleted)


@st.composite
def changelogs(draw: Any, keyed: bool = True) -> list[Change]:
    """A changelog as an updating upstream sends it: per upstream row, +I, then -U of it and
    +U of its new version, or -D of it; rows interleaved. Without an upsert key the rows'
    ``u`` is NULL, so equal rows of different upstream rows are common."""
    steps = draw(
        st.lists(
            st.tuples(st.integers(0, 5), st.integers(0, 2), st.integers(0, 2), st.booleans()), max_size=50
        )
    )
    live: dict[int, tuple[int, int | None, int]] = {}
    out: list[Change] = []
    for u, k, v, deleted in steps:
        row = (k, u if keyed else None, v)
        old = live.get(u)
        if old is None:
            if not deleted:
                out.append((INSERT, *row))
                live[u] = row
        elif deleted:
            out.append((DELETE, *old))
            del live[u]
        else:
            out += [(BEFORE, *old), (AFTER, *row)]
            live[u] = row
    return out


def materializer_op(upsert_key: tuple[str, ...] = ("u",), ttl_ms: int = 0) -> SinkMaterializerOp:
    spec = SinkMaterializerSpec(("k",), upsert_key, ttl_ms)
    name = "SinkMaterializer(pk=[k])"
    return behind_source(SinkMaterializerOp, spec, name, SCHEMA, ChangelogMode.ALL, ChangelogMode.UPSERT)


def batch(rows: list[Change]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "k": pa.array([r[1] for r in rows], pa.int32()),
            "u": pa.array([r[2] for r in rows], pa.int32()),
            "v": pa.array([r[3] for r in rows], pa.int32()),
            ROW_KIND_COLUMN: pa.array([r[0] for r in rows], pa.int8()),
        }
    )


def feed(op: SinkMaterializerOp, rows: list[Change]) -> list[Change]:
    out = asyncio.run(op.process_batch(batch(rows), 0))
    return [(r[ROW_KIND_COLUMN], r["k"], r["u"], r["v"]) for b in out for r in b.to_pylist()]


def flink(rows: list[Change], keyed: bool = True) -> list[Change]:
    """Flink's SinkUpsertMaterializer, row by row: per sink key the list of rows in arrival
    order; an +I/+U replaces the row of its upsert key in place (appended when none; always
    appended without an upsert key) and is sent; a -U/-D removes the first row it matches,
    then sends the new last row as +U if the removed one was last, or -D if none is left."""
    lists: dict[int, list[tuple[Any, ...]]] = {}
    out: list[Change] = []

    def first(values: list[tuple[Any, ...]], row: tuple[Any, ...]) -> int | None:
        same = (lambda r: r[1] == row[1]) if keyed else (lambda r: r == row)
        return next((i for i, r in enumerate(values) if same(r)), None)

    for kind, *rest in rows:
        row = tuple(rest)
        values = lists.setdefault(row[0], [])
        if kind in (INSERT, AFTER):
            out.append((AFTER if values else INSERT, *row))
            at = first(values, row) if keyed else None
            if at is None:
                values.append(row)
            else:
                values[at] = row
            continue
        at = first(values, row)
        if at is None:
            continue
        was_last = at == len(values) - 1
        del values[at]
        if not values:
            out.append((DELETE, *row))
        elif was_last:
            out.append((AFTER, *values[-1]))
    return out


def applied(changelog: list[Change]) -> dict[int, tuple[Any, ...]]:
    """The table an upsert sink keyed by ``k`` holds after ``changelog``: +I only for an
    absent key, +U and -D only for a present one."""
    table: dict[int, tuple[Any, ...]] = {}
    for kind, *row in changelog:
        assert (row[0] in table) == (kind != INSERT), f"{kind} of {row} over {table.get(row[0])}"
        if kind == DELETE:
            del table[row[0]]
        else:
            table[row[0]] = tuple(row)
    return table


@settings(max_examples=80, deadline=None)
@given(changelogs(), st.booleans())
def test_row_by_row_it_sends_what_flink_sends(rows: list[Change], keyed: bool) -> None:
    if not keyed:
        rows = [(kind, k, None, v) for kind, k, _, v in rows]
    op = materializer_op(("u",) if keyed else ())
    asyncio.run(op.open())
    try:
        got = [change for row in rows for change in feed(op, [row])]
        assert got == flink(rows, keyed)
    finally:
        asyncio.run(op.close())


@settings(max_examples=80, deadline=None)
@given(st.one_of(changelogs(), changelogs(keyed=False)), st.lists(st.integers(1, 8), min_size=1, max_size=20))
def test_batch_by_batch_the_sink_holds_what_flinks_changes_leave(rows: list[Change], cuts: list[int]) -> None:
    keyed = all(r[2] is not None for r in rows)
    op = materializer_op(("u",) if keyed else ())
    asyncio.run(op.open())
    try:
        got: list[Change] = []
        i = 0
        for n in itertools.cycle(cuts):  # every row, in batches of the cuts
            if i >= len(rows):
                break
            got += feed(op, rows[i : i + n])
            i += n
            assert applied(got) == applied(flink(rows[:i], keyed))
        kept = sum(len(v) for v in _lists(rows, keyed).values())
        assert op.metrics.state_rows == kept
    finally:
        asyncio.run(op.close())


def _lists(rows: list[Change], keyed: bool) -> dict[int, list[Any]]:
    """The live rows per sink key after ``rows`` (what the state must hold)."""
    live: dict[int, list[Any]] = {}
    for kind, k, u, v in rows:
        values = live.setdefault(k, [])
        if kind in (INSERT, AFTER):
            values.append((k, u, v))
        elif (k, u, v) in values:
            values.remove((k, u, v))
    return live


def test_without_a_materializer_a_retraction_would_delete_a_row_another_key_holds() -> None:
    """The case the operator exists for: two upstream rows under one sink key; the later
    one's -U (its new version filtered out) leaves the earlier one, not an empty key."""
    op = materializer_op()
    asyncio.run(op.open())
    try:
        assert feed(op, [(INSERT, 1, 1, 10), (INSERT, 1, 2, 20)]) == [(INSERT, 1, 2, 20)]
        assert feed(op, [(BEFORE, 1, 2, 20)]) == [(AFTER, 1, 1, 10)]
        assert feed(op, [(BEFORE, 1, 1, 10), (AFTER, 1, 1, 11)]) == [(AFTER, 1, 1, 11)]
        assert feed(op, [(DELETE, 1, 1, 11)]) == [(DELETE, 1, 1, 11)]
        assert feed(op, [(DELETE, 1, 1, 11)]) == []  # nothing left to retract: nothing sent
    finally:
        asyncio.run(op.close())


def test_with_a_ttl_an_idle_key_is_forgotten() -> None:
    """As Flink's TTL on the key's list: a key not written for the TTL is forgotten, its
    retractions then find nothing and its next row is an +I; writing a key renews all its rows."""
    op = materializer_op(ttl_ms=1000)
    now = [0]
    op.clock = lambda: 1_000_000 + now[0]
    asyncio.run(op.open())
    try:
        assert feed(op, [(INSERT, 1, 1, 10)]) == [(INSERT, 1, 1, 10)]
        now[0] = 800
        assert feed(op, [(INSERT, 1, 2, 20)]) == [(AFTER, 1, 2, 20)]
        now[0] = 1500  # the key was written at 800: both rows alive
        assert feed(op, [(BEFORE, 1, 2, 20)]) == [(AFTER, 1, 1, 10)]
        now[0] = 3000
        assert feed(op, [(DELETE, 1, 1, 10)]) == []  # forgotten
        assert feed(op, [(INSERT, 1, 3, 30)]) == [(INSERT, 1, 3, 30)]
        assert op.metrics.state_rows_expired == 1
    finally:
        asyncio.run(op.close())
