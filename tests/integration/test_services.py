"""Protocol facts the exactly-once sinks rely on, pinned against the real services.

Kafka (aiokafka against the broker that scripts/services runs) and PostgreSQL (psycopg 3
against Debian's server). Each test states one fact; tests/README.md says what follows for
the connectors. Nothing here is mocked.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

# ------------------------------------------------------------------------------- Kafka

# A producer that writes `count` records in a transaction, flushes them, prints its
# handle (producer id and epoch) and waits to be killed before it commits.
CRASHING_PRODUCER = r"""
import asyncio, json, sys
from aiokafka import AIOKafkaProducer

async def main(bootstrap, txn_id, topic, count, timeout_ms):
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=txn_id,
        transaction_timeout_ms=int(timeout_ms),
    )
    await producer.start()
    await producer.begin_transaction()
    for i in range(int(count)):
        await producer.send(topic, f"r{i}".encode())
    await producer.flush()
    tm = producer._txn_manager  # aiokafka has no public accessor for these two
    print(json.dumps({"producer_id": tm.producer_id, "epoch": tm.producer_epoch}), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:]))
"""


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def produce_then_crash(
    bootstrap: str, txn_id: str, topic: str, count: int, timeout_ms: int = 60_000
) -> dict[str, int]:
    """Runs CRASHING_PRODUCER in a child process, SIGKILLs it once it has flushed, and
    returns the handle it printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_PRODUCER, bootstrap, txn_id, topic, str(count), str(timeout_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, f"the producer process exited with {child.wait()} before its handle"
        handle: dict[str, int] = json.loads(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return handle


async def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def end_txn(bootstrap: str, txn_id: str, producer_id: int, epoch: int, commit: bool) -> str:
    """EndTxn for a stored handle, from a client that never ran InitProducerId for it:
    what the Kafka sink's recovery does. Returns the error's class name ("NoError")."""
    from aiokafka import errors
    from aiokafka.client import AIOKafkaClient, CoordinationType
    from aiokafka.protocol.transaction import EndTxnRequest

    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        deadline = time.monotonic() + 30
        while True:
            node = await client.coordinator_lookup(CoordinationType.TRANSACTION, txn_id)
            resp = await client.send(node, EndTxnRequest(txn_id, producer_id, epoch, commit))
            error = errors.for_code(resp.error_code)
            retriable = (
                errors.CoordinatorLoadInProgressError,
                errors.CoordinatorNotAvailableError,
                errors.NotCoordinatorError,
                errors.ConcurrentTransactions,
            )
            if error in retriable and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                continue
            return str(error.__name__)
    finally:
        await client.close()


async def read_topic(
    bootstrap: str, topic: str, isolation_level: str = "read_committed"
) -> tuple[int, list[str]]:
    """(end offset as this isolation level sees it, values of every record it reads)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level=isolation_level, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[str] = []
        while await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=1000)
            values += [m.value.decode() for m in batches.get(tp, [])]
        # Nothing more shows up (records beyond the last stable offset stay hidden).
        batches = await consumer.getmany(tp, timeout_ms=300)
        values += [m.value.decode() for m in batches.get(tp, [])]
        return end, values
    finally:
        await consumer.stop()


@contextmanager
def request_versions() -> Iterator[dict[str, int]]:
    """Records which version of each request aiokafka negotiated with the broker."""
    from aiokafka.protocol import api

    seen: dict[str, int] = {}
    original = api.Request.prepare

    def prepare(self: Any, versions: Any) -> Any:
        struct = original(self, versions)
        seen[type(self).__name__] = struct.API_VERSION
        return struct

    api.Request.prepare = prepare  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        api.Request.prepare = original  # type: ignore[method-assign]


@pytest.mark.kafka
def test_kafka_read_committed_sees_committed_records_only(kafka_bootstrap: str) -> None:
    from aiokafka import AIOKafkaProducer

    topic = unique("committed-only")

    async def scenario() -> dict[str, int]:
        await create_topic(kafka_bootstrap, topic)
        with request_versions() as versions:
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=unique("txn"))
            await producer.start()
            try:
                async with producer.transaction():
                    for v in ("c0", "c1"):
                        await producer.send_and_wait(topic, v.encode())
                await producer.begin_transaction()
                for v in ("a0", "a1", "a2"):
                    await producer.send(topic, v.encode())
                await producer.flush()
                await producer.abort_transaction()
                async with producer.transaction():
                    await producer.send_and_wait(topic, b"c2")
            finally:
                await producer.stop()
            assert await read_topic(kafka_bootstrap, topic) == (9, ["c0", "c1", "c2"])
        return versions

    versions = run(scenario())
    # The aborted records are in the log all the same; only read_committed hides them.
    _, everything = run(read_topic(kafka_bootstrap, topic, "read_uncommitted"))
    assert everything == ["c0", "c1", "a0", "a1", "a2", "c2"]
    # aiokafka 0.14 speaks only v0 of the transaction APIs, which Kafka 4.x still serves
    # (tests/README.md): transactions then follow the classic protocol, in which the
    # epoch stays the same from one transaction to the next.
    assert versions["InitProducerIdRequest"] == 0
    assert versions["AddPartitionsToTxnRequest"] == 0
    assert versions["EndTxnRequest"] == 0
    assert versions["FetchRequest"] >= 4  # read_committed needs Fetch v4+


@pytest.mark.kafka
def test_kafka_recovery_commits_a_crashed_producers_transaction(kafka_bootstrap: str) -> None:
    topic, txn_id = unique("resume"), unique("txn-resume")
    run(create_topic(kafka_bootstrap, topic))
    handle = produce_then_crash(kafka_bootstrap, txn_id, topic, 5)
    pid, epoch = handle["producer_id"], handle["epoch"]

    # Open transaction: read_committed stops at its first record.
    assert run(read_topic(kafka_bootstrap, topic)) == (0, [])

    # A fresh client commits it with EndTxn and the stored handle, no InitProducerId.
    assert run(end_txn(kafka_bootstrap, txn_id, pid, epoch, commit=True)) == "NoError"
    assert run(read_topic(kafka_bootstrap, topic)) == (6, [f"r{i}" for i in range(5)])

    # Committing again is harmless (a retried recovery) and publishes nothing twice.
    assert run(end_txn(kafka_bootstrap, txn_id, pid, epoch, commit=True)) == "NoError"
    assert run(read_topic(kafka_bootstrap, topic)) == (6, [f"r{i}" for i in range(5)])
    # Aborting a committed transaction is refused.
    assert run(end_txn(kafka_bootstrap, txn_id, pid, epoch, commit=False)) == "InvalidTxnState"
    # A handle whose epoch or id does not match is refused.
    assert run(end_txn(kafka_bootstrap, txn_id, pid, epoch + 1, True)) == "InvalidProducerEpoch"
    unknown = unique("txn-never-used")
    assert run(end_txn(kafka_bootstrap, unknown, pid, epoch, True)) == "InvalidProducerIdMapping"


@pytest.mark.kafka
def test_kafka_init_producer_id_aborts_what_a_crashed_producer_left_open(
    kafka_bootstrap: str,
) -> None:
    from aiokafka import AIOKafkaProducer

    topic, txn_id = unique("fence"), unique("txn-fence")
    run(create_topic(kafka_bootstrap, topic))
    handle = produce_then_crash(kafka_bootstrap, txn_id, topic, 3)

    async def fence() -> tuple[int, int]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=txn_id)
        await producer.start()  # InitProducerId: aborts the open transaction, bumps the epoch
        try:
            tm = producer._txn_manager
            return tm.producer_id, tm.producer_epoch
        finally:
            await producer.stop()

    pid, epoch = run(fence())
    assert pid == handle["producer_id"]
    assert epoch > handle["epoch"]
    end, values = run(read_topic(kafka_bootstrap, topic))
    assert values == []
    assert end == 4  # 3 aborted records and the abort marker, now stable
    # The old handle is fenced: recovery cannot commit it any more.
    assert (
        run(end_txn(kafka_bootstrap, txn_id, handle["producer_id"], handle["epoch"], True))
        == "InvalidProducerEpoch"
    )


@pytest.mark.kafka
def test_kafka_transaction_timeout_aborts_and_fences_the_handle(kafka_bootstrap: str) -> None:
    topic, txn_id = unique("timeout"), unique("txn-timeout")
    run(create_topic(kafka_bootstrap, topic))
    handle = produce_then_crash(kafka_bootstrap, txn_id, topic, 3, timeout_ms=1000)

    # The coordinator aborts it once transaction.timeout.ms has passed (it looks every
    # transaction.abort.timed.out.transaction.cleanup.interval.ms: 1 s on our broker,
    # 10 s by default); the abort marker makes the records stable, and hidden.
    deadline = time.monotonic() + 40
    while (result := run(read_topic(kafka_bootstrap, topic)))[0] == 0:
        assert time.monotonic() < deadline, "the timed-out transaction was never aborted"
        time.sleep(0.5)
    assert result == (4, [])
    assert (
        run(end_txn(kafka_bootstrap, txn_id, handle["producer_id"], handle["epoch"], True))
        == "InvalidProducerEpoch"
    )


@pytest.mark.kafka
def test_kafka_a_handle_names_the_id_and_epoch_not_one_transaction(kafka_bootstrap: str) -> None:
    """With aiokafka's v0 transactions one producer keeps its epoch across transactions,
    so EndTxn for an old handle commits whatever transaction is open now on that id."""
    from aiokafka import AIOKafkaProducer

    topic = unique("stale-handle")
    txn_id = unique("txn-stale")

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=txn_id)
        await producer.start()
        try:
            async with producer.transaction():
                await producer.send_and_wait(topic, b"first")
            tm = producer._txn_manager
            old_handle = (tm.producer_id, tm.producer_epoch)
            await producer.begin_transaction()
            await producer.send_and_wait(topic, b"second")
            assert (tm.producer_id, tm.producer_epoch) == old_handle
            assert await end_txn(kafka_bootstrap, txn_id, *old_handle, commit=True) == "NoError"
            assert (await read_topic(kafka_bootstrap, topic))[1] == ["first", "second"]
            await producer.commit_transaction()  # answered NoError too: same id, same epoch
        finally:
            await producer.stop()

    run(scenario())


# ------------------------------------------------------------------------------- PostgreSQL

# A client that prepares a transaction (inserting `row` into `table`) and waits to be
# killed: the prepared transaction must outlive its connection.
PREPARING_CLIENT = r"""
import sys, psycopg
dsn, table, gid, row = sys.argv[1:]
conn = psycopg.connect(dsn)
conn.tpc_begin(gid)
conn.execute(f"INSERT INTO {table} VALUES (%s)", [row])
conn.tpc_prepare()
print(conn.info.backend_pid, flush=True)
sys.stdin.read()
"""


@pytest.mark.postgres
def test_postgres_allows_prepared_transactions(pg_dsn: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SHOW max_prepared_transactions").fetchone()
        assert row is not None and int(row[0]) > 0
        version = conn.info.server_version
        assert version >= 150000, version


@pytest.mark.postgres
def test_postgres_noprep_refuses_prepared_transactions(pg_noprep_dsn: str) -> None:
    """The second server (postgres-noprep) is what PostgreSQL ships and many managed
    servers keep: PREPARE TRANSACTION fails there, so the sink's epoch mode is needed."""
    import psycopg

    with psycopg.connect(pg_noprep_dsn) as conn:
        assert conn.execute("SHOW max_prepared_transactions").fetchone() == ("0",)
        conn.execute("SELECT 1")
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="disabled"):
            conn.execute("PREPARE TRANSACTION 'sqlstream-noprep-probe'")


@pytest.mark.postgres
def test_postgres_prepared_transaction_outlives_its_killed_client(pg_dsn: str) -> None:
    import psycopg
    from psycopg import errors

    table = unique("tpc").replace("-", "_")
    gid = unique("sqlstream-sink-0-chk-7")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (v text)")
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", PREPARING_CLIENT, pg_dsn, table, gid, "row-1"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            backend_pid = int(child.stdout.readline())
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()

        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            # The killed client's backend goes away; its prepared transaction stays.
            deadline = time.monotonic() + 10
            while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend_pid]).fetchone():
                assert time.monotonic() < deadline, "the killed client's backend lingers"
                time.sleep(0.1)
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
            prepared = conn.execute(
                "SELECT gid, owner, database FROM pg_prepared_xacts WHERE gid = %s", [gid]
            ).fetchall()
            assert prepared == [(gid, "sqlstream", conn.info.dbname)]

        with psycopg.connect(pg_dsn) as conn:
            xids = [x for x in conn.tpc_recover() if x.gtrid == gid]
            assert len(xids) == 1
            assert xids[0].format_id is None  # a plain string gid, not an XA triple
            conn.tpc_commit(xids[0])
            assert conn.execute(f"SELECT v FROM {table}").fetchall() == [("row-1",)]
            conn.commit()

        with psycopg.connect(pg_dsn) as conn:
            assert [x for x in conn.tpc_recover() if x.gtrid == gid] == []
            # A second COMMIT PREPARED of the same gid: "does not exist".
            with pytest.raises(errors.UndefinedObject, match="does not exist"):
                conn.tpc_commit(gid)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.postgres
def test_postgres_terminated_backend_keeps_prepared_and_rolled_back_looks_committed(
    pg_dsn: str,
) -> None:
    """A second commit fails alike for a gid that was committed and one that was rolled
    back, so recovery tells them apart by a marker row written in the transaction."""
    import psycopg
    from psycopg import errors

    table = unique("marker").replace("-", "_")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (sink text, subtask int, checkpoint bigint)")
    try:
        outcomes = {}
        for checkpoint, action in ((1, "commit"), (2, "rollback")):
            gid = unique(f"sqlstream-marker-{checkpoint}")
            conn = psycopg.connect(pg_dsn)
            conn.tpc_begin(conn.xid(0x5153, gid, "sink-0"))  # an XA triple this time
            conn.execute(f"INSERT INTO {table} VALUES ('sink', 0, %s)", [checkpoint])
            conn.tpc_prepare()
            with psycopg.connect(pg_dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT 1")
            conn.close()

            with psycopg.connect(pg_dsn) as rec:
                [xid] = [x for x in rec.tpc_recover() if x.gtrid == gid]
                assert (xid.format_id, xid.bqual) == (0x5153, "sink-0")
                if action == "commit":
                    rec.tpc_commit(xid)
                else:
                    rec.tpc_rollback(xid)
                with pytest.raises(errors.UndefinedObject, match="does not exist"):
                    rec.tpc_commit(xid)
                row = rec.execute(
                    f"SELECT count(*) FROM {table} WHERE checkpoint = %s", [checkpoint]
                ).fetchone()
                outcomes[action] = row[0] if row else None
        assert outcomes == {"commit": 1, "rollback": 0}
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
