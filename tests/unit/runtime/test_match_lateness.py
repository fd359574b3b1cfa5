"""MATCH_RECOGNIZE on event time against a reference model: random input far more out of
order than the watermark delay, one subtask, a watermark after every batch. A row at or
behind the watermark is late (dropped and counted, as Flink's CepOperator does); the
others are matched per key in time order (arrival order within a time), whatever order
they came in."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings

from planner.physical import Field, MatchExpr, MatchSpec, PatternElement, WatermarkSpec
from runtime.job import Job
from tests.conftest import examples
from tests.unit.runtime.helpers import PlanBuilder, collect_async, rows
from tests.unit.runtime.plans import FIELDS, table
from tests.unit.runtime.test_lateness import disordered

DELAY = 300
# PATTERN (A B) with B.v >= A.v, AFTER MATCH SKIP TO NEXT ROW: every rising pair of rows
SPEC = MatchSpec(
    ("k",),
    "ts",
    (),
    (("a", MatchExpr("column", name="v", var="A")), ("b", MatchExpr("column", name="v", var="B"))),
    (PatternElement("A", 1, 1), PatternElement("B", 1, 1)),
    (
        (
            "B",
            MatchExpr(
                "compare",
                (MatchExpr("column", name="v", var="B"), MatchExpr("column", name="v", var="A")),
                name=">=",
            ),
        ),
    ),
    "to_next",
)


def reference(data: list[tuple[Any, ...]], batch: int) -> tuple[list[tuple[Any, ...]], int]:
    wm = -(2**63)
    kept: dict[Any, list[tuple[int, int, int]]] = defaultdict(list)
    late = 0
    for i in range(0, len(data), batch):
        chunk = data[i : i + batch]
        for n, (k, v, _, ts) in enumerate(chunk):
            if ts <= wm:
                late += 1
            else:
                kept[k].append((ts, i + n, v))
        wm = max(wm, max(r[3] for r in chunk) - DELAY)
    out = []
    for k, found in kept.items():
        found.sort()
        out += [(k, a[2], b[2]) for a, b in pairwise(found) if b[2] >= a[2]]
    return sorted(out), late


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(disordered())
def test_late_rows_are_dropped_and_the_rest_matched_in_time_order(s: Any) -> None:
    data, batch = s
    b = PlanBuilder(None)
    src = b.values(table(data), FIELDS, 1, batch_size=batch)
    wm = b.add("Watermark", WatermarkSpec("ts", f'"ts" - INTERVAL {DELAY} MILLISECOND', emit_interval_ms=0),
               [src], FIELDS, 1)  # fmt: skip
    match = b.add("Match", SPEC, [wm], [FIELDS[0], Field("a", "BIGINT"), Field("b", "BIGINT")], 1)
    b.collect(match)
    plan = b.plan()
    job = Job(plan)
    out = asyncio.run(collect_async(plan, job))
    assert (sorted(rows(out)), job.metrics()["late_rows_dropped"]) == reference(data, batch)
