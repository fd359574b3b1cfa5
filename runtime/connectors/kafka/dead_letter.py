"""The Kafka source's dead-letter topic (``sqlstream.dead-letter.topic``): skipped bad
records written as they were (key, value, headers, timestamp), with the error in the header
``sqlstream.error`` and ``topic:partition:offset`` in ``sqlstream.source``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from runtime.connectors.kafka.fetch import Fetched
from runtime.connectors.kafka.options import client_kwargs

ERROR_HEADER = "sqlstream.error"
SOURCE_HEADER = "sqlstream.source"


class DeadLetters:
    """An idempotent producer (started at the first bad record) to the dead-letter topic."""

    def __init__(self, topic: str, props: Mapping[str, str], where: str) -> None:
        self.topic, self.props, self.where = topic, props, where
        self._producer: Any = None

    async def write(
        self, tp: tuple[str, int], fetched: Fetched, which: Sequence[int], errors: list[str]
    ) -> None:
        """Write the records ``which`` of ``fetched`` and wait for the acks, so the position
        never passes a record that is neither processed nor kept there."""
        from aiokafka import AIOKafkaProducer

        if self._producer is None:
            kwargs = client_kwargs(self.props, "producer", self.where)
            kwargs.update(acks="all", enable_idempotence=True)
            self._producer = AIOKafkaProducer(**kwargs)
            await self._producer.start()
        futures = []
        for i, error in zip(which, errors):
            headers = [
                *fetched.headers[i],
                (ERROR_HEADER, error.encode()),
                (SOURCE_HEADER, f"{tp[0]}:{tp[1]}:{fetched.offsets[i]}".encode()),
            ]
            futures.append(
                await self._producer.send(
                    self.topic,
                    fetched.values[i],
                    key=fetched.keys[i],
                    headers=headers,
                    timestamp_ms=fetched.timestamps[i],
                )
            )
        await asyncio.gather(*futures)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
