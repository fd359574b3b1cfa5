"""The ``postgres-cdc`` source against the real server (wal_level = logical, a REPLICATION
role): snapshot then changes, both changelog modes, exactly-once across restarts from a
checkpoint (mid-snapshot and mid-stream), the slot confirmed only when a checkpoint
completes, and each refusal naming its fix. The reader is driven the way the source
operator drives it: ``checkpoint_position(n)`` at a barrier, ``notify_checkpoint_complete``
when checkpoint n completes, ``restore`` + ``open`` on a restart.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from catalog.errors import OptionError
from planner.physical import ROW_KIND_COLUMN, Field, SourceSpec
from runtime.connectors.base import SubtaskContext
from runtime.connectors.postgres_cdc.server import CdcError
from runtime.connectors.postgres_cdc.source import PostgresCdcSource

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = (Field("id", "BIGINT NOT NULL"), Field("name", "STRING"), Field("amount", "DECIMAL(10, 2)"))
KINDS = {0: "+I", 1: "-U", 2: "+U", 3: "-D"}


def _conn(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True)


@pytest.fixture
def table(pg_dsn: str) -> Iterator[str]:
    """A fresh table (REPLICA IDENTITY FULL) named like its slot; slot and publication
    are dropped afterwards."""
    name = f"cdc_{uuid.uuid4().hex[:10]}"
    with _conn(pg_dsn) as c:
        c.execute(f"CREATE TABLE {name} (id bigint PRIMARY KEY, name text, amount numeric(10,2))")
        c.execute(f"ALTER TABLE {name} REPLICA IDENTITY FULL")
    yield name
    with _conn(pg_dsn) as c:
        c.execute("SET lock_timeout = '10s'")  # a failed test's reader may still hold the table
        c.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
            [name],
        )
        c.execute(f"DROP PUBLICATION IF EXISTS {name}")
        c.execute(f"DROP TABLE IF EXISTS {name}")


def options(dsn: str, table: str, **extra: str) -> dict[str, str]:
    p = conninfo_to_dict(dsn)
    return {
        "hostname": str(p["host"]), "port": str(p["port"]), "username": str(p["user"]),
        "password": str(p["password"]), "database-name": str(p["dbname"]), "schema-name": "public",
        "table-name": table, "slot.name": table, **extra,
    }  # fmt: skip


def reader(dsn: str, table: str, metadata: bool = False, **extra: str) -> PostgresCdcSource:
    columns = COLUMNS
    meta: dict[str, str] = {}
    if metadata:
        columns = (*COLUMNS, Field("op_ts", "TIMESTAMP_LTZ(3) NOT NULL"), Field("tbl", "STRING NOT NULL"))
        meta = {"op_ts": "op_ts", "tbl": "table_name"}
    spec = SourceSpec(
        table="src", connector="postgres-cdc", options=options(dsn, table, **extra), columns=columns,
        metadata=meta, primary_key=("id",),
    )  # fmt: skip
    return PostgresCdcSource(spec, SubtaskContext("job", 1, "src", 0, 1))


async def drain(r: PostgresCdcSource, max_rows: int = 1000, quiet: int = 3) -> list[dict[str, Any]]:
    """Poll until ``quiet`` polls in a row (after the snapshot) found nothing."""
    out: list[dict[str, Any]] = []
    empty = 0
    while empty < quiet:
        batch = await r.poll(max_rows)
        if batch is None or batch.num_rows == 0:
            empty += 1 if r.phase == "stream" else 0
            await asyncio.sleep(0.06)
            continue
        empty = 0
        out += batch.to_pylist()
    return out


def apply(state: dict[int, tuple[Any, ...]], rows: list[dict[str, Any]], full: bool = True) -> None:
    """Apply a changelog strictly: an insert of a present key, a delete or -U of a row that
    is not there as given, fails (a duplicate or a lost change shows)."""
    for row in rows:
        kind = KINDS[row[ROW_KIND_COLUMN]]
        value = (row["id"], row["name"], row["amount"])
        key = row["id"]
        if kind == "+I":
            assert key not in state, f"+I of present key {key}"
            state[key] = value
        elif kind == "+U":
            assert key in state or not full, f"+U of absent key {key}"
            state[key] = value
        elif kind == "-U":
            assert state.get(key) == value, f"-U {value} but the row is {state.get(key)}"
        else:
            assert key in state, f"-D of absent key {key}"
            if full:
                assert state[key] == value, f"-D {value} but the row is {state[key]}"
            del state[key]


def table_rows(dsn: str, table: str) -> dict[int, tuple[Any, ...]]:
    with _conn(dsn) as c:
        return {r[0]: r for r in c.execute(f"SELECT id, name, amount FROM {table}").fetchall()}


def churn(dsn: str, table: str, rng: random.Random, n: int, next_id: list[int]) -> None:
    """``n`` random transactions of inserts, updates, key changes and deletes."""
    with _conn(dsn) as c:
        for _ in range(n):
            with c.transaction():
                for _ in range(rng.randint(1, 4)):
                    ids = [r[0] for r in c.execute(f"SELECT id FROM {table} ORDER BY random() LIMIT 3")]
                    op = rng.random()
                    if op < 0.4 or not ids:
                        next_id[0] += 1
                        c.execute(
                            f"INSERT INTO {table} VALUES (%s, %s, %s)",
                            [next_id[0], f"n{next_id[0]}", rng.randint(0, 999)],
                        )
                    elif op < 0.75:
                        c.execute(
                            f"UPDATE {table} SET name = %s, amount = amount + 1 WHERE id = %s",
                            [f"u{rng.random():.4f}", ids[0]],
                        )
                    elif op < 0.85:
                        next_id[0] += 1
                        c.execute(f"UPDATE {table} SET id = %s WHERE id = %s", [next_id[0], ids[0]])
                    else:
                        c.execute(f"DELETE FROM {table} WHERE id = %s", [ids[0]])


def slot_confirmed(dsn: str, slot: str) -> int | None:
    from runtime.connectors.postgres_cdc.pgoutput import parse_lsn

    with _conn(dsn) as c:
        row = c.execute(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", [slot]
        ).fetchone()
    return None if row is None else parse_lsn(row[0])


# ---- the changelog ----------------------------------------------------------------------


def test_snapshot_then_changes_as_flink_cdc_emits_them(pg_dsn: str, table: str) -> None:
    with _conn(pg_dsn) as c:
        c.execute(f"INSERT INTO {table} VALUES (1, 'a', 1.5), (2, 'b', 2)")

    async def run() -> list[dict[str, Any]]:
        r = reader(pg_dsn, table, metadata=True)
        await r.open()
        with _conn(pg_dsn) as c:
            c.execute(f"INSERT INTO {table} VALUES (3, 'c', 3)")
            c.execute(f"UPDATE {table} SET name = 'A' WHERE id = 1")
            c.execute(f"UPDATE {table} SET id = 20 WHERE id = 2")
            c.execute(f"DELETE FROM {table} WHERE id = 3")
        try:
            return await drain(r)
        finally:
            await r.close()

    rows = asyncio.run(run())
    got = [(KINDS[r[ROW_KIND_COLUMN]], r["id"], r["name"], str(r["amount"])) for r in rows]
    assert got == [
        ("+I", 1, "a", "1.50"), ("+I", 2, "b", "2.00"),  # the snapshot
        ("+I", 3, "c", "3.00"),
        ("-U", 1, "a", "1.50"), ("+U", 1, "A", "1.50"),
        ("-D", 2, "b", "2.00"), ("+I", 20, "b", "2.00"),  # a key change: delete + insert
        ("-D", 3, "c", "3.00"),
    ]  # fmt: skip
    assert all(r["tbl"] == table for r in rows)
    assert {r["op_ts"].year for r in rows[:2]} == {1970}  # snapshot rows: op_ts 0, as Flink CDC
    assert all(r["op_ts"].year > 2000 for r in rows[2:])


def test_upsert_mode_needs_no_full_identity_and_emits_no_update_before(pg_dsn: str, table: str) -> None:
    with _conn(pg_dsn) as c:
        c.execute(f"ALTER TABLE {table} REPLICA IDENTITY DEFAULT")
        c.execute(f"INSERT INTO {table} VALUES (1, 'a', 1)")

    async def run() -> list[dict[str, Any]]:
        r = reader(pg_dsn, table, **{"changelog-mode": "upsert"})
        await r.open()
        with _conn(pg_dsn) as c:
            c.execute(f"UPDATE {table} SET name = 'b' WHERE id = 1")
            c.execute(f"DELETE FROM {table} WHERE id = 1")
        try:
            return await drain(r)
        finally:
            await r.close()

    got = [(KINDS[r[ROW_KIND_COLUMN]], r["id"], r["name"]) for r in asyncio.run(run())]
    assert got == [("+I", 1, "a"), ("+U", 1, "b"), ("-D", 1, None)]  # the delete carries the key


def test_latest_offset_skips_the_snapshot_and_what_came_before(pg_dsn: str, table: str) -> None:
    with _conn(pg_dsn) as c:
        c.execute(f"INSERT INTO {table} VALUES (1, 'a', 1)")

    async def run() -> list[dict[str, Any]]:
        r = reader(pg_dsn, table, **{"scan.startup.mode": "latest-offset"})
        await r.open()
        with _conn(pg_dsn) as c:
            c.execute(f"INSERT INTO {table} VALUES (2, 'b', 2)")
        try:
            return await drain(r)
        finally:
            await r.close()

    assert [(KINDS[r[ROW_KIND_COLUMN]], r["id"]) for r in asyncio.run(run())] == [("+I", 2)]


# ---- exactly once -----------------------------------------------------------------------


def test_restarts_mid_snapshot_and_mid_stream_reread_nothing_and_skip_nothing(
    pg_dsn: str, table: str
) -> None:
    """Changes race the snapshot; the job 'crashes' after a checkpoint taken mid-snapshot and
    again after one taken mid-stream (rows emitted after each checkpoint are lost with
    the crash, as downstream never committed them); the restored readers go on. The
    changelog applied strictly equals the table."""
    rng = random.Random(7)
    next_id = [0]
    with _conn(pg_dsn) as c:
        c.execute(f"INSERT INTO {table} SELECT g, 'n' || g, g FROM generate_series(1, 500) g")
    next_id[0] = 500
    state: dict[int, tuple[Any, ...]] = {}

    async def run() -> None:
        # 1: read part of the snapshot while changes land; checkpoint 1 mid-snapshot
        r1 = reader(pg_dsn, table, **{"scan.incremental.snapshot.chunk.size": "50"})
        await r1.open()
        committed: list[dict[str, Any]] = []
        for _ in range(3):
            committed += (await r1.poll(50)).to_pylist()  # type: ignore[union-attr]
            churn(pg_dsn, table, rng, 10, next_id)
        pos1 = r1.checkpoint_position(1)
        assert pos1["phase"] == "snapshot" and pos1["segments"][0][0] == ["150"], pos1
        await r1.notify_checkpoint_complete(1)
        lost = await r1.poll(50)  # emitted after the barrier: never committed downstream
        assert lost is not None and lost.num_rows == 50
        await r1.close()  # the crash
        apply(state, committed)
        # 2: restore from checkpoint 1; more churn; checkpoint 2 mid-stream, completed
        churn(pg_dsn, table, rng, 20, next_id)
        r2 = reader(pg_dsn, table, **{"scan.incremental.snapshot.chunk.size": "50"})
        r2.restore(pos1)
        await r2.open()
        rows2 = await drain(r2)
        pos2 = r2.checkpoint_position(2)
        await r2.notify_checkpoint_complete(2)
        assert slot_confirmed(pg_dsn, table) == pos2["lsn"]  # confirmed at completion only
        churn(pg_dsn, table, rng, 20, next_id)
        rows2b = await drain(r2)
        r2.checkpoint_position(3)  # checkpoint 3 never completes: the slot stays at 2
        assert rows2b and slot_confirmed(pg_dsn, table) == pos2["lsn"]
        await r2.close()  # the crash
        apply(state, rows2)
        # 3: restore from checkpoint 2: the changes after it come again, once
        churn(pg_dsn, table, rng, 10, next_id)
        r3 = reader(pg_dsn, table)
        r3.restore(pos2)
        await r3.open()
        rows3 = await drain(r3)
        await r3.close()
        apply(state, rows3)
        assert len(rows3) > len(rows2b)  # 2b's rows again, plus the newer ones

    asyncio.run(run())
    assert state == table_rows(pg_dsn, table)


def test_a_checkpoint_taken_before_any_change_resumes(pg_dsn: str, table: str) -> None:
    with _conn(pg_dsn) as c:
        c.execute(f"INSERT INTO {table} VALUES (1, 'a', 1)")

    async def run() -> list[dict[str, Any]]:
        r = reader(pg_dsn, table)
        await r.open()
        first = await drain(r)  # the snapshot, and no change since
        pos = r.checkpoint_position(1)
        await r.notify_checkpoint_complete(1)
        await r.close()
        with _conn(pg_dsn) as c:
            c.execute(f"INSERT INTO {table} VALUES (2, 'b', 2)")
        r2 = reader(pg_dsn, table)
        r2.restore(pos)
        await r2.open()
        try:
            return first + await drain(r2)
        finally:
            await r2.close()

    rows = asyncio.run(run())
    assert [(KINDS[r[ROW_KIND_COLUMN]], r["id"]) for r in rows] == [("+I", 1), ("+I", 2)]


def test_restore_after_the_slot_was_dropped_is_refused(pg_dsn: str, table: str) -> None:
    async def run() -> None:
        r = reader(pg_dsn, table)
        await r.open()
        await drain(r)
        pos = r.checkpoint_position(1)
        await r.close()
        with _conn(pg_dsn) as c:
            c.execute("SELECT pg_drop_replication_slot(%s)", [table])
        r2 = reader(pg_dsn, table)
        r2.restore(pos)
        await open_and_close(r2)

    with pytest.raises(CdcError, match="was dropped since the checkpoint") as e:
        asyncio.run(run())
    assert "--fresh" in (e.value.hint or "")


# ---- refusals ---------------------------------------------------------------------------


async def open_and_close(r: PostgresCdcSource) -> None:
    try:
        await r.open()
    finally:
        await r.close()


def _open(r: PostgresCdcSource) -> None:
    asyncio.run(open_and_close(r))


def test_a_server_without_logical_wal_is_refused(pg_noprep_dsn: str) -> None:
    with pytest.raises(CdcError, match="wal_level = replica") as e:
        _open(reader(pg_noprep_dsn, "anything"))
    assert "wal_level = logical" in (e.value.hint or "")


def test_a_table_without_primary_key_is_refused(pg_dsn: str, table: str) -> None:
    with _conn(pg_dsn) as c:
        c.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
    with pytest.raises(CdcError, match="has no primary key") as e:
        _open(reader(pg_dsn, table))
    assert "ADD PRIMARY KEY" in (e.value.hint or "")


def test_all_mode_without_full_replica_identity_is_refused(pg_dsn: str, table: str) -> None:
    with _conn(pg_dsn) as c:
        c.execute(f"ALTER TABLE {table} REPLICA IDENTITY DEFAULT")
    with pytest.raises(CdcError, match="REPLICA IDENTITY DEFAULT") as e:
        _open(reader(pg_dsn, table))
    assert "REPLICA IDENTITY FULL" in (e.value.hint or "") and "'changelog-mode' = 'upsert'" in (
        e.value.hint or ""
    )


def test_a_slot_held_by_another_job_is_refused(pg_dsn: str, table: str) -> None:
    async def run() -> None:
        first = reader(pg_dsn, table)
        await first.open()
        try:
            await open_and_close(reader(pg_dsn, table))
        finally:
            await first.close()

    with pytest.raises(CdcError, match="is held by another sqlstream job") as e:
        asyncio.run(run())
    assert "slot.name" in (e.value.hint or "")


def test_a_table_without_declared_primary_key_is_refused_at_create_table() -> None:
    from sqlstream.session import connect

    session = connect()
    ddl = ", ".join(
        f"'{k}' = '{v}'" for k, v in options("host=h port=1 user=u password=p dbname=d", "t").items()
    )
    with pytest.raises(OptionError, match="needs a PRIMARY KEY"):
        session.execute(f"CREATE TABLE t (id BIGINT) WITH ('connector' = 'postgres-cdc', {ddl})")


# ---- cleaning up ------------------------------------------------------------------------


def test_cdc_drop_removes_the_slot_and_the_publication_the_job_created(
    pg_dsn: str, table: str, tmp_path: Path
) -> None:
    _open(reader(pg_dsn, table))
    with _conn(pg_dsn) as c:
        assert c.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [table]).fetchone()
    ddl = ", ".join(f"'{k}' = '{v}'" for k, v in options(pg_dsn, table).items())
    script = tmp_path / "job.sql"
    script.write_text(
        f"CREATE TABLE src (id BIGINT, name STRING, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED) "
        f"WITH ('connector' = 'postgres-cdc', {ddl});\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "sqlstream", "cdc-drop", str(script)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"dropped replication slot '{table}' and publication '{table}'" in done.stdout
    with _conn(pg_dsn) as c:
        assert not c.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [table]).fetchone()
        assert not c.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [table]).fetchone()
    again = subprocess.run(
        [sys.executable, "-m", "sqlstream", "cdc-drop", str(script), "src"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0 and "nothing to drop" in again.stdout
