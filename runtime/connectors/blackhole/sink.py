"""Flink's ``blackhole`` sink: accepts every row (inserts and updates alike), keeps none,
and counts them in ``rows_written`` (benchmarks measure the pipeline in front of it)."""

from __future__ import annotations

import pyarrow as pa

from catalog.options import OptionBag
from planner.physical import SinkSpec
from runtime.connectors.base import SinkWriter, SubtaskContext


class BlackholeSink(SinkWriter):
    def __init__(self, spec: SinkSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        bag = OptionBag(spec.options, f"table '{spec.table}'")
        bag.get("connector")
        bag.get("sink.parallelism")
        bag.finish(["connector", "sink.parallelism"])
        self.batches_written = 0

    async def write(self, batch: pa.RecordBatch) -> None:
        self.rows_written += batch.num_rows
        self.batches_written += 1
