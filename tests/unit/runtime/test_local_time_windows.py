"""Windows over a TIMESTAMP_LTZ rowtime are cut in the wall time of 'table.local-time-zone'
and fire when the watermark (an instant) passes their end as an instant, as Flink's shift
time zone does. Read as UTC wall time instead, a Los Angeles hour window would fire eight
hours early and drop the rows still due to it as late."""

from __future__ import annotations

import asyncio
import datetime as dt

import pyarrow as pa
import pytest

from planner.physical import AggCall, Edge, Field, WatermarkSpec, Window, WindowAggregateSpec
from runtime.job import Job
from runtime.operators.windowing import WallClock
from tests.unit.runtime.helpers import PlanBuilder, collect_async, rows

FIELDS = [Field("k", "INT"), Field("ts", "TIMESTAMP_LTZ(3)", "rowtime")]
COUNT = AggCall("n", "count_star", None, "BIGINT NOT NULL")
OUT = [
    Field("k", "INT"),
    Field("window_start", "TIMESTAMP(3) NOT NULL"),
    Field("window_end", "TIMESTAMP(3) NOT NULL"),
    Field("window_time", "TIMESTAMP_LTZ(3) NOT NULL", "rowtime"),
    Field("n", "BIGINT NOT NULL"),
]
UTC = dt.UTC


def _run(instants: list[dt.datetime], window: Window) -> tuple[list[tuple[object, ...]], int]:
    data = pa.table(
        {
            "k": pa.array([1] * len(instants), pa.int32()),
            "ts": pa.array(instants, pa.timestamp("ms", tz="UTC")),
        }
    )
    b = PlanBuilder()
    src = b.values(data, FIELDS, batch_size=1)  # a watermark after every row
    wm = b.add("Watermark", WatermarkSpec("ts", '"ts"', emit_interval_ms=0), [src], FIELDS, 1)
    agg = b.add("WindowAggregate", WindowAggregateSpec(window, ("k",), (COUNT,)), [Edge(wm.id)], OUT, 1)
    b.collect(agg)
    job = Job(b.plan())
    out = asyncio.run(collect_async(b.plan(), job))
    return rows(out), job.metrics()["late_rows_dropped"]


def test_an_hour_window_in_los_angeles_waits_for_its_end_as_an_instant() -> None:
    # 07:50Z and 07:55Z are 23:50 and 23:55 on 31 December in Los Angeles: one window,
    # [23:00, 00:00) local, which ends at 08:00Z. The first row's watermark (07:50Z) must not
    # fire it, so the second row is not late.
    instants = [dt.datetime(2024, 1, 1, 7, 50, tzinfo=UTC), dt.datetime(2024, 1, 1, 7, 55, tzinfo=UTC)]
    got, late = _run(instants, Window("tumble", "ts", size_ms=3_600_000, time_zone="America/Los_Angeles"))
    assert late == 0
    assert got == [
        (
            1,
            dt.datetime(2023, 12, 31, 23, 0),
            dt.datetime(2024, 1, 1, 0, 0),
            dt.datetime(2024, 1, 1, 7, 59, 59, 999000, tzinfo=UTC),
            2,
        )
    ]


def test_a_day_window_over_the_spring_change_has_23_hours() -> None:
    # 2024-03-10 in Los Angeles runs from 08:00Z to 07:00Z the next day (clocks go forward).
    instants = [
        dt.datetime(2024, 3, 10, 7, 59, tzinfo=UTC),  # 9 March, 23:59 PST
        dt.datetime(2024, 3, 10, 8, 0, tzinfo=UTC),  # 10 March, 00:00 PST
        dt.datetime(2024, 3, 11, 6, 59, tzinfo=UTC),  # 10 March, 23:59 PDT
        dt.datetime(2024, 3, 11, 7, 0, tzinfo=UTC),  # 11 March, 00:00 PDT
    ]
    got, late = _run(instants, Window("tumble", "ts", size_ms=86_400_000, time_zone="America/Los_Angeles"))
    assert late == 0
    assert [(r[1].date().isoformat(), r[3], r[4]) for r in got] == [
        ("2024-03-09", dt.datetime(2024, 3, 10, 7, 59, 59, 999000, tzinfo=UTC), 1),
        ("2024-03-10", dt.datetime(2024, 3, 11, 6, 59, 59, 999000, tzinfo=UTC), 2),
        ("2024-03-11", dt.datetime(2024, 3, 12, 6, 59, 59, 999000, tzinfo=UTC), 1),
    ]


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata", "Europe/Berlin"])
def test_wall_clock_round_trips_outside_the_repeated_hour(zone: str) -> None:
    clock = WallClock(zone)
    for hour in range(0, 24 * 366, 7):
        utc_ms = 1704067200000 + hour * 3_600_000  # through 2024, DST changes included
        local = clock.to_local(utc_ms)
        assert clock.to_utc(local) in (utc_ms, utc_ms - 3_600_000)  # the earlier in an overlap


def test_processing_time_windows_are_cut_in_the_session_time_zone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """PROCTIME() is a TIMESTAMP_LTZ: Flink cuts its windows in 'table.local-time-zone' too.
    Kolkata is UTC+05:30, so its hours start at half past a UTC hour: read as UTC wall time,
    window_start would be the UTC hour instead."""
    from zoneinfo import ZoneInfo

    import sqlstream

    (tmp_path / "p.json").write_text('{"k": 1}\n')
    zone = ZoneInfo("Asia/Kolkata")
    with sqlstream.connect() as s:
        s.execute("SET 'table.local-time-zone' = 'Asia/Kolkata'")
        s.execute(
            f"CREATE TABLE src (k INT, pt AS PROCTIME()) WITH ('connector' = 'filesystem', "
            f"'path' = '{tmp_path}', 'format' = 'json')"
        )
        before = dt.datetime.now(zone).replace(tzinfo=None)
        ((start, end, time, n),) = s.sql(
            "SELECT window_start, window_end, window_time, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, "
            "DESCRIPTOR(pt), INTERVAL '1' HOUR)) GROUP BY window_start, window_end, window_time"
        ).fetchall()
        after = dt.datetime.now(zone).replace(tzinfo=None)
    hours = {t.replace(minute=0, second=0, microsecond=0) for t in (before, after)}
    assert start in hours and end - start == dt.timedelta(hours=1) and n == 1
    # window_time is an instant (TIMESTAMP_LTZ), 1 ms before the local end
    assert time.astimezone(zone).replace(tzinfo=None) == end - dt.timedelta(milliseconds=1)
