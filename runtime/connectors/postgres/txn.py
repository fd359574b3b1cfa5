"""The PostgreSQL sink's two-phase commit: prepare, commit and recovery of its
transactions, on their own so that another commit protocol can reuse them.

Exactly-once (the default under EXACTLY_ONCE checkpointing) puts the rows between two
checkpoints into one transaction. On barrier ``n``, :func:`prepare` inserts a marker row
(gid, sink id, subtask, checkpoint, a random token) into ``sqlstream_commits`` (in the
table's schema, created by :func:`ensure_commits_table`; markers of the subtask's
checkpoints before ``n - 100`` are deleted) inside that transaction and runs ``PREPARE
TRANSACTION '<gid>'``; the handle names gid and token. :func:`commit_handle` runs
``COMMIT PREPARED`` on a second (autocommit) connection; if the gid is gone, the marker
row with the handle's token says it was committed before (fine) and its absence says it
was rolled back (``DataLossError`` naming the gid). :func:`settle` (recovery) commits the
handles a restored checkpoint recorded and rolls back every other prepared transaction of
the sink in this database that falls to the subtask (old subtask ``s`` falls to
``s % parallelism``, so a smaller parallelism still cleans up).

The gid is ``<prefix>-<subtask>-<checkpoint>``, with ``sink.transactional-id-prefix``
as prefix, by default ``sqlstream-<job name>-<table>``. Like Flink's, the prefix must be
unique among the jobs writing into one database: recovery rolls back whatever prepared
transaction carries it. The transaction gets its gid at ``PREPARE`` time, not at
``BEGIN``, because only the barrier says which checkpoint it belongs to (a checkpoint
aborted before it reached this sink never sends its barrier). Two-phase mode needs
``max_prepared_transactions > 0``: where the server has none, exactly-once uses epoch mode
(``epoch.py``) unless 'sink.exactly-once.mode' = 'two-phase' insists, which is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from runtime.connectors.postgres.conn import (
    ConnConfig,
    DataLossError,
    PostgresError,
)

log = logging.getLogger(__name__)

COMMITS_TABLE = "sqlstream_commits"
COMMITS_DDL = (
    "CREATE TABLE IF NOT EXISTS {} (gid text PRIMARY KEY, sink_id text NOT NULL, "
    "subtask int NOT NULL, checkpoint_id bigint NOT NULL, token text NOT NULL, "
    "committed_at timestamptz NOT NULL DEFAULT now())"
)
MARKERS_KEPT = 100  # checkpoints of marker rows kept per sink subtask
MAX_GID = 200  # PostgreSQL's limit (GIDSIZE), in bytes


@dataclass
class RecoveryResult:
    """What ``PostgresSink.recover`` did, by gid."""

    committed: list[str] = field(default_factory=list)
    already_committed: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)


async def prepare(
    conn: psycopg.AsyncConnection[Any],
    commits: sql.Identifier,
    prefix: str,
    subtask: int,
    checkpoint_id: int,
    where: str,
    cfg: ConnConfig,
) -> tuple[str, str]:
    """Write the marker row into the open transaction on ``conn``, drop markers old enough
    that no restore can ask for them, and PREPARE the transaction: its (gid, token).
    A psycopg error other than a left-over gid propagates (the caller says what it lost)."""
    gid = make_gid(prefix, subtask, checkpoint_id)
    token = uuid.uuid4().hex
    try:
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} (gid, sink_id, subtask, checkpoint_id, token) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (gid) DO UPDATE "
                "SET token = EXCLUDED.token, committed_at = now()"
            ).format(commits),
            [gid, prefix, subtask, checkpoint_id, token],
        )
        await conn.execute(
            sql.SQL("DELETE FROM {} WHERE sink_id = %s AND subtask = %s AND checkpoint_id < %s").format(
                commits
            ),
            [prefix, subtask, checkpoint_id - MARKERS_KEPT],
        )
        await conn.execute(sql.SQL("PREPARE TRANSACTION {}").format(sql.Literal(gid)))
    except psycopg.errors.DuplicateObject:
        raise PostgresError(
            f"{where}: cannot prepare transaction '{gid}' at {cfg.where}: a prepared "
            "transaction of that name is left over from an earlier run of this sink",
            hint="restart the job so that recovery commits or rolls back what it left, or give "
            "this sink another 'sink.transactional-id-prefix'",
        ) from None
    return gid, token


def check_prepared_transactions(setting: str, where: str) -> None:
    """Refuse exactly-once when the server's ``max_prepared_transactions`` is 0.

    >>> check_prepared_transactions("64", "t")
    >>> check_prepared_transactions("0", "t")
    Traceback (most recent call last):
    ...
    runtime.connectors.postgres.conn.PostgresError: t: exactly-once delivery needs prepared transactions, but the server has max_prepared_transactions = 0
    Hint: ...
    """  # noqa: E501
    try:
        value = int(setting)
    except ValueError:
        value = 0
    if value > 0:
        return
    raise PostgresError(
        f"{where}: exactly-once delivery needs prepared transactions, but the server has "
        f"max_prepared_transactions = {setting}",
        hint="set it above the number of sink subtasks times the checkpoints in flight (e.g. 64): "
        "`ALTER SYSTEM SET max_prepared_transactions = 64;` as a superuser, or "
        "`max_prepared_transactions = 64` in postgresql.conf, then restart PostgreSQL; or drop "
        "'sink.exactly-once.mode' = 'two-phase' so that the sink commits in epoch mode; or "
        "choose 'sink.delivery-guarantee' = 'at-least-once'",
    )


def default_prefix(job_name: str, table: str) -> str:
    """``sqlstream-<job>-<table>``, made safe for a gid and short enough for it.

    >>> default_prefix("my job", "public.orders")
    'sqlstream-my_job-public.orders'
    """
    text = re.sub(r"[^A-Za-z0-9_.:-]", "_", f"sqlstream-{job_name}-{table}")
    if len(text) > 120:
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        text = f"{text[:109]}-{digest}"
    return text


def make_gid(prefix: str, subtask: int, checkpoint_id: int) -> str:
    return f"{prefix}-{subtask}-{checkpoint_id}"


def gid_pattern(prefix: str) -> re.Pattern[str]:
    """Gids of a prefix: ``<prefix>-<subtask>-<checkpoint>`` and nothing longer, so that the
    prefix ``a`` does not claim the gids of the prefix ``a-1``."""
    return re.compile(re.escape(prefix) + r"-(\d+)-(\d+)")


async def settle(
    cfg: ConnConfig,
    admin: psycopg.AsyncConnection[Any],
    commits: sql.Identifier,
    prefix: str,
    handles: Sequence[Any],
    where: str,
    owns: Callable[[int], bool],
) -> RecoveryResult:
    """Commit ``handles``, then roll back the prepared transactions of ``prefix`` (and of
    the prefixes the handles carry) in this database whose subtask ``owns`` says is ours."""
    result = RecoveryResult()
    keep: set[str] = set()
    for handle in handles:
        if not handle:
            continue
        keep.add(handle["gid"])
        done = await commit_handle(cfg, admin, commits, handle, where)
        (result.committed if done == "committed" else result.already_committed).append(handle["gid"])
    prefixes = {prefix} | {h["prefix"] for h in handles if h and h.get("prefix")}
    patterns = [gid_pattern(p) for p in sorted(prefixes)]
    cur = await admin.execute(
        "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid"
    )
    for (gid,) in await cur.fetchall():
        if gid in keep:
            continue
        match = next((m for m in (p.fullmatch(gid) for p in patterns) if m), None)
        if match is None or not owns(int(match.group(1))):
            continue
        with contextlib.suppress(psycopg.errors.UndefinedObject):  # gone meanwhile
            await admin.execute(sql.SQL("ROLLBACK PREPARED {}").format(sql.Literal(gid)))
            result.rolled_back.append(gid)
            log.info("%s: rolled back the leftover prepared transaction '%s'", where, gid)
    return result


async def ensure_commits_table(admin: psycopg.AsyncConnection[Any], commits: sql.Identifier) -> None:
    """Create ``sqlstream_commits`` when it is missing (concurrent subtasks may race)."""
    with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
        await admin.execute(sql.SQL(COMMITS_DDL).format(commits))


async def commit_handle(
    cfg: ConnConfig,
    admin: psycopg.AsyncConnection[Any],
    commits: sql.Identifier,
    handle: dict[str, Any],
    where: str,
) -> str:
    """COMMIT PREPARED the handle's gid: "committed", or "already" when the marker row
    with the handle's token shows an earlier commit; ``DataLossError`` when it was rolled
    back."""
    gid = handle["gid"]
    try:
        await admin.execute(sql.SQL("COMMIT PREPARED {}").format(sql.Literal(gid)))
        return "committed"
    except psycopg.errors.UndefinedObject:
        pass
    try:
        cur = await admin.execute(sql.SQL("SELECT token FROM {} WHERE gid = %s").format(commits), [gid])
        row = await cur.fetchone()
    except psycopg.errors.UndefinedTable:
        row = None
    if row is not None and row[0] == handle.get("token"):
        log.debug("%s: transaction '%s' was committed before", where, gid)
        return "already"
    raise DataLossError(
        f"{where}: the prepared transaction '{gid}' (checkpoint {handle.get('checkpoint_id')}, subtask "
        f"{handle.get('subtask')}, {handle.get('rows')} rows) no longer exists at {cfg.where} and was "
        "never committed: it was rolled back and its rows are lost",
        hint="something ran ROLLBACK PREPARED on it, or another job with the same "
        "'sink.transactional-id-prefix' recovered over it; give each job its own prefix",
    )
