"""postgres-cdc logic that needs no server: the options refused at CREATE TABLE and while
planning, the changelog each mode plans, the seam between snapshot and slot (xid
visibility, key segments), pgoutput decoding of what the server sends, and the
REPLICATION refusal (the shared test server's role has REPLICATION, and no role may be
created there without it, so this one is checked against a fake connection)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import planner
from catalog import Catalog
from catalog.errors import SqlStreamError
from catalog.types import parse_type
from runtime.connectors.postgres.conn import ConnConfig
from runtime.connectors.postgres_cdc.pgoutput import UNCHANGED, Decoder
from runtime.connectors.postgres_cdc.server import CdcError, check_server
from runtime.connectors.postgres_cdc.visibility import Segment, Segments, XidSnapshot, key_value

OPTIONS = (
    "'connector' = 'postgres-cdc', 'hostname' = 'db', 'username' = 'app', 'password' = 'secret', "
    "'database-name' = 'shop', 'schema-name' = 'public', 'table-name' = 'orders', 'slot.name' = 'orders_slot'"
)
SINK = "CREATE TABLE out (id BIGINT, v STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'print')"


def catalog(ddl: str) -> Catalog:
    cat = Catalog()
    for text in (ddl, SINK):
        for statement in planner.parse(text):
            cat.create(planner.create_table(statement, cat))
    return cat


def cdc(extra: str = "", columns: str = "id BIGINT, v STRING, PRIMARY KEY (id) NOT ENFORCED") -> str:
    return f"CREATE TABLE t ({columns}) WITH ({OPTIONS}{', ' + extra if extra else ''})"


@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        (cdc(columns="id BIGINT, v STRING"), "a postgres-cdc table needs a PRIMARY KEY"),
        (
            cdc("'decoding.plugin.name' = 'decoderbufs'"),
            "'decoding.plugin.name' = 'decoderbufs' is not supported",
        ),
        (cdc().replace("orders_slot", "Orders-Slot"), "is not a replication slot name"),
        (cdc("'scan.startup.mode' = 'earliest-offset'"), "is not one of initial, latest-offset"),
        (cdc("'changelog-mode' = 'retract'"), "is not one of all, upsert"),
        (cdc().replace(", 'slot.name' = 'orders_slot'", ""), "the required option 'slot.name' is missing"),
        (cdc("'topic' = 'x'"), "unknown option 'topic' for connector 'postgres-cdc'"),
    ],
)
def test_options_are_refused_at_create_table(ddl: str, message: str) -> None:
    with pytest.raises(SqlStreamError) as e:
        catalog(ddl)
    assert message in str(e.value) and "table 't'" in str(e.value)


def test_array_columns_are_refused_while_planning() -> None:
    cat = catalog(cdc(columns="id BIGINT, v ARRAY<INT>, PRIMARY KEY (id) NOT ENFORCED"))
    with pytest.raises(SqlStreamError, match="column 'v' has type ARRAY<INT>, which the postgres-cdc source"):
        planner.explain("SELECT * FROM t", cat, {})


@pytest.mark.parametrize(("mode", "kinds"), [("all", "I,UB,UA,D"), ("upsert", "I,UA,D")])
def test_the_changelog_mode_option_decides_what_the_scan_produces(mode: str, kinds: str) -> None:
    cat = catalog(cdc(f"'changelog-mode' = '{mode}'"))
    text = planner.explain("INSERT INTO out SELECT id, v FROM t", cat, {})
    scan = next(line for line in text.splitlines() if "TableSourceScan" in line)
    assert f"changelogMode=[{kinds}]" in scan
    assert "'password' = '******'" in text and "secret" not in text


def test_xid_visibility_follows_the_snapshot_across_the_32_bit_wrap() -> None:
    # xmax just past 2^32: the 32-bit xids 5 (= 2^32 + 5) and 2^32 - 10 (before the wrap)
    s = XidSnapshot.parse(f"{(1 << 32) - 20}:{(1 << 32) + 10}:{(1 << 32) + 3}")
    assert s.visible(5) and s.visible((1 << 32) - 10)
    assert not s.visible(3)  # running when the snapshot was taken
    assert not s.visible(12)  # started after it
    assert XidSnapshot.parse(s.text()) == s


def test_a_change_is_judged_by_the_snapshot_its_key_was_read_in() -> None:
    old = XidSnapshot.parse("100:100:")  # keys up to 50 were read before xid 100 ran
    new = XidSnapshot.parse("200:200:")  # the rest after a restart, when 100 had committed
    t = parse_type("BIGINT")
    segments = Segments([Segment((key_value("50", t),), old), Segment(None, new)])
    vis = segments.visible(100)
    assert vis == [False, True]
    assert not segments.already_read(100, (key_value("7", t),), vis)  # key 7: emit the change
    assert segments.already_read(100, (key_value("70", t),), vis)  # key 70: already read


def _u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def _text(value: str) -> bytes:
    return b"t" + _u32(len(value.encode())) + value.encode()


def test_pgoutput_updates_with_old_rows_key_changes_and_unchanged_toast() -> None:
    d = Decoder()
    d.feed(b"B" + (0x10).to_bytes(8, "big") + (0).to_bytes(8, "big") + _u32(42))
    rel = b"R" + _u32(7) + b"public\0t\0f" + _u16(2)
    rel += b"\x01id\0" + _u32(20) + _u32(0xFFFFFFFF) + b"\x00doc\0" + _u32(25) + _u32(0xFFFFFFFF)
    d.feed(rel)
    d.feed(b"U" + _u32(7) + b"O" + _u16(2) + _text("1") + _text("big") + b"N" + _u16(2) + _text("1") + b"u")
    d.feed(b"D" + _u32(7) + b"K" + _u16(2) + _text("2") + b"n")
    d.feed(b"T" + _u32(1) + b"\x00" + _u32(7))
    d.feed(b"C\0" + (0x10).to_bytes(8, "big") + (0x30).to_bytes(8, "big") + (0).to_bytes(8, "big"))
    (txn,) = d.take()
    assert (txn.xid, txn.end_lsn, txn.messages) == (42, 0x30, 6)
    update, delete = txn.changes
    assert update.relation.replica_identity == "f" and update.relation.key == [True, False]
    assert update.old == ["1", "big"] and update.old_is_full and update.new == ["1", UNCHANGED]
    assert delete.old == ["2", None] and not delete.old_is_full and delete.new is None
    assert [r.name for r in txn.truncated] == ["t"]


class FakeConn:
    """Answers the two questions ``check_server`` asks."""

    def __init__(self, wal_level: str, replication: bool) -> None:
        self.answers = {"SHOW": (wal_level,), "SELECT": (replication, False)}
        self.last = ""

    def cursor(self) -> FakeConn:
        return self

    async def __aenter__(self) -> FakeConn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self, query: Any, params: Any = None) -> None:
        self.last = str(query).split()[0]

    async def fetchone(self) -> tuple[Any, ...]:
        return self.answers[self.last]


def test_a_user_without_replication_is_refused_with_the_grant_to_run() -> None:
    cfg = ConnConfig({"host": "db", "port": "5432", "dbname": "shop", "user": "app", "password": "pw"})
    conn: Any = FakeConn("logical", replication=False)
    with pytest.raises(CdcError, match="user 'app' at db:5432/shop lacks the REPLICATION attribute") as e:
        asyncio.run(check_server(conn, cfg, "table 't'"))
    assert e.value.hint is not None and "REPLICATION" in e.value.hint


def test_the_replication_grant_names_the_user_quoted() -> None:
    cfg = ConnConfig({"host": "db", "user": 'Odd "User"', "password": "pw"})
    conn: Any = FakeConn("logical", replication=False)
    with pytest.raises(CdcError) as e:
        asyncio.run(check_server(conn, cfg, "table 't'"))
    assert 'ALTER ROLE "Odd ""User""" REPLICATION;' in (e.value.hint or "")


def test_a_server_without_logical_wal_is_refused_before_the_role_is_asked() -> None:
    cfg = ConnConfig({"host": "db", "user": "app", "password": "pw"})
    conn: Any = FakeConn("replica", replication=True)
    with pytest.raises(CdcError, match="runs with wal_level = replica") as e:
        asyncio.run(check_server(conn, cfg, "table 't'"))
    assert "wal_level = logical" in (e.value.hint or "") and "restart" in (e.value.hint or "")
