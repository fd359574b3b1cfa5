"""The two halves of a channel between actors, without Ray: a stand-in for the consumer's
actor handle runs ``push`` as a task on the same loop, as Ray runs an async actor's calls.

A producer may run ahead of a consumer that reads nothing by at most ``window`` unanswered
sends plus the local channel's ``capacity``; messages reach the consumer in the order sent
even when the calls start out of order (Ray does not promise their order to an async
actor); the producer's ``flush`` waits until the consumer took everything.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from runtime.channels import Channel, InputGate
from runtime.messages import EndOfInput, Message, Watermark
from runtime.ray.channel import Inbox, RemoteChannel


class FakeConsumer:
    """``push.remote(attempt, key, seq, message)``: the consumer actor's method as an asyncio task,
    started after a random delay when ``shuffle`` (calls starting out of order)."""

    def __init__(self, inbox: Inbox, shuffle: bool = False) -> None:
        self.inbox = inbox
        self.shuffle = random.Random(3) if shuffle else None
        self.push = self

    def remote(self, attempt: int, key: Any, seq: int, message: Message) -> asyncio.Task[None]:
        async def call() -> None:
            if self.shuffle is not None:
                await asyncio.sleep(self.shuffle.random() / 1000)
            await self.inbox.deliver(seq, message)

        return asyncio.get_running_loop().create_task(call())


def test_a_consumer_that_reads_nothing_holds_back_its_producer() -> None:
    async def main() -> int:
        channel = Channel(capacity=3)
        sender = RemoteChannel(FakeConsumer(Inbox(channel)), (0, 0), window=2, name="t")
        sent = 0

        async def produce() -> None:
            nonlocal sent
            for i in range(100):
                await sender.send(Watermark(i))
                sent += 1

        task = asyncio.create_task(produce())
        await asyncio.sleep(0.2)  # nobody reads the channel meanwhile
        task.cancel()
        return sent

    # stuck in the 5th send: 3 messages in the channel and 2 calls waiting to put theirs
    # (capacity + window), the 5th waiting for the oldest call to be answered
    assert asyncio.run(main()) == 4


def test_messages_arrive_in_order_and_flush_waits_for_them() -> None:
    async def main() -> list[Message]:
        channel = Channel(capacity=4)
        gate = InputGate([channel])
        sender = RemoteChannel(FakeConsumer(Inbox(channel), shuffle=True), (0, 0), window=8, name="t")
        got: list[Message] = []

        async def consume() -> None:
            while True:
                item = await gate.next()
                assert item is not None
                got.append(item[1])
                if isinstance(item[1], EndOfInput):
                    return

        reader = asyncio.create_task(consume())
        for i in range(200):
            await sender.send(Watermark(i))
        await sender.send(EndOfInput())
        await sender.flush()
        await reader
        return got

    got = asyncio.run(main())
    assert got == [*(Watermark(i) for i in range(200)), EndOfInput()]
