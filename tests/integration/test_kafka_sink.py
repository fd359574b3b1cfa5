"""The ``kafka`` / ``upsert-kafka`` sinks against the real broker.

The two-phase-commit hooks are driven directly, as the checkpoint coordinator drives
them: ``write`` ..., ``pre_commit(n)`` on barrier n (the handle goes into checkpoint n),
``commit(n, handle)`` once checkpoint n is complete, and ``KafkaSink.recover`` with the
handles of the restored checkpoint when a job starts again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from typing import Any

import pyarrow as pa
import pytest

from catalog.errors import OptionError
from planner.physical import ROW_KIND_COLUMN, SinkSpec
from runtime.connectors.kafka.sink import KafkaSink
from runtime.connectors.kafka.txn import TransactionLostError, TxnClient, commit_transaction, transactions
from tests.integration.test_kafka_source import COLS, create_topic, read_records, sink, unique

pytestmark = pytest.mark.kafka

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = {"execution.checkpointing.interval": "1 s", "execution.checkpointing.timeout": "10 s"}


def rows(*ids: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"id": pa.array(list(ids), pa.int32()), "name": pa.array([f"n{i}" for i in ids], pa.string())}
    )


def values(records: list[Any]) -> list[int]:
    return [json.loads(r.value)["id"] for r in records]


def eos_options(topic: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "topic": topic,
        "format": "json",
        "sink.delivery-guarantee": "exactly-once",
        "sink.transactional-id-prefix": prefix,
        "properties.transaction.timeout.ms": "60000",
        **extra,
    }


# ---- at-least-once / none, partitioners, formats --------------------------------------------


def test_at_least_once_flushes_at_pre_commit_with_key_format_and_default_partitioner(
    kafka_bootstrap: str,
) -> None:
    topic = unique("sink-alo")

    async def scenario() -> tuple[list[Any], list[Any]]:
        await create_topic(kafka_bootstrap, topic, partitions=3)
        writer = sink(
            kafka_bootstrap,
            {
                "topic": topic,
                "key.format": "raw",
                "key.fields": "name",
                "value.format": "json",
                "value.fields-include": "EXCEPT_KEY",
            },
            COLS,
        )
        await writer.open()
        await writer.write(rows(1, 2, 3, 1))
        assert await writer.pre_commit(1) is None
        seen = await read_records(kafka_bootstrap, topic, partitions=3)  # flushed: all acked
        await writer.write(rows(4))
        await writer.close()
        return seen, await read_records(kafka_bootstrap, topic, partitions=3)

    seen, everything = asyncio.run(scenario())
    assert len(seen) == 4
    assert sorted(r.value for r in everything) == [
        b'{"id":1}',
        b'{"id":1}',
        b'{"id":2}',
        b'{"id":3}',
        b'{"id":4}',
    ]
    by_key: dict[bytes, set[int]] = {}
    for r in everything:
        by_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(p) == 1 for p in by_key.values())  # one key, one partition


def test_partitioners_fixed_and_round_robin_and_guarantee_none(kafka_bootstrap: str) -> None:
    fixed, rr = unique("sink-fixed"), unique("sink-rr")

    async def scenario() -> tuple[list[Any], list[Any]]:
        await create_topic(kafka_bootstrap, fixed, partitions=3)
        await create_topic(kafka_bootstrap, rr, partitions=3)
        w1 = sink(
            kafka_bootstrap, {"topic": fixed, "format": "json", "sink.partitioner": "fixed"}, COLS, subtask=1
        )
        w2 = sink(
            kafka_bootstrap,
            {
                "topic": rr,
                "format": "csv",
                "sink.partitioner": "round-robin",
                "sink.delivery-guarantee": "none",
            },
            COLS,
        )
        for w in (w1, w2):
            await w.open()
            await w.write(rows(1, 2, 3, 4, 5, 6))
            await w.close()
        return (
            await read_records(kafka_bootstrap, fixed, partitions=3),
            await read_records(kafka_bootstrap, rr, partitions=3),
        )

    f, r = asyncio.run(scenario())
    assert {x.partition for x in f} == {1}
    assert sorted(x.partition for x in r) == [0, 0, 1, 1, 2, 2]
    assert sorted(x.value for x in r)[0] == b"1,n1"


def test_upsert_kafka_sink_writes_keys_values_and_tombstones(kafka_bootstrap: str) -> None:
    topic = unique("sink-upsert")

    async def scenario() -> list[Any]:
        await create_topic(kafka_bootstrap, topic)
        writer = sink(
            kafka_bootstrap,
            {"topic": topic, "key.format": "json", "value.format": "json"},
            COLS,
            connector="upsert-kafka",
            primary_key=("id",),
        )
        await writer.open()
        batch = rows(1, 1, 1, 2).append_column(ROW_KIND_COLUMN, pa.array([0, 1, 2, 3], pa.int8()))
        await writer.write(batch)  # +I 1, -U 1 (dropped), +U 1, -D 2
        await writer.close()
        return await read_records(kafka_bootstrap, topic)

    records = asyncio.run(scenario())
    assert [(r.key, r.value) for r in records] == [
        (b'{"id":1}', b'{"id":1,"name":"n1"}'),
        (b'{"id":1}', b'{"id":1,"name":"n1"}'),
        (b'{"id":2}', None),
    ]


# ---- exactly-once: configuration --------------------------------------------------------------


def test_exactly_once_needs_a_transactional_id_prefix(kafka_bootstrap: str) -> None:
    with pytest.raises(OptionError, match=r"sink\.transactional-id-prefix"):
        sink(
            kafka_bootstrap, {"topic": "t", "format": "json", "sink.delivery-guarantee": "exactly-once"}, COLS
        )


def test_transaction_timeout_check_refuses_a_bad_config(kafka_bootstrap: str) -> None:
    async def open_with(timeout_ms: str, config: dict[str, str]) -> None:
        writer = sink(
            kafka_bootstrap,
            eos_options("t", unique("p"), **{"properties.transaction.timeout.ms": timeout_ms}),
            COLS,
            config=config,
        )
        await writer.open()
        await writer.close()

    slow = {"execution.checkpointing.interval": "1 min", "execution.checkpointing.timeout": "10 min"}
    with pytest.raises(
        OptionError, match=r"not above the checkpoint interval plus the checkpoint timeout"
    ) as e:
        asyncio.run(open_with("60000", slow))
    assert "60000 + 600000" in str(e.value)
    with pytest.raises(OptionError, match=r"above the broker's 'transaction.max.timeout.ms' = 900000"):
        asyncio.run(open_with("3600000", slow))


# ---- exactly-once: two-phase commit -------------------------------------------------------------


def test_pre_committed_records_are_invisible_until_commit_and_double_commit_is_harmless(
    kafka_bootstrap: str,
) -> None:
    topic, prefix = unique("sink-eos"), unique("eos")

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic)
        writer = sink(kafka_bootstrap, eos_options(topic, prefix), COLS, config=CONFIG)
        await writer.open()
        await writer.write(rows(1, 2, 3))
        h1 = await writer.pre_commit(1)
        assert h1["transactional_id"] == f"{prefix}-0-0"
        assert {"producer_id", "epoch"} <= set(h1) and h1["records"] == 3
        await writer.write(rows(4))  # into the next transaction, on another id
        assert await read_records(kafka_bootstrap, topic) == []
        await writer.commit(1, h1)
        assert values(await read_records(kafka_bootstrap, topic, expect=3)) == [1, 2, 3]
        await writer.commit(1, h1)  # again: a retried commit
        h2 = await writer.pre_commit(2)
        assert h2["transactional_id"] == f"{prefix}-0-1"
        # Checkpoint 1's slot is still named by the newest complete checkpoint: not reused yet.
        await writer.write(rows(5))
        h3 = await writer.pre_commit(3)
        assert h3["transactional_id"] == f"{prefix}-0-2"
        await writer.commit(3, h3)  # commits 2 and 3 (checkpoint 2 never completed)
        # The same handles committed again from another client (as a recovery would) change nothing.
        async with TxnClient({"bootstrap_servers": kafka_bootstrap}) as client:
            for t in transactions([h1, h2, h3]):
                await commit_transaction(client, t, "again")
        for _ in range(4):  # ids rotate over a few slots; nothing is lost or doubled
            await writer.write(rows(6))
            h = await writer.pre_commit(10 + _)
            await writer.commit(10 + _, h)
        await writer.close()
        assert values(await read_records(kafka_bootstrap, topic, expect=9)) == [1, 2, 3, 4, 5, 6, 6, 6, 6]

    asyncio.run(scenario())


# A sink subtask that pre-commits checkpoint 1, prints its handle, writes on into the next
# transaction and waits to be killed before checkpoint 1's commit.
CRASHING_SINK = r"""
import asyncio, json, sys
import pyarrow as pa
from planner.physical import Field, SinkSpec
from runtime.connectors.base import SubtaskContext
from runtime.connectors.registry import create_sink

async def main(options, subtask, parallelism):
    spec = SinkSpec("t", "kafka", json.loads(options), (Field("id", "INT"), Field("name", "STRING")))
    config = {"execution.checkpointing.interval": "1 s", "execution.checkpointing.timeout": "10 s"}
    writer = create_sink(spec, SubtaskContext("job", 1, "sink", int(subtask), int(parallelism), config))
    await writer.open()
    def batch(ids):
        return pa.RecordBatch.from_pydict({"id": pa.array(ids, pa.int32()), "name": [f"n{i}" for i in ids]})
    await writer.write(batch(list(range(5))))
    handle = await writer.pre_commit(1)
    await writer.write(batch([100, 101]))
    await writer._txn.producer.flush()
    print(json.dumps(handle), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:]))
"""


def run_and_kill(options: dict[str, str], subtask: int = 0, parallelism: int = 1) -> dict[str, Any]:
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_SINK, json.dumps(options), str(subtask), str(parallelism)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, f"the sink process exited with {child.wait()} before its handle"
        handle: dict[str, Any] = json.loads(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return handle


def test_handle_committed_from_a_fresh_process_after_a_crash_appears_exactly_once(
    kafka_bootstrap: str,
) -> None:
    """The sink process is SIGKILLed between pre_commit(1) and commit(1); recovery in this
    process commits checkpoint 1's handle and aborts the transaction the crashed process
    had opened after it, also for a subtask beyond the new parallelism."""
    topic, prefix = unique("sink-crash"), unique("crash")
    options = {
        "connector": "kafka",
        "properties.bootstrap.servers": kafka_bootstrap,
        **eos_options(topic, prefix),
    }
    asyncio.run(create_topic(kafka_bootstrap, topic))
    handle = run_and_kill(options, subtask=1, parallelism=2)
    assert handle["transactional_id"] == f"{prefix}-1-0" and handle["records"] == 5

    async def scenario() -> None:
        # Open transactions: read_committed sees nothing yet.
        assert await read_records(kafka_bootstrap, topic) == []
        spec = SinkSpec("t", "kafka", options, COLS)
        report = await KafkaSink.recover_all(spec, [handle], CONFIG, parallelism=1)
        assert report.committed == [handle["transactional_id"]]
        assert f"{prefix}-1-1" in report.fenced  # subtask 1 of 2: beyond the new parallelism
        records = await read_records(kafka_bootstrap, topic, expect=5)
        assert values(records) == [0, 1, 2, 3, 4]  # 100 and 101 were aborted
        # A second recovery from the same checkpoint (a crash during the restart) is harmless.
        await KafkaSink.recover_all(spec, [handle], CONFIG, parallelism=1)
        assert values(await read_records(kafka_bootstrap, topic, expect=5)) == [0, 1, 2, 3, 4]
        everything = await read_records(kafka_bootstrap, topic, "read_uncommitted")
        assert sorted(values(everything)) == [0, 1, 2, 3, 4, 100, 101]

    asyncio.run(scenario())


def test_recovery_without_handles_aborts_a_leftover_open_transaction(kafka_bootstrap: str) -> None:
    topic, prefix = unique("sink-leftover"), unique("leftover")
    options = {
        "connector": "kafka",
        "properties.bootstrap.servers": kafka_bootstrap,
        **eos_options(topic, prefix),
    }
    asyncio.run(create_topic(kafka_bootstrap, topic))
    run_and_kill(options)  # checkpoint 1 never completed: its handle is in no checkpoint

    async def scenario() -> None:
        spec = SinkSpec("t", "kafka", options, COLS)
        await KafkaSink.recover_all(spec, [], CONFIG, parallelism=1)
        # Both transactions were aborted: the topic is readable to its end, and empty.
        assert await read_records(kafka_bootstrap, topic) == []
        writer = sink(kafka_bootstrap, eos_options(topic, prefix), COLS, config=CONFIG)
        await writer.open()
        await writer.write(rows(7))
        h = await writer.pre_commit(1)
        await writer.commit(1, h)
        await writer.close()
        assert values(await read_records(kafka_bootstrap, topic, expect=1)) == [7]

    asyncio.run(scenario())


def test_a_fenced_transaction_at_recovery_is_reported_as_data_loss(kafka_bootstrap: str) -> None:
    topic, prefix = unique("sink-lost"), unique("lost")
    options = {
        "connector": "kafka",
        "properties.bootstrap.servers": kafka_bootstrap,
        **eos_options(topic, prefix),
    }

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic)
        writer = sink(kafka_bootstrap, eos_options(topic, prefix), COLS, config=CONFIG)
        await writer.open()
        await writer.write(rows(1))
        handle = await writer.pre_commit(1)
        await writer.close()
        async with TxnClient({"bootstrap_servers": kafka_bootstrap}) as client:
            await client.fence(handle["transactional_id"], 60000)  # as a timeout would abort it
        with pytest.raises(TransactionLostError) as e:
            await KafkaSink.recover_all(
                SinkSpec("t", "kafka", options, COLS), [handle], CONFIG, parallelism=1
            )
        text = str(e.value)
        assert handle["transactional_id"] in text
        assert "records are lost" in text and "transaction.timeout.ms" in text

    asyncio.run(scenario())


def test_restored_handles_keep_their_ids_until_a_checkpoint_of_the_new_run_completes(
    kafka_bootstrap: str,
) -> None:
    topic, prefix = unique("sink-restore"), unique("restore")
    options = {
        "connector": "kafka",
        "properties.bootstrap.servers": kafka_bootstrap,
        **eos_options(topic, prefix),
    }

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic)
        spec = SinkSpec("t", "kafka", options, COLS)
        handle = run_and_kill(options)
        await KafkaSink.recover_all(spec, [handle], CONFIG, parallelism=1)
        writer = sink(kafka_bootstrap, eos_options(topic, prefix), COLS, config=CONFIG)
        assert isinstance(writer, KafkaSink)
        writer.restore([handle])
        await writer.open()
        await writer.write(rows(9))
        h = await writer.pre_commit(5)
        assert h["transactional_id"] != handle["transactional_id"]
        # The new run crashes before checkpoint 5 completes: recovery from the old checkpoint
        # again still finds the old handle committed (its id was not touched).
        await writer.close()
        await KafkaSink.recover_all(spec, [handle], CONFIG, parallelism=1)
        assert values(await read_records(kafka_bootstrap, topic, expect=5)) == [0, 1, 2, 3, 4]

    asyncio.run(scenario())


def test_writer_recover_commits_its_handles_and_fences_vanished_subtasks_after_rescale(
    kafka_bootstrap: str,
) -> None:
    """The sink operator's path: ``writer.recover(handles)`` after ``open``, before any row,
    at a lower parallelism than the crashed run (subtask 1 of 2 falls to subtask 0 of 1)."""
    topic, prefix = unique("sink-share"), unique("share")
    options = {
        "connector": "kafka",
        "properties.bootstrap.servers": kafka_bootstrap,
        **eos_options(topic, prefix),
    }
    asyncio.run(create_topic(kafka_bootstrap, topic))
    handle = run_and_kill(options, subtask=1, parallelism=2)

    async def scenario() -> None:
        writer = sink(kafka_bootstrap, eos_options(topic, prefix), COLS, config=CONFIG)
        assert isinstance(writer, KafkaSink)
        await writer.open()
        report = await writer.recover_share([[1, handle]])
        assert report.committed == [handle["transactional_id"]]
        assert f"{prefix}-1-1" in report.fenced and f"{prefix}-0-0" in report.fenced
        await writer.write(rows(50))
        h = await writer.pre_commit(2)
        await writer.commit(2, h)
        await writer.close()
        assert values(await read_records(kafka_bootstrap, topic, expect=6)) == [0, 1, 2, 3, 4, 50]

    asyncio.run(scenario())
