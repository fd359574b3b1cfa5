"""The PostgreSQL sink's epoch mode without a server: which replayed rows are dropped
(the discard multiset, the excess of a checkpoint over the progress rows) and what a
restore refuses. The database side is in tests/integration/test_postgres_epoch.py."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from runtime.connectors.postgres.conn import PostgresError
from runtime.connectors.postgres.epoch import (
    BASE,
    DISCARDED,
    WRITTEN,
    DiscardSet,
    Entry,
    EpochState,
    RowDigests,
    choose_mode,
    excess,
    pack,
    plan_restore,
    unpack,
)

U = np.uint64


def digests(*values: int) -> np.ndarray:
    return np.array(values, dtype=U)


def rows_batch(ids: list[int], text: list[str]) -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array(ids, pa.int64()), "v": pa.array(text)})


def test_digests_are_the_same_in_another_connection_and_tell_rows_apart() -> None:
    a, b = RowDigests(), RowDigests()
    batch = rows_batch([1, 2, 1, 3], ["x", "x", "x", None])  # type: ignore[list-item]
    first, second = a(batch), b(batch.slice(1))
    assert first[0] == first[2]  # equal rows, equal digests
    assert len(set(first.tolist())) == 3
    assert second.tolist() == first[1:].tolist()  # the same in another process's connection
    assert a(rows_batch([1], ["y"]))[0] != first[0]
    a.close()
    b.close()


def test_discard_drops_each_committed_row_once_however_the_replay_is_cut() -> None:
    """A replay brings the committed rows again in other batches and another order, among
    new rows and more copies of equal rows: exactly the committed copies are dropped."""
    rng = random.Random(4)
    committed = [rng.randrange(50) for _ in range(300)]  # many equal values
    new = [rng.randrange(80) for _ in range(200)]
    replay = committed + new
    rng.shuffle(replay)
    discard = DiscardSet(np.array(committed, dtype=U))
    kept: list[int] = []
    cut = 0
    while cut < len(replay):
        size = rng.randrange(1, 40)
        part = np.array(replay[cut : cut + size], dtype=U)
        drop = discard.take(part)
        kept += part[~drop].tolist()
        cut += size
    assert len(discard) == 0
    assert sorted(kept) == sorted(new)  # as multisets: what was not committed before


def test_discard_keeps_order_and_drops_the_first_copies() -> None:
    d = DiscardSet(digests(7, 7))
    assert d.take(digests(1, 7, 2, 7, 7)).tolist() == [False, True, False, True, False]
    assert len(d) == 0 and d.take(digests(7)).tolist() == [False]


def test_epoch_state_records_written_and_dropped_rows() -> None:
    st = EpochState(None, "s", 0, 1, append=True, where="t")  # type: ignore[arg-type]
    digest = RowDigests()
    committed = rows_batch([1, 2], ["a", "b"])
    st.discard = DiscardSet(digest(committed))
    out = st.admit(rows_batch([2, 3, 1], ["b", "c", "a"]))
    assert out.to_pylist() == [{"id": 3, "v": "c"}]
    assert len(np.concatenate(st.written)) == 1 and len(np.concatenate(st.discarded)) == 2
    assert st.admit(rows_batch([1], ["a"])).num_rows == 1  # the set is spent: a new row
    upsert = EpochState(None, "s", 0, 1, append=False, where="t")  # type: ignore[arg-type]
    upsert.discard = DiscardSet(digest(committed))
    assert upsert.admit(committed).num_rows == 2  # upserts replay idempotently: nothing dropped
    st.close()
    digest.close()


def test_excess_of_a_checkpoint_over_the_progress_rows() -> None:
    """base - discarded up to the checkpoint + written after it."""
    entries = [
        Entry(0, 3, BASE, 1, 2, digests(8, 9)),
        Entry(0, 4, DISCARDED, 1, 1, digests(9)),
        Entry(0, 4, WRITTEN, 1, 2, digests(1, 2)),
        Entry(0, 5, DISCARDED, 1, 1, digests(8)),
        Entry(0, 6, WRITTEN, 1, 1, digests(3)),
    ]
    assert excess(entries, 3)[1].tolist() == [1, 2, 3, 8, 9]
    assert excess(entries, 4)[1].tolist() == [3, 8]
    assert excess(entries, 5)[1].tolist() == [3]
    base_epoch, rest = excess(entries, 6)
    assert base_epoch == 3 and rest.tolist() == []


def test_restore_plans_and_refusals() -> None:
    committed = [Entry(0, 1, BASE, 2, 0), Entry(0, 2, WRITTEN, 2, 2, digests(5, 6)), Entry(1, 1, BASE, 2, 0)]
    same = plan_restore(committed, 1, 0, 2, "t", append=True)
    assert same.discard.tolist() == [5, 6] and not same.fresh_lineage
    assert plan_restore(committed, 2, 0, 2, "t", append=True).discard.tolist() == []
    # Rescaled with rows waiting to be dropped: refused, saying at which parallelism to restore.
    with pytest.raises(PostgresError, match=r"at parallelism 1: at parallelism 2 .*subtask 0: 2 rows"):
        plan_restore(committed, 1, 0, 1, "t", append=True)
    assert plan_restore(committed, 2, 0, 1, "t", append=True).discard.tolist() == []
    assert plan_restore(committed, 1, 0, 1, "t", append=False).discard.tolist() == []  # upserts
    # A checkpoint older than the one the sink folded: refused; a fresh start: a new lineage.
    with pytest.raises(PostgresError, match="cannot restore checkpoint 1 in epoch mode"):
        plan_restore([Entry(0, 3, BASE, 1, 0)], 1, 0, 1, "t", append=True)
    fresh = plan_restore(
        [Entry(0, 3, BASE, 1, 0), Entry(0, 4, WRITTEN, 1, 1, digests(1))], 0, 0, 1, "t", True
    )
    assert fresh.fresh_lineage and fresh.discard.tolist() == []
    # A crash before the first checkpoint completed: the fresh start drops epoch 1 and 2.
    first = [
        Entry(0, 0, BASE, 1, 0),
        Entry(0, 1, WRITTEN, 1, 1, digests(1)),
        Entry(0, 2, WRITTEN, 1, 1, digests(2)),
    ]
    assert plan_restore(first, 0, 0, 1, "t", append=True).discard.tolist() == [1, 2]


def test_digests_round_trip_through_bytea() -> None:
    d = digests(0, 1, 2**64 - 1)
    assert unpack(pack([d[:1], d[1:]])).tolist() == d.tolist()
    assert unpack(None).tolist() == []


def test_mode_choice() -> None:
    assert choose_mode("two-phase", "0", "t", None, "w") is False  # the sink then refuses, saying why
    assert choose_mode("", "10", "t", "NOW()", "w") is False
    assert choose_mode("", "0", "t", None, "w") is True
    with pytest.raises(PostgresError) as refused:
        choose_mode("", "0", "t", "a processing-time TUMBLE window assigns rows by the clock", "w")
    assert "processing-time TUMBLE window" in str(refused.value)
    assert refused.value.hint and "'sink.delivery-guarantee' = 'at-least-once'" in refused.value.hint
