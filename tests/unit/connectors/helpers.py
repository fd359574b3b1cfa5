"""Driving connectors directly through their base interface, as a task would."""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa

from planner.physical import Field, SinkSpec, SourceSpec
from runtime.connectors.base import SinkWriter, SourceReader, SubtaskContext


def ctx(subtask: int = 0, parallelism: int = 1) -> SubtaskContext:
    return SubtaskContext("job", 1, "node", subtask, parallelism)


def fields(*specs: str) -> tuple[Field, ...]:
    """``fields("a INT", "b STRING")``."""
    out = []
    for s in specs:
        name, _, type_text = s.partition(" ")
        out.append(Field(name, type_text))
    return tuple(out)


def source_spec(connector: str, options: dict[str, str], cols: tuple[Field, ...], **kw: Any) -> SourceSpec:
    return SourceSpec("t", connector, {"connector": connector, **options}, cols, **kw)


def sink_spec(connector: str, options: dict[str, str], cols: tuple[Field, ...]) -> SinkSpec:
    return SinkSpec("t", connector, {"connector": connector, **options}, cols)


async def drain(
    reader: SourceReader, max_rows: int = 65536, max_polls: int = 100_000
) -> list[pa.RecordBatch]:
    await reader.open()
    batches = []
    polls = 0
    while not reader.finished and polls < max_polls:
        polls += 1
        b = await reader.poll(max_rows)
        if b is not None and b.num_rows:
            batches.append(b)
    await reader.close()
    return batches


def read_all(reader: SourceReader, max_rows: int = 65536) -> pa.Table:
    batches = asyncio.run(drain(reader, max_rows))
    schema = batches[0].schema if batches else None
    return pa.Table.from_batches(batches, schema=schema) if batches else pa.table({})


def write_all(writer: SinkWriter, batches: list[pa.RecordBatch]) -> None:
    async def run() -> None:
        await writer.open()
        for b in batches:
            await writer.write(b)
        await writer.close()

    asyncio.run(run())
