"""ChangelogNormalize alone (no broker): random upsert changelogs (+U of new and kept keys,
repeated identical rows, tombstones of kept and absent keys) against Flink's
``processLastRowOnChangelog`` row by row; cut into random batches, the operator sends each
key's net change per batch, whose applied result is the same."""

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
    ChangelogNormalizeSpec,
    Field,
)
from runtime.operators.changelog_normalize import ChangelogNormalizeOp
from tests.unit.runtime.helpers import behind_source

SCHEMA = (Field("k", "INT"), Field("name", "STRING"), Field("v", "INT"))
UPSERT, DELETE = 2, 3

Change = tuple[int, int, str | None, int | None]  # (row kind, k, name, v)

changes = st.lists(
    st.one_of(
        st.tuples(
            st.just(UPSERT),
            st.integers(0, 4),
            st.sampled_from(["a", "b", None]),
            st.one_of(st.none(), st.integers(0, 2)),
        ),
        st.tuples(st.just(DELETE), st.integers(0, 5), st.none(), st.none()),  # key 5: never upserted
    ),
    max_size=60,
)


def normalize_op(ttl_ms: int = 0) -> ChangelogNormalizeOp:
    spec = ChangelogNormalizeSpec(("k",), ttl_ms)
    name = "ChangelogNormalize(key=[k])"
    return behind_source(ChangelogNormalizeOp, spec, name, SCHEMA, ChangelogMode.UPSERT, ChangelogMode.ALL)


def batch(rows: list[Change]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "k": pa.array([r[1] for r in rows], pa.int32()),
            "name": pa.array([r[2] for r in rows], pa.string()),
            "v": pa.array([r[3] for r in rows], pa.int32()),
            ROW_KIND_COLUMN: pa.array([r[0] for r in rows], pa.int8()),
        }
    )


def feed(op: ChangelogNormalizeOp, rows: list[Change]) -> list[tuple[Any, ...]]:
    out = asyncio.run(op.process_batch(batch(rows), 0))
    return [(r[ROW_KIND_COLUMN], r["k"], r["name"], r["v"]) for b in out for r in b.to_pylist()]


def flink(rows: list[Change], ttl: bool = False) -> list[tuple[Any, ...]]:
    """Flink's DeduplicateFunctionHelper.processLastRowOnChangelog, row by row."""
    kept: dict[int, tuple[Any, ...]] = {}
    out: list[tuple[Any, ...]] = []
    for kind, k, name, v in rows:
        old = kept.get(k)
        if kind == UPSERT:
            row = (k, name, v)
            if old is None:
                out.append((0, *row))
            elif old != row or ttl:
                out += [(1, *old), (2, *row)]
            kept[k] = row
        elif old is not None:
            out.append((3, *old))
            del kept[k]
    return out


def applied(changelog: list[tuple[Any, ...]]) -> dict[int, tuple[Any, ...]]:
    """The table a changelog leaves; every retraction must retract the row there, an +I
    come for an absent key and a +U right after the -U of its key."""
    table: dict[int, tuple[Any, ...]] = {}
    last: dict[int, int] = {}
    for kind, *row in changelog:
        if kind in (0, 2):
            assert row[0] not in table and (kind == 0 or last.get(row[0]) == 1), f"{kind} of {row}"
            table[row[0]] = tuple(row)
        else:
            assert table.get(row[0]) == tuple(row), f"retraction {row} of {table.get(row[0])}"
            del table[row[0]]
        last[row[0]] = kind
    return table


@settings(max_examples=60, deadline=None)
@given(changes)
def test_row_by_row_it_sends_what_flink_sends(rows: list[Change]) -> None:
    op = normalize_op()
    asyncio.run(op.open())
    try:
        got = [change for row in rows for change in feed(op, [row])]
        assert got == flink(rows)
        assert op.metrics.state_rows == len(applied(got))
    finally:
        asyncio.run(op.close())


@settings(max_examples=60, deadline=None)
@given(changes, st.lists(st.integers(1, 8), min_size=1, max_size=20))
def test_batch_by_batch_it_sends_each_keys_net_change(rows: list[Change], cuts: list[int]) -> None:
    """A well-formed full changelog (each -U/-D the row it retracts, +I only for an absent
    key) whose applied table is the last row of each key after every batch, and which says
    nothing of a key whose row the batch leaves as it found it."""
    op = normalize_op()
    asyncio.run(op.open())
    try:
        got: list[tuple[Any, ...]] = []
        seen: list[Change] = []
        i = 0
        for n in itertools.cycle(cuts):  # every row, in batches of the cuts
            if i >= len(rows):
                break
            part = rows[i : i + n]
            i += n
            before = applied(flink(seen))
            out = feed(op, part)
            seen += part
            after = applied(flink(seen))
            got += out
            assert applied(got) == after
            quiet = {k for k in {r[1] for r in part} if before.get(k) == after.get(k)}
            assert not [c for c in out if c[1] in quiet]
    finally:
        asyncio.run(op.close())


def test_with_a_ttl_an_identical_row_is_sent_again_and_an_idle_key_starts_anew() -> None:
    """As Flink with a state TTL: an equal row writes the key again (-U/+U, its expiry
    renewed); a key not written for the TTL is forgotten, its next row an +I."""
    op = normalize_op(ttl_ms=1000)
    now = [0]
    op.clock = lambda: 1_000_000 + now[0]
    asyncio.run(op.open())
    try:
        assert feed(op, [(UPSERT, 1, "a", 1)]) == [(0, 1, "a", 1)]
        now[0] = 600
        assert feed(op, [(UPSERT, 1, "a", 1)]) == [(1, 1, "a", 1), (2, 1, "a", 1)]
        now[0] = 1500  # written at 600: alive
        assert feed(op, [(UPSERT, 1, "a", 2)]) == [(1, 1, "a", 1), (2, 1, "a", 2)]
        now[0] = 3000
        assert feed(op, [(DELETE, 1, None, None)]) == []  # forgotten: nothing to delete
        assert feed(op, [(UPSERT, 1, "b", 3)]) == [(0, 1, "b", 3)]
        assert op.metrics.state_rows_expired == 1
    finally:
        asyncio.run(op.close())
