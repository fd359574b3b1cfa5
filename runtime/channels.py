"""Bounded channels between subtasks, and the input gate that reads several of them.

A channel holds at most ``capacity`` messages; ``send`` waits while it is full, so a slow
consumer back-pressures its producers instead of growing memory. A subtask reads all its
input channels through one ``InputGate``: round-robin over the channels that have
something, skipping blocked ones (a later checkpoint issue blocks an input between barrier
arrival and alignment). Everything runs on one event loop: no locks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

import pyarrow as pa

from runtime.messages import Message

DEFAULT_CAPACITY = 8
# A subtask runs its operator once over the data batches queued on its inputs, up to this
# many rows (the file source's chunk): a hash exchange cuts every batch into one part per
# consumer, and each operator call has a fixed cost (its DuckDB statements).
MERGE_ROWS = 65536


class Channel:
    """One producer subtask -> one consumer subtask, in order."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, name: str = "") -> None:
        if capacity < 1:
            raise ValueError("channel capacity must be at least 1")
        self.name = name
        self.capacity = capacity
        self._buf: deque[Message] = deque()
        self._space = asyncio.Event()
        self._space.set()
        self._gate: InputGate | None = None

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def fill(self) -> float:
        """Queue fill, 0.0 (empty) .. 1.0 (full: the producer waits)."""
        return len(self._buf) / self.capacity

    async def send(self, message: Message) -> None:
        while len(self._buf) >= self.capacity:
            self._space.clear()
            await self._space.wait()
        self._buf.append(message)
        if self._gate is not None:
            self._gate.notify()

    def _pop(self) -> Message:
        message = self._buf.popleft()
        self._space.set()
        return message


class InputGate:
    """Reads the input channels of one subtask: ``next`` returns (channel index, message)."""

    def __init__(self, channels: list[Channel]) -> None:
        self.channels = channels
        self._ready = asyncio.Event()
        self._next = 0
        self._interrupted = False
        self.blocked: set[int] = set()
        for ch in channels:
            if ch._gate is not None:
                raise ValueError(f"channel {ch.name} already has a reader")
            ch._gate = self

    def notify(self) -> None:
        self._ready.set()

    def interrupt(self) -> None:
        """Make a waiting (or the next) ``next`` return None: something other than data
        needs the subtask's attention (a control message in its mailbox)."""
        self._interrupted = True
        self._ready.set()

    def _take(self) -> tuple[int, Message] | None:
        n = len(self.channels)
        for j in range(n):
            i = (self._next + j) % n
            ch = self.channels[i]
            if ch._buf and i not in self.blocked:
                self._next = i + 1
                return i, ch._pop()
        return None

    def more_batches(
        self, first: int, batch: pa.RecordBatch, same: Sequence[int], rows: int
    ) -> list[tuple[int, pa.RecordBatch]]:
        """Data batches that are ready now behind ``batch`` (just taken from channel
        ``first``), with the channel each came from: those at the heads of the unblocked
        channels in ``same`` (``first`` first) that have ``batch``'s schema (metadata
        included: a batch tagged with another split stays apart), up to ``rows`` rows in
        all. Taking them is reading them one after the other, as no signal is passed
        over; the subtask then runs its operator once over all of them."""
        out: list[tuple[int, pa.RecordBatch]] = []
        total = batch.num_rows
        if not total:
            return out
        order = [first, *(i for i in same if i != first)]
        for i in order:
            if i in self.blocked:
                continue
            buf = self.channels[i]._buf
            while buf:
                head = buf[0]
                if (
                    not isinstance(head, pa.RecordBatch)
                    or not head.num_rows
                    or total + head.num_rows > rows
                    or not head.schema.equals(batch.schema, check_metadata=True)
                ):
                    break
                out.append((i, self.channels[i]._pop()))
                total += head.num_rows
        return out

    async def next(self, timeout: float | None = None) -> tuple[int, Message] | None:
        """The next message from any unblocked channel; None if ``timeout`` seconds pass
        without one, or when ``interrupt`` was called."""
        while True:
            got = self._take()
            if got is not None:
                return got
            if self._interrupted:
                self._interrupted = False
                return None
            self._ready.clear()
            if timeout is None:
                await self._ready.wait()
            else:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a
                # cancellation that comes as the event is set, and the subtask would
                # then outlive a cancelled job
                try:
                    async with asyncio.timeout(timeout):
                        await self._ready.wait()
                except TimeoutError:
                    return self._take()

    @property
    def fill(self) -> float:
        """The fullest input channel's fill (back-pressure shows as 1.0)."""
        return max((ch.fill for ch in self.channels), default=0.0)
