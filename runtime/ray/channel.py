"""Channels between subtask actors, and ordered control messages between actors.

A channel from producer subtask to consumer subtask has two halves. The producer's
``RemoteChannel`` calls the consumer actor's ``push(attempt, key, seq, message)`` for each message
and keeps at most ``window`` calls unanswered; the consumer's ``Inbox`` puts messages into
an ordinary local ``runtime.channels.Channel`` (which its ``InputGate`` reads, as in the
local runtime) strictly in sequence order, and answers a call only once its message is in
that channel, which holds at most ``capacity``. So at most ``window + capacity`` batches of
one channel are in flight, and a slow consumer back-pressures its producers across
machines. Watermarks, barriers and end of input are messages like batches, so they stay
in order with the data. Arrow batches travel through Ray's object store (no copy between
actors of one node). Every call names the attempt of the job it belongs to: an actor that
outlived a failed attempt and serves the next one drops what the failed one still sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from runtime.channels import Channel
from runtime.messages import Message

log = logging.getLogger(__name__)

ChannelKey = tuple[int, int]  # (edge index at the consumer, producer subtask)


class RemoteChannel:
    """The producer's half: sends in order, waits when ``window`` sends are unanswered."""

    def __init__(self, consumer: Any, key: ChannelKey, window: int, name: str, attempt: int = 0) -> None:
        self.consumer = consumer  # the consumer's actor handle
        self.key = key
        self.attempt = attempt
        self.window = max(window, 1)
        self.name = name
        self._seq = 0
        self._inflight: deque[Any] = deque()

    async def send(self, message: Message) -> None:
        ref = self.consumer.push.remote(self.attempt, self.key, self._seq, message)
        self._seq += 1
        self._inflight.append(ref)
        if len(self._inflight) >= self.window:
            await self._inflight.popleft()

    async def flush(self) -> None:
        """Until the consumer has taken every message sent (before the subtask ends)."""
        while self._inflight:
            await self._inflight.popleft()


class Inbox:
    """The consumer's half: messages into ``channel`` in sequence order."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._next = 0
        self._turn = asyncio.Condition()

    async def deliver(self, seq: int, message: Message) -> None:
        async with self._turn:
            await self._turn.wait_for(lambda: self._next == seq)
            await self.channel.send(message)  # waits while the channel is full
            self._next += 1
            self._turn.notify_all()


class OrderedCalls:
    """Calls a remote method once per posted message, each after the previous one was
    answered: control messages (acknowledgements, commits, releases) arrive in the order
    they were posted. A call to an actor that died is dropped: the job's supervisor sees
    the death and fails the job over."""

    def __init__(self, method: Any, what: str, *args: Any) -> None:
        self.method = method
        self.what = what
        self.args = args  # passed before each message
        self._queue: deque[Any] = deque()
        self._task: asyncio.Task[None] | None = None

    def post(self, message: Any) -> None:
        self._queue.append(message)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name=self.what)

    async def _drain(self) -> None:
        while self._queue:
            message = self._queue.popleft()
            try:
                await self.method.remote(*self.args, message)
            except Exception as e:  # the receiver is gone; the supervisor fails the job
                log.debug("%s: %s not delivered: %s", self.what, type(message).__name__, e)
                self._queue.clear()
                return

    async def drain(self) -> None:
        """Until every posted message was delivered."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
