"""PostgreSQL's ``pgoutput`` logical replication messages (protocol version 1), decoded.

The slot's changes arrive as the rows of ``pg_logical_slot_peek_binary_changes``: one
message each, whole transactions only (Begin, Relation, Insert/Update/Delete, Commit).
Values are in PostgreSQL's text form; ``runtime.connectors.postgres_cdc.rows`` turns
them into typed Arrow columns. The layout is in PostgreSQL's documentation, "Logical
Replication Message Formats".

>>> d = Decoder()
>>> d.feed(b"B" + (0x100).to_bytes(8, "big") + (0).to_bytes(8, "big") + (7).to_bytes(4, "big"))
>>> rel = b"R" + (16).to_bytes(4, "big") + b"public\\0t\\0d" + (1).to_bytes(2, "big")
>>> d.feed(rel + b"\\x01id\\0" + (23).to_bytes(4, "big") + (-1).to_bytes(4, "big", signed=True))
>>> one = (1).to_bytes(2, "big") + b"t" + (1).to_bytes(4, "big") + b"5"
>>> d.feed(b"I" + (16).to_bytes(4, "big") + b"N" + one)
>>> d.feed(b"C\\0" + (0x100).to_bytes(8, "big") + (0x140).to_bytes(8, "big") + (0).to_bytes(8, "big"))
>>> [(t.xid, t.end_lsn, [(c.kind, c.new) for c in t.changes]) for t in d.take()]
[(7, 320, [('I', ['5'])])]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from catalog.errors import SqlStreamError

#: A TOASTed value the update did not change: pgoutput does not send it again.
UNCHANGED = object()
# pgoutput's timestamps count microseconds from 2000-01-01 UTC.
PG_EPOCH_US = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000

Values = list[object]  # str | None | UNCHANGED per column


class ProtocolError(SqlStreamError):
    """A message the decoder does not understand (a newer protocol, a damaged stream)."""


@dataclass
class Relation:
    oid: int
    schema: str
    name: str
    replica_identity: str  # d (primary key), f (full), i (index), n (nothing)
    columns: list[str]
    key: list[bool]  # part of the replica identity


@dataclass
class Change:
    kind: str  # "I", "U", "D"
    relation: Relation
    old: Values | None  # Update/Delete: the old key ("K") or whole old row ("O")
    new: Values | None
    old_is_full: bool = False


@dataclass
class Transaction:
    xid: int
    commit_ts_us: int  # microseconds since 1970-01-01 UTC
    end_lsn: int = 0  # the slot may be advanced to this once the transaction is done with
    messages: int = 0  # rows of the peek it took, Begin and Commit included
    changes: list[Change] = field(default_factory=list)
    truncated: list[Relation] = field(default_factory=list)


class Decoder:
    """Feeds messages one at a time, collects whole transactions (``take``)."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self._current: Transaction | None = None
        self._done: list[Transaction] = []

    def take(self) -> list[Transaction]:
        done, self._done = self._done, []
        return done

    def feed(self, msg: bytes) -> None:
        tag = msg[0:1]
        if self._current is not None:
            self._current.messages += 1
        if tag == b"B":
            ts = int.from_bytes(msg[9:17], "big", signed=True)
            self._current = Transaction(int.from_bytes(msg[17:21], "big"), ts + PG_EPOCH_US, messages=1)
        elif tag == b"C":
            txn = self._txn(msg)
            txn.end_lsn = int.from_bytes(msg[10:18], "big")
            self._done.append(txn)
            self._current = None
        elif tag == b"R":
            self._relation(msg)
        elif tag in (b"I", b"U", b"D"):
            self._change(tag.decode(), msg)
        elif tag == b"T":
            txn = self._txn(msg)
            n = int.from_bytes(msg[1:5], "big")
            for i in range(n):
                oid = int.from_bytes(msg[6 + 4 * i : 10 + 4 * i], "big")
                txn.truncated.append(self._rel(oid))
        elif tag in (b"Y", b"O", b"M"):
            return  # types, origins, logical messages: nothing a table's changelog needs
        else:
            raise ProtocolError(f"unknown pgoutput message {tag!r}")

    def _txn(self, msg: bytes) -> Transaction:
        if self._current is None:
            raise ProtocolError(f"pgoutput message {msg[0:1]!r} outside a transaction")
        return self._current

    def _rel(self, oid: int) -> Relation:
        rel = self.relations.get(oid)
        if rel is None:
            raise ProtocolError(f"pgoutput change of relation {oid} before its Relation message")
        return rel

    def _relation(self, msg: bytes) -> None:
        oid = int.from_bytes(msg[1:5], "big")
        pos = 5
        schema, pos = _cstring(msg, pos)
        name, pos = _cstring(msg, pos)
        identity = chr(msg[pos])
        ncols = int.from_bytes(msg[pos + 1 : pos + 3], "big")
        pos += 3
        columns, key = [], []
        for _ in range(ncols):
            flags = msg[pos]
            col, pos = _cstring(msg, pos + 1)
            pos += 8  # type oid, typmod
            columns.append(col)
            key.append(bool(flags & 1))
        self.relations[oid] = Relation(oid, schema, name, identity, columns, key)

    def _change(self, kind: str, msg: bytes) -> None:
        txn = self._txn(msg)
        rel = self._rel(int.from_bytes(msg[1:5], "big"))
        pos = 5
        old: Values | None = None
        new: Values | None = None
        full = False
        tag = msg[pos : pos + 1]
        if tag in (b"K", b"O"):
            full = tag == b"O"
            old, pos = _tuple(msg, pos + 1)
            tag = msg[pos : pos + 1]
        if tag == b"N":
            new, pos = _tuple(msg, pos + 1)
        txn.changes.append(Change(kind, rel, old, new, full))


def _cstring(msg: bytes, pos: int) -> tuple[str, int]:
    end = msg.index(0, pos)
    return msg[pos:end].decode(), end + 1


def _tuple(msg: bytes, pos: int) -> tuple[Values, int]:
    n = int.from_bytes(msg[pos : pos + 2], "big")
    pos += 2
    values: Values = []
    append = values.append
    for _ in range(n):
        kind = msg[pos]
        if kind == 0x74:  # 't': text
            length = int.from_bytes(msg[pos + 1 : pos + 5], "big")
            append(msg[pos + 5 : pos + 5 + length].decode())
            pos += 5 + length
        elif kind == 0x6E:  # 'n': null
            append(None)
            pos += 1
        elif kind == 0x75:  # 'u': unchanged TOASTed value
            append(UNCHANGED)
            pos += 1
        else:
            raise ProtocolError(f"unknown pgoutput column kind {chr(kind)!r}")
    return values, pos


def lsn_text(lsn: int) -> str:
    """PostgreSQL's ``X/Y`` form of an LSN.

    >>> lsn_text(0x1943F48), parse_lsn("0/1943F48")
    ('0/1943F48', 26492744)
    """
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)
