"""Exactly-once into PostgreSQL: the two-phase-commit hooks driven the way the checkpoint
coordinator drives them (write, ``pre_commit(n)`` at the barrier, ``commit(n, handle)``
when checkpoint n completes, ``PostgresSink.recover`` after a restart), against the real
server, with a writer process SIGKILLed between pre-commit and commit.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from typing import Any

import psycopg
import pytest

from catalog.connectors import Guarantee
from runtime.connectors.postgres.conn import DataLossError, PostgresError
from runtime.connectors.postgres.sink import PostgresSink
from runtime.connectors.postgres.txn import COMMITS_TABLE, check_prepared_transactions, default_prefix

from .test_postgres_connector import batch, cols, create, ctx, execute, sink_spec, unique_table

pytestmark = pytest.mark.postgres

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EO = Guarantee.EXACTLY_ONCE
ROWS = cols("id BIGINT", "v STRING")


@pytest.fixture
def table(pg_dsn: str) -> Any:
    t = unique_table("eo")
    create(pg_dsn, t, ROWS)
    yield t
    prefix = default_prefix("job", t)
    for (gid,) in execute(pg_dsn, "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE %s", [prefix + "%"]):
        execute(pg_dsn, f"ROLLBACK PREPARED '{gid}'")
    execute(pg_dsn, f'DROP TABLE IF EXISTS "{t}"')
    execute(pg_dsn, f"DELETE FROM {COMMITS_TABLE} WHERE sink_id = %s", [prefix])


def prepared(dsn: str, prefix: str) -> list[str]:
    rows = execute(dsn, "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE %s ORDER BY gid", [prefix + "%"])
    return [r[0] for r in rows]


def leave_prepared(dsn: str, gid: str, statement: str = "SELECT 1") -> None:
    """A prepared transaction left behind, as a crashed writer leaves one."""
    conn = psycopg.connect(dsn)
    conn.tpc_begin(gid)
    conn.execute(statement)
    conn.tpc_prepare()
    conn.close()


def ids(dsn: str, table: str) -> list[int]:
    return [r[0] for r in execute(dsn, f'SELECT id FROM "{table}" ORDER BY id')]


def rows(start: int, stop: int) -> list[tuple[Any, ...]]:
    return [(i, f"v{i}") for i in range(start, stop)]


def test_pre_committed_rows_stay_invisible_until_commit(pg_dsn: str, table: str) -> None:
    spec = sink_spec(pg_dsn, table, ROWS, guarantee=EO, options={"sink.buffer-flush.max-rows": "2"})
    sink = PostgresSink(spec, ctx())
    prefix = default_prefix("job", table)

    async def run() -> None:
        await sink.open()
        await sink.write(batch(ROWS, rows(0, 5)))  # flushed into the open transaction
        assert ids(pg_dsn, table) == []
        h1 = await sink.pre_commit(1)
        assert h1["gid"] == f"{prefix}-0-1" and h1["rows"] == 5
        await sink.write(batch(ROWS, rows(5, 8)))
        h2 = await sink.pre_commit(2)
        assert await sink.pre_commit(3) is None  # nothing written since: nothing to prepare
        assert ids(pg_dsn, table) == [] and prepared(pg_dsn, prefix) == [h1["gid"], h2["gid"]]
        await sink.commit(1, h1)
        assert ids(pg_dsn, table) == list(range(5))
        await sink.commit(1, h1)  # a second commit of the same handle is harmless
        await sink.commit(2, h2)
        await sink.commit(3, None)
        await sink.close()
        assert ids(pg_dsn, table) == list(range(8)) and prepared(pg_dsn, prefix) == []
        marker = execute(
            pg_dsn, f"SELECT subtask, checkpoint_id FROM {COMMITS_TABLE} WHERE gid = %s", [h1["gid"]]
        )
        assert marker == [(0, 1)]

    asyncio.run(run())


def test_upserts_in_a_prepared_transaction(pg_dsn: str) -> None:
    counts = cols("word STRING", "n BIGINT")
    t = unique_table("eo_upsert")
    create(pg_dsn, t, counts, key=("word",))
    try:
        sink = PostgresSink(sink_spec(pg_dsn, t, counts, key=("word",), guarantee=EO), ctx())

        def table() -> dict[str, int]:
            return dict(execute(pg_dsn, f'SELECT word, n FROM "{t}"'))

        async def run() -> None:
            await sink.open()
            await sink.write(batch(counts, [("a", 1), ("a", 1), ("a", 2), ("b", 1)], kinds=[0, 1, 2, 0]))
            h1 = await sink.pre_commit(1)
            # Until checkpoint 1 commits, the changes after its barrier wait in memory: in
            # the next transaction the delete would not see "b" (and would wait on its lock).
            await sink.write(batch(counts, [("b", 1), ("c", 1)], kinds=[3, 0]))
            assert table() == {}
            await sink.commit(1, h1)
            assert table() == {"a": 2, "b": 1}
            h2 = await sink.pre_commit(2)
            await sink.write(batch(counts, [("a", 2), ("a", 5)], kinds=[1, 2]))
            # Barrier 3 before checkpoint 2's commit: 2 is committed early, then 3 prepared.
            h3 = await sink.pre_commit(3)
            assert table() == {"a": 2, "c": 1}
            await sink.commit(2, h2)  # already committed: fine
            await sink.commit(3, h3)
            await sink.close()

        asyncio.run(run())
        assert table() == {"a": 5, "c": 1}
    finally:
        execute(pg_dsn, f'DROP TABLE IF EXISTS "{t}"')


# A writer that pre-commits checkpoint 1 (recorded: its handle is printed, as the
# coordinator stores it), then pre-commits checkpoint 2 (never completed: not printed),
# and waits to be SIGKILLed before anything is committed.
CRASHING_WRITER = r"""
import asyncio, json, sys
from catalog.connectors import Guarantee
from planner.physical import Field, SinkSpec
from runtime.connectors.base import SubtaskContext
from runtime.connectors.postgres.sink import PostgresSink
import pyarrow as pa

async def main(dsn, table, subtask):
    cols = (Field("id", "BIGINT"), Field("v", "STRING"))
    opts = {"connector": "postgres", "dsn": dsn, "table-name": table}
    spec = SinkSpec(table, "postgres", opts, cols, guarantee=Guarantee.EXACTLY_ONCE)
    sink = PostgresSink(spec, SubtaskContext("job", 1, "sink", int(subtask), 2))
    await sink.open()
    base = int(subtask) * 1000
    await sink.write(pa.record_batch({"id": list(range(base, base + 50)), "v": ["x"] * 50}))
    handle = await sink.pre_commit(1)
    await sink.write(pa.record_batch({"id": list(range(base + 50, base + 60)), "v": ["y"] * 10}))
    await sink.pre_commit(2)
    print(json.dumps(handle), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:]))
"""


def crash_writer(dsn: str, table: str, subtask: int) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, dsn, table, str(subtask)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the writer died: {proc.stderr.read() if proc.stderr else ''}")
        handle: dict[str, Any] = json.loads(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return handle


def test_killed_writer_is_committed_exactly_once_by_a_fresh_process(pg_dsn: str, table: str) -> None:
    prefix = default_prefix("job", table)
    handles = [crash_writer(pg_dsn, table, 0), crash_writer(pg_dsn, table, 1)]
    # The killed writers' transactions outlive them: checkpoint 1 and 2 of both subtasks.
    assert prepared(pg_dsn, prefix) == [f"{prefix}-{s}-{c}" for s in (0, 1) for c in (1, 2)]
    assert ids(pg_dsn, table) == []
    # A leftover of a subtask beyond today's parallelism, and one of another sink whose
    # prefix merely starts with ours: the first goes, the second stays.
    leave_prepared(pg_dsn, f"{prefix}-7-2", f"INSERT INTO \"{table}\" VALUES (7000, 'z')")
    other = f"{prefix}-x-0-1"
    leave_prepared(pg_dsn, other)
    try:
        spec = sink_spec(pg_dsn, table, ROWS, guarantee=EO)
        result = asyncio.run(PostgresSink.recover_all(spec, handles, {}, 1, job_name="job"))
        assert sorted(result.committed) == [f"{prefix}-0-1", f"{prefix}-1-1"]
        assert sorted(result.rolled_back) == [f"{prefix}-0-2", f"{prefix}-1-2", f"{prefix}-7-2"]
        assert ids(pg_dsn, table) == list(range(50)) + list(range(1000, 1050))
        assert prepared(pg_dsn, prefix) == [other]
        # Recovering again (a crash during recovery) changes nothing and is not an error.
        again = asyncio.run(PostgresSink.recover_all(spec, handles, {}, 1, job_name="job"))
        assert sorted(again.already_committed) == sorted(h["gid"] for h in handles)
        assert again.committed == [] and again.rolled_back == []
        assert ids(pg_dsn, table) == list(range(50)) + list(range(1000, 1050))
    finally:
        execute(pg_dsn, f"ROLLBACK PREPARED '{other}'")


def test_commit_of_a_rolled_back_transaction_is_data_loss(pg_dsn: str, table: str) -> None:
    sink = PostgresSink(sink_spec(pg_dsn, table, ROWS, guarantee=EO), ctx())

    async def run() -> None:
        await sink.open()
        await sink.write(batch(ROWS, rows(0, 3)))
        handle = await sink.pre_commit(4)
        execute(pg_dsn, f"ROLLBACK PREPARED '{handle['gid']}'")
        with pytest.raises(DataLossError) as e:
            await sink.commit(4, handle)
        assert f"'{handle['gid']}'" in str(e.value) and "rolled back" in str(e.value)
        await sink.close()

    asyncio.run(run())


def test_end_of_input_commits_the_tail_a_failure_rolls_it_back(pg_dsn: str, table: str) -> None:
    spec = sink_spec(pg_dsn, table, ROWS, guarantee=EO)

    async def run() -> None:
        failing = PostgresSink(spec, ctx())
        await failing.open()
        await failing.write(batch(ROWS, rows(0, 3)))
        await failing.close()  # no end of input: the task failed; recovery replays these
        assert ids(pg_dsn, table) == []
        finishing = PostgresSink(spec, ctx())
        await finishing.open()
        await finishing.write(batch(ROWS, rows(10, 13)))
        await finishing.flush()  # end of input; no final checkpoint comes
        await finishing.close()

    asyncio.run(run())
    assert ids(pg_dsn, table) == [10, 11, 12]
    assert prepared(pg_dsn, default_prefix("job", table)) == []


def test_leftover_gid_makes_pre_commit_say_what_to_do(pg_dsn: str, table: str) -> None:
    prefix = default_prefix("job", table)
    leave_prepared(pg_dsn, f"{prefix}-0-1")
    sink = PostgresSink(sink_spec(pg_dsn, table, ROWS, guarantee=EO), ctx())

    async def run() -> None:
        await sink.open()
        await sink.write(batch(ROWS, rows(0, 1)))
        with pytest.raises(PostgresError, match="left over from an earlier run"):
            await sink.pre_commit(1)
        await sink.close()

    asyncio.run(run())


def test_prepared_transactions_disabled_refuses_with_instructions(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        setting = conn.execute("SHOW max_prepared_transactions").fetchone()
    assert setting is not None and int(setting[0]) > 0  # the server of the tests can do 2PC
    check_prepared_transactions(str(setting[0]), "t")
    with pytest.raises(PostgresError) as e:
        check_prepared_transactions("0", "table 'ledger'")
    text = str(e.value)
    assert "max_prepared_transactions = 0" in text and "table 'ledger'" in text
    assert "ALTER SYSTEM SET max_prepared_transactions" in text and "postgresql.conf" in text
    assert "restart" in text and "at-least-once" in text


def test_transactional_id_prefix_option_names_the_gids(pg_dsn: str, table: str) -> None:
    prefix = f"ledger-{uuid.uuid4().hex[:6]}"
    spec = sink_spec(pg_dsn, table, ROWS, guarantee=EO, options={"sink.transactional-id-prefix": prefix})
    sink = PostgresSink(spec, ctx(subtask=3, parallelism=4))

    async def run() -> None:
        await sink.open()
        await sink.write(batch(ROWS, rows(0, 1)))
        handle = await sink.pre_commit(9)
        assert handle["gid"] == f"{prefix}-3-9"
        result = await PostgresSink.recover_all(spec, [], job_name="job")  # a fresh start
        assert result.rolled_back == [f"{prefix}-3-9"]
        await sink.close()

    asyncio.run(run())
    assert ids(pg_dsn, table) == []


def test_each_subtask_recovers_its_share_after_a_rescale(pg_dsn: str, table: str) -> None:
    """Two writers of a run at parallelism 2 crash; the restart runs at parallelism 1 (its
    subtask 0 cleans up old subtask 1 too) and each new subtask recovers through the hook
    the coordinator calls, ``recover(handles)`` after ``open``."""
    prefix = default_prefix("job", table)
    handles = [crash_writer(pg_dsn, table, 0), crash_writer(pg_dsn, table, 1)]
    spec = sink_spec(pg_dsn, table, ROWS, guarantee=EO)

    async def run() -> None:
        sink = PostgresSink(spec, ctx(0, 1))
        await sink.open()
        await sink.recover([(1, handles[0]), (1, handles[1])])
        result = sink.recovered
        assert sorted(result.committed) == [f"{prefix}-0-1", f"{prefix}-1-1"]
        assert sorted(result.rolled_back) == [f"{prefix}-0-2", f"{prefix}-1-2"]
        await sink.write(batch(ROWS, rows(5000, 5001)))
        h = await sink.pre_commit(2)  # the gid of the rolled-back leftover is free again
        await sink.commit(2, h)
        await sink.close()

    asyncio.run(run())
    assert ids(pg_dsn, table) == [*range(50), *range(1000, 1050), 5000]
    assert prepared(pg_dsn, prefix) == []


def test_recover_at_the_same_parallelism_leaves_the_other_subtasks_alone(pg_dsn: str, table: str) -> None:
    prefix = default_prefix("job", table)
    leave_prepared(pg_dsn, f"{prefix}-0-4")
    leave_prepared(pg_dsn, f"{prefix}-1-4")
    spec = sink_spec(pg_dsn, table, ROWS, guarantee=EO)

    async def run() -> list[str]:
        sink = PostgresSink(spec, ctx(1, 2))
        await sink.open()
        await sink.recover([])  # a fresh start of subtask 1 of 2
        await sink.close()
        return sink.recovered.rolled_back

    assert asyncio.run(run()) == [f"{prefix}-1-4"]
    assert prepared(pg_dsn, prefix) == [f"{prefix}-0-4"]
