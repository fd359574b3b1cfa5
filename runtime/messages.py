"""What flows on a channel: data batches and in-band signals, in order.

Watermarks, barriers and end-of-input travel in the same channel as the data so that a
subtask sees them exactly where they belong in the stream (Arroyo's ``Data | Signal``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Watermark:
    """Event time has reached ``ts_ms`` (epoch milliseconds): no earlier row should follow."""

    ts_ms: int


@dataclass(frozen=True, slots=True)
class Idle:
    """The sending input has no data for a while: leave it out of the watermark minimum
    until it sends data again (``table.exec.source.idle-timeout``)."""


@dataclass(frozen=True, slots=True)
class Barrier:
    """Checkpoint barrier ``checkpoint_id``; a savepoint barrier asks for a kept snapshot."""

    checkpoint_id: int
    savepoint: bool = False
    location: str = ""  # where the checkpoint's files go (Flink's target location)


@dataclass(frozen=True, slots=True)
class EndOfInput:
    """A bounded input is exhausted; after it nothing else comes on this channel."""


@dataclass(frozen=True, slots=True)
class SideOutput:
    """A batch for another output of the operator than its main one (``output``: e.g.
    ``planner.physical.LATE_ROWS_OUTPUT``); the task sends it only on the edges that read
    that output. Signals go on every edge, so a side output's consumer sees the same
    watermarks, barriers and end of input."""

    batch: pa.RecordBatch
    output: int


Signal = Watermark | Idle | Barrier | EndOfInput
Message = pa.RecordBatch | Signal | SideOutput

# The largest watermark: sent when all bounded input is read, so every window fires.
MAX_WATERMARK = 2**63 - 1
