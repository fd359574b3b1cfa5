"""A keyed operator checkpointed mid-stream, beside the same operator resumed from that
checkpoint at some parallelism, each subtask fed its keys' rows as the hash exchange sends
them (the restore tests of ChangelogNormalize and SinkUpsertMaterializer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from runtime.checkpoint.control import Restored, key_filter
from runtime.operators.arrival import ArrivalOrdered
from runtime.partition import partition
from runtime.state.duckdb_state import write_snapshot

Op = TypeVar("Op", bound=ArrivalOrdered)
Row = TypeVar("Row")


def sent_after_restore(
    make: Callable[[], Op],
    feed: Callable[[Op, list[Row]], list[Any]],
    batch: Callable[[list[Row]], pa.RecordBatch],
    first: list[Row],
    then: list[Row],
    parallelism: int,
    path: Path,
) -> tuple[list[Any], list[Any]]:
    """What an operator (``make``, keyed by column ``k``) fed ``first`` then ``then`` sends
    for ``then``, and what ``parallelism`` subtasks restored from its checkpoint after
    ``first`` (written to ``path``) send for their keys' rows of ``then``."""
    whole = make()
    asyncio.run(whole.open())
    if first:
        feed(whole, first)
    saved = asyncio.run(whole.snapshot(1))
    write_snapshot(whole.state.snapshot_cursor(), list(whole.state.tables), path)
    expected = feed(whole, then) if then else []
    asyncio.run(whole.close())
    owner = partition([batch(then).column("k")], parallelism) if then else []
    got: list[Any] = []
    for subtask in range(parallelism):
        resumed = make()
        where = key_filter(resumed.node, parallelism, subtask)
        restored = Restored(1, states=[saved.state], files=[str(path)], key_filter=where)
        asyncio.run(resumed.restore(restored))
        asyncio.run(resumed.open())
        mine = [row for row, o in zip(then, owner, strict=True) if o == subtask]
        got += feed(resumed, mine) if mine else []
        asyncio.run(resumed.close())
    return expected, got
