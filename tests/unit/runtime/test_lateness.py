"""Late rows against a reference model: random input far more out of order than the
watermark delay, one subtask, a watermark after every batch. A row only counts in the
windows that had not fired when it arrived (end - 1 > the watermark before its batch);
a row with no such window is dropped and counted."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.physical import AggCall, Window
from runtime.job import Job
from tests.unit.runtime.helpers import collect_async, rows
from tests.unit.runtime.plans import table, window_plan
from tests.unit.runtime.test_oracle import _ms

DELAY = 300
AGGS = (
    AggCall("cnt", "count_star", None, "BIGINT NOT NULL"),
    AggCall("sum_v", "sum", '"v"', "BIGINT"),
)


def windows_of(window: Window, ts: int) -> list[tuple[int, int]]:
    size = window.size_ms
    if window.type == "tumble":
        start = ts - ts % size
        return [(start, start + size)]
    if window.type == "hop":
        slide = window.slide_ms
        last = ts - ts % slide
        return [(s, s + size) for s in range(last - size + slide, last + 1, slide)]
    step = window.step_ms
    start = ts - ts % size
    return [(start, e) for e in range(start + step, start + size + 1, step) if e > ts]


def reference(
    data: list[tuple[Any, ...]], batch: int, window: Window
) -> tuple[list[tuple[Any, ...]], int]:
    wm = -(2**63)
    acc: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    late = 0
    for i in range(0, len(data), batch):
        chunk = data[i : i + batch]
        for k, v, _, ts in chunk:
            open_windows = [w for w in windows_of(window, ts) if w[1] - 1 > wm]
            if not open_windows:
                late += 1
            for w in open_windows:
                a = acc[(k, *w)]
                a[0] += 1
                a[1] += v
        wm = max(wm, max(r[3] for r in chunk) - DELAY)
    return sorted((*key, c, s) for key, (c, s) in acc.items()), late


@st.composite
def disordered(draw: Any) -> tuple[list[tuple[Any, ...]], int]:
    n = draw(st.integers(1, 50))
    t = 0
    out = []
    for _ in range(n):
        t += draw(st.integers(0, 300))
        ts = max(t - draw(st.integers(0, 3000)), 0)
        out.append((draw(st.integers(0, 2)), draw(st.integers(0, 9)), None, ts))
    return out, draw(st.integers(1, 8))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    disordered(),
    st.sampled_from(
        [
            Window("tumble", "ts", size_ms=1000),
            Window("hop", "ts", size_ms=1000, slide_ms=250),
            Window("cumulate", "ts", size_ms=1000, step_ms=250),
        ]
    ),
)
def test_late_rows_match_reference(s: Any, window: Window) -> None:
    data, batch = s
    plan = window_plan(table(data), window, AGGS, delay_ms=DELAY, batch_size=batch)
    job = Job(plan)
    out = asyncio.run(collect_async(plan, job))
    got = sorted((k, _ms(ws), _ms(we), c, sv) for k, ws, we, _, c, sv in rows(out))
    want, late = reference(data, batch, window)
    assert got == want
    assert job.metrics()["late_rows_dropped"] == late
