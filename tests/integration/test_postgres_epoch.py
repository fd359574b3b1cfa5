"""Epoch mode against the real server without prepared transactions (``scripts/services``'
``postgres-noprep``): each epoch committed at its barrier with its progress rows, and after
a restart the replay of what was committed dropped, never written twice, including when the
writer process is SIGKILLed between the barrier's commit and the checkpoint's completion.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from catalog.connectors import Guarantee
from runtime.connectors.postgres.conn import PostgresError
from runtime.connectors.postgres.sink import PostgresSink

from .test_postgres_connector import batch, cols, create, ctx, execute, sink_spec, unique_table

pytestmark = pytest.mark.postgres

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EO = Guarantee.EXACTLY_ONCE
ROWS = cols("id BIGINT", "v STRING")
COUNTS = cols("word STRING", "n BIGINT")
PROGRESS = "sqlstream_sink_progress"


@pytest.fixture(scope="module")
def dsn(pg_noprep_dsn: str) -> str:
    """The server with max_prepared_transactions = 0."""
    return pg_noprep_dsn


@pytest.fixture
def table(dsn: str) -> Iterator[str]:
    t = unique_table("epoch")
    create(dsn, t, ROWS)
    yield t
    execute(dsn, f'DROP TABLE IF EXISTS "{t}"')
    forget(dsn, t)


@pytest.fixture
def counts_table(dsn: str) -> Iterator[str]:
    t = unique_table("epoch_upsert")
    create(dsn, t, COUNTS, key=("word",))
    yield t
    execute(dsn, f'DROP TABLE IF EXISTS "{t}"')
    forget(dsn, t)


def forget(dsn: str, sink_id: str) -> None:
    if execute(dsn, "SELECT to_regclass(%s)", [PROGRESS]) != [(None,)]:
        execute(dsn, f"DELETE FROM {PROGRESS} WHERE sink_id = %s", [sink_id])


def spec(dsn: str, table: str, columns: Any = ROWS, key: tuple[str, ...] = (), **options: str) -> Any:
    opts = {"sink.transactional-id-prefix": table, "sink.buffer-flush.max-rows": "7", **options}
    return sink_spec(dsn, table, columns, key=key, guarantee=EO, options=opts)


def rows(start: int, stop: int, v: str = "x") -> list[tuple[Any, ...]]:
    return [(i, v) for i in range(start, stop)]


def contents(dsn: str, table: str) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r) for r in execute(dsn, f'SELECT * FROM "{table}"'))


def progress(dsn: str, sink_id: str) -> list[tuple[Any, ...]]:
    return execute(
        dsn,
        f"SELECT subtask, epoch, kind, rows FROM {PROGRESS} WHERE sink_id = %s ORDER BY subtask, epoch, kind",
        [sink_id],
    )


async def start(sink: PostgresSink, restored: int = 0) -> PostgresSink:
    """What the job does on start: open, then recover from checkpoint ``restored``."""
    await sink.open()
    sink.restored_checkpoint = restored
    await sink.recover([])
    return sink


def test_each_epoch_is_committed_at_its_barrier_with_its_progress_row(
    dsn: str, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> None:
        with caplog.at_level(logging.WARNING):
            sink = await start(PostgresSink(spec(dsn, table), ctx()))
        assert sink.epoch_mode
        assert "max_prepared_transactions = 0, so exactly-once uses epoch mode" in caplog.text
        await sink.write(batch(ROWS, rows(0, 10)))  # flushed (7 rows) into the open transaction
        assert contents(dsn, table) == Counter()
        assert await sink.pre_commit(1) is None  # no handle: nothing is left to commit later
        assert sum(contents(dsn, table).values()) == 10  # committed at the barrier
        assert progress(dsn, table) == [(0, 0, "base", 0), (0, 1, "written", 10)]
        await sink.commit(1, None)  # checkpoint 1 complete: folded in the next transaction
        await sink.write(batch(ROWS, rows(10, 12)))
        await sink.pre_commit(2)
        assert progress(dsn, table) == [(0, 1, "base", 0), (0, 2, "written", 2)]
        await sink.close()
        assert contents(dsn, table) == Counter(rows(0, 12))

    asyncio.run(run())


# A writer that commits epoch 1 (checkpoint 1 completes), then writes epoch 2 (with two
# equal rows) and commits it at barrier 2, and is SIGKILLed before checkpoint 2 completes.
CRASHING_WRITER = r"""
import asyncio, sys
from catalog.connectors import Guarantee
from planner.physical import Field, SinkSpec
from runtime.connectors.base import SubtaskContext
from runtime.connectors.postgres.sink import PostgresSink
import pyarrow as pa

async def main(dsn, table, key):
    if key:
        cols = (Field("word", "STRING NOT NULL"), Field("n", "BIGINT"))
        first = {"word": [f"w{i}" for i in range(20)], "n": [1] * 20}
        second = {"word": [f"w{i}" for i in range(10, 30)], "n": [2] * 20}
    else:
        cols = (Field("id", "BIGINT"), Field("v", "STRING"))
        first = {"id": list(range(0, 20)), "v": ["x"] * 20}
        second = {"id": list(range(20, 30)) + [99, 99], "v": ["x"] * 10 + ["same", "same"]}
    opts = {"connector": "postgres", "dsn": dsn, "table-name": table,
            "sink.transactional-id-prefix": table, "sink.buffer-flush.interval": "0"}
    spec = SinkSpec(table, "postgres", opts, cols, primary_key=("word",) if key else (),
                    guarantee=Guarantee.EXACTLY_ONCE)
    sink = PostgresSink(spec, SubtaskContext("job", 1, "sink", 0, 1))
    await sink.open()
    await sink.recover([])
    await sink.write(pa.record_batch(first))
    await sink.pre_commit(1)
    await sink.commit(1, None)
    await sink.write(pa.record_batch(second))
    await sink.pre_commit(2)
    print("committed", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:]))
"""


def kill_after_barrier_commit(dsn: str, table: str, key: bool) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, dsn, table, "key" if key else ""],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "committed":
            raise AssertionError(f"the writer died: {proc.stderr.read() if proc.stderr else ''}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def test_append_replay_after_a_kill_between_barrier_commit_and_checkpoint_is_discarded(
    dsn: str, table: str
) -> None:
    kill_after_barrier_commit(dsn, table, key=False)
    committed = Counter(rows(0, 30) + [(99, "same")] * 2)
    assert contents(dsn, table) == committed  # epoch 2 is in, checkpoint 2 never completed

    async def run() -> None:
        sink = await start(PostgresSink(spec(dsn, table), ctx()), restored=1)
        # The replay from checkpoint 1, cut into other batches and epochs, in another
        # order, with one more equal row and new rows after it.
        await sink.write(batch(ROWS, [(99, "same"), *rows(25, 30)[::-1]]))
        await sink.pre_commit(2)
        await sink.write(batch(ROWS, [*rows(20, 25), (99, "same"), (99, "same"), *rows(30, 40)]))
        await sink.pre_commit(3)
        await sink.commit(3, None)
        await sink.write(batch(ROWS, rows(40, 41)))
        await sink.pre_commit(4)
        await sink.close()

    asyncio.run(run())
    assert contents(dsn, table) == Counter(rows(0, 41) + [(99, "same")] * 3)
    # Checkpoint 3 folded what the replay discarded: nothing left to drop.
    assert progress(dsn, table) == [(0, 3, "base", 0), (0, 4, "written", 1)]


def test_upsert_replay_after_a_kill_between_barrier_commit_and_checkpoint_converges(
    dsn: str, counts_table: str
) -> None:
    kill_after_barrier_commit(dsn, counts_table, key=True)
    final = {f"w{i}": 1 for i in range(10)} | {f"w{i}": 2 for i in range(10, 30)}
    assert dict(execute(dsn, f'SELECT word, n FROM "{counts_table}"')) == final

    async def run() -> None:
        sink = await start(PostgresSink(spec(dsn, counts_table, COUNTS, key=("word",)), ctx()), restored=1)
        replay = [(f"w{i}", 2) for i in range(10, 30)] + [("w3", 3)]
        await sink.write(batch(COUNTS, replay, kinds=[2] * 20 + [2]))
        await sink.pre_commit(2)
        await sink.commit(2, None)
        await sink.close()

    asyncio.run(run())
    assert dict(execute(dsn, f'SELECT word, n FROM "{counts_table}"')) == final | {"w3": 3}
    # Upserts keep progress rows without digests: a replay rewrites, it drops nothing.
    assert progress(dsn, counts_table) == [(0, 1, "base", 0), (0, 2, "written", 21)]


def test_rescaling_is_refused_while_rows_after_the_checkpoint_wait_to_be_discarded(
    dsn: str, table: str
) -> None:
    async def run() -> None:
        writers = [await start(PostgresSink(spec(dsn, table), ctx(s, 2))) for s in (0, 1)]
        for s, w in enumerate(writers):
            await w.write(batch(ROWS, rows(s * 100, s * 100 + 5)))
            await w.pre_commit(1)
            await w.commit(1, None)
            await w.write(batch(ROWS, rows(s * 100 + 5, s * 100 + 8)))
            await w.pre_commit(2)  # committed; checkpoint 2 never completes
            await w.close()
        with pytest.raises(PostgresError) as refused:
            await start(PostgresSink(spec(dsn, table), ctx(0, 1)), restored=1)
        message = str(refused.value)
        assert "at parallelism 1" in message and "at parallelism 2" in message, message
        assert "subtask 0: 3 rows, subtask 1: 3 rows" in message, message
        assert refused.value.hint and "restore at parallelism 2" in refused.value.hint
        # From checkpoint 2 nothing waits to be discarded: rescaling is exact.
        sink = await start(PostgresSink(spec(dsn, table), ctx(0, 1)), restored=2)
        await sink.write(batch(ROWS, rows(500, 502)))
        await sink.pre_commit(3)
        await sink.close()
        # The old subtasks' progress rows went to the new subtask 0 (1 % 1 == 0).
        assert [r[:3] for r in progress(dsn, table)] == [(0, 2, "base"), (0, 3, "written")]

    asyncio.run(run())
    assert sum(contents(dsn, table).values()) == 18


def test_an_older_checkpoint_is_refused_and_a_fresh_start_discards_nothing(dsn: str, table: str) -> None:
    async def run() -> None:
        sink = await start(PostgresSink(spec(dsn, table), ctx()))
        for n in (1, 2, 3):
            await sink.write(batch(ROWS, rows(n * 10, n * 10 + 2)))
            await sink.pre_commit(n)
            await sink.commit(n, None)
        await sink.write(batch(ROWS, rows(90, 91)))
        await sink.pre_commit(4)  # folds checkpoints up to 3
        await sink.close()
        with pytest.raises(PostgresError, match="cannot restore checkpoint 1 in epoch mode"):
            await start(PostgresSink(spec(dsn, table), ctx()), restored=1)
        fresh = await start(PostgresSink(spec(dsn, table), ctx()))  # a new lineage
        await fresh.write(batch(ROWS, rows(10, 12)))
        await fresh.pre_commit(1)
        await fresh.close()

    asyncio.run(run())
    assert contents(dsn, table)[(10, "x")] == 2  # a fresh start writes again, as in two-phase mode


def test_progress_table_is_configurable_and_created_by_the_sink(dsn: str, table: str) -> None:
    name = f"{table}_progress"

    async def run() -> None:
        options = {"sink.exactly-once.progress-table": name}
        sink = await start(PostgresSink(spec(dsn, table, **options), ctx()))
        await sink.write(batch(ROWS, rows(0, 3)))
        await sink.pre_commit(1)
        await sink.close()

    try:
        asyncio.run(run())
        assert execute(dsn, f'SELECT epoch, kind, rows FROM "{name}" ORDER BY epoch') == [
            (0, "base", 0),
            (1, "written", 3),
        ]
    finally:
        execute(dsn, f'DROP TABLE IF EXISTS "{name}"')


def test_mode_follows_the_server_unless_named(dsn: str, pg_dsn: str) -> None:
    """Two-phase where the server has prepared transactions; epoch where it has none or
    where the table names it; two-phase named on a server without them is refused."""
    t = unique_table("epoch_mode")
    for server in (dsn, pg_dsn):
        create(server, t, ROWS)

    async def mode(server: str, **options: str) -> bool:
        sink = PostgresSink(spec(server, t, **options), ctx())
        await sink.open()
        await sink.close()
        return sink.epoch_mode

    try:
        assert asyncio.run(mode(pg_dsn)) is False
        assert asyncio.run(mode(pg_dsn, **{"sink.exactly-once.mode": "epoch"})) is True
        assert asyncio.run(mode(dsn)) is True
        with pytest.raises(PostgresError, match="max_prepared_transactions = 0"):
            asyncio.run(mode(dsn, **{"sink.exactly-once.mode": "two-phase"}))
    finally:
        for server in (dsn, pg_dsn):
            execute(server, f'DROP TABLE IF EXISTS "{t}"')


def test_digests_go_in_parts_and_follow_a_barrier_that_skipped_an_id(
    dsn: str, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts are written as rows are flushed (under the epoch after the last one); a
    barrier whose id skipped one (a checkpoint that never reached the sink) renames them,
    and a restore still drops exactly what was committed."""
    monkeypatch.setattr("runtime.connectors.postgres.epoch.SPILL_ROWS", 5)

    async def run() -> None:
        sink = await start(PostgresSink(spec(dsn, table), ctx()))
        await sink.write(batch(ROWS, rows(0, 3)))
        await sink.pre_commit(1)
        await sink.commit(1, None)
        for start_id in (3, 10, 17):  # flushed 7 at a time: a part per flush
            await sink.write(batch(ROWS, rows(start_id, start_id + 7)))
        await sink.pre_commit(3)  # checkpoint 2 never reached this sink
        await sink.close()
        assert progress(dsn, table) == [
            (0, 1, "base", 0),
            (0, 3, "written", 7),
            (0, 3, "written", 7),
            (0, 3, "written", 7),
        ]
        again = await start(PostgresSink(spec(dsn, table), ctx()), restored=1)
        await again.write(batch(ROWS, rows(3, 30)))  # the replay and 6 new rows
        await again.pre_commit(2)
        await again.close()

    asyncio.run(run())
    assert contents(dsn, table) == Counter(rows(0, 30))
