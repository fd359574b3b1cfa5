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
from tests.conftest import examples
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


def reference(data: list[tuple[Any, ...]], batch: int, window: Window) -> tuple[list[tuple[Any, ...]], int]:
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


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    disordered(),
    st.sampled_from(
        [
            Window("tumble", "ts", size_ms=1000),
            Window("hop", "ts", size_ms=1000, slide_ms=250),
            Window("cumulate", "ts", size_ms=1000, step_ms=250),
        ]
    ),
    st.booleans(),
)
def test_late_rows_match_reference(s: Any, window: Window, two_phase: bool) -> None:
    """Also in two phases: the local phase drops nothing, and the global one drops (and
    counts the rows of) exactly the partial rows whose rows the one phase would drop."""
    data, batch = s
    assert_streamed(data, batch, window, reference(data, batch, window), two_phase)


def test_a_late_partial_row_counts_every_row_it_stands_for() -> None:
    """Three late rows of one key and slice in one batch are one partial row of the local
    phase: the global phase drops it and counts three rows, as the one phase does."""
    data = [(1, 1, None, 5000 + i) for i in range(4)]
    data += [(1, 1, None, 100), (1, 2, None, 120), (1, 3, None, 130), (2, 3, None, 140)]
    window = Window("tumble", "ts", size_ms=1000)
    want = reference(data, 4, window)
    assert want[1] == 4
    assert_streamed(data, 4, window, want, two_phase=False)
    assert_streamed(data, 4, window, want, two_phase=True)


def assert_streamed(
    data: list[tuple[Any, ...]],
    batch: int,
    window: Window,
    want: tuple[list[tuple[Any, ...]], int],
    two_phase: bool = False,
) -> None:
    """The job's windows and its count of dropped rows are the reference's."""
    plan = window_plan(table(data), window, AGGS, delay_ms=DELAY, batch_size=batch, two_phase=two_phase)
    job = Job(plan)
    out = asyncio.run(collect_async(plan, job))
    got = sorted((k, _ms(ws), _ms(we), c, sv) for k, ws, we, _, c, sv in rows(out))
    assert (got, job.metrics()["late_rows_dropped"]) == want


def session_reference(data: list[tuple[Any, ...]], batch: int, gap: int) -> tuple[list[tuple[Any, ...]], int]:
    """SESSION windows as a stream sees them: a row joins the sessions of its key that have
    not fired (within ``gap`` of one of their rows); a session fires once the watermark
    reaches its end - 1 (end = last row + gap); a row whose own session [ts, ts + gap)
    would already have fired is late. A fired session is gone, so a row just after it
    starts a new one (a batch query would merge the two)."""
    wm = -(2**63)
    late_before: int | None = None
    pending: dict[Any, list[tuple[int, int]]] = defaultdict(list)
    out: list[tuple[Any, ...]] = []
    late = 0

    def fire(bound: int) -> None:
        for k, rows_k in pending.items():
            rows_k.sort()
            sessions: list[list[tuple[int, int]]] = []
            for ts, v in rows_k:
                if sessions and ts - sessions[-1][-1][0] <= gap:
                    sessions[-1].append((ts, v))
                else:
                    sessions.append([(ts, v)])
            keep = []
            for s in sessions:
                end = s[-1][0] + gap
                if end <= bound:
                    out.append((k, s[0][0], end, len(s), sum(v for _, v in s)))
                else:
                    keep += s
            pending[k] = keep

    for i in range(0, len(data), batch):
        chunk = data[i : i + batch]
        for k, v, _, ts in chunk:
            if late_before is not None and ts < late_before:
                late += 1
            else:
                pending[k].append((ts, v))
        wm = max(wm, max(r[3] for r in chunk) - DELAY)
        fire(wm + 1)
        late_before = wm + 1 - gap + 1
    fire(2**62)
    return sorted(out), late


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(disordered(), st.sampled_from([150, 401, 1000]))
def test_late_rows_in_session_windows_match_reference(s: Any, gap: int) -> None:
    data, batch = s
    assert_streamed(data, batch, Window("session", "ts", gap_ms=gap), session_reference(data, batch, gap))
