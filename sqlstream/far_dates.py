"""Arrow rows as Python values, for dates and timestamps Python cannot hold too.

Flink's DATE and TIMESTAMP reach from year -9999 to +9999... and past it: DATE '9999-12-31'
plus a day is '+10000-01-01', and TRY_CAST('0' AS DATE) is '0000-01-01'. Python's
``datetime`` holds years 1 to 9999 only, so Arrow's conversion of such a value fails
(OverflowError). Such a value is handed over as the text Flink prints for it (Java's
``LocalDate.toString``: a '+' before a year past 9999, four digits at least); every other
value is the usual ``datetime.date`` / ``datetime.datetime``. The fallback runs only for a
batch whose plain conversion failed, so ordinary batches pay nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

_MICROS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0}


def batch_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """``batch.to_pylist()``, with dates and timestamps outside years 1-9999 as Flink's text."""
    try:
        return batch.to_pylist()
    except (OverflowError, ValueError):
        columns = [column_values(c) for c in batch.columns]
        names = batch.schema.names
        return [dict(zip(names, values)) for values in zip(*columns)] if columns else []


def column_values(column: pa.Array) -> list[Any]:
    """One column's Python values; a date or timestamp Python cannot hold becomes text."""
    try:
        return column.to_pylist()
    except (OverflowError, ValueError):
        t = column.type
        if pa.types.is_date32(t) or pa.types.is_date64(t):
            days = column.cast(pa.date32()).cast(pa.int32()).to_pylist()
            return [None if d is None else _date(d) for d in days]
        if pa.types.is_timestamp(t) and t.tz is None:
            ticks = column.cast(pa.int64()).to_pylist()
            return [None if v is None else _timestamp(v, t.unit) for v in ticks]
        raise


def _civil(days: int) -> tuple[int, int, int]:
    """Year, month, day of a day count from 1970-01-01, proleptic Gregorian, any year
    (H. Hinnant's civil_from_days).

    >>> _civil(0), _civil(-719528), _civil(2932897)
    ((1970, 1, 1), (0, 1, 1), (10000, 1, 1))
    """
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _date_text(days: int) -> str:
    year, month, day = _civil(days)
    if year > 9999:
        text = f"+{year}"
    elif year < 0:
        text = f"-{-year:04d}"
    else:
        text = f"{year:04d}"
    return f"{text}-{month:02d}-{day:02d}"


def _date(days: int) -> dt.date | str:
    year = _civil(days)[0]
    if 1 <= year <= 9999:
        return dt.date(1970, 1, 1) + dt.timedelta(days=days)
    return _date_text(days)


def _timestamp(ticks: int, unit: str) -> dt.datetime | str:
    """A timestamp as ``datetime``, or as Flink's text 'yyyy-MM-dd HH:mm:ss[.fff]'.

    >>> _timestamp(253402387199999000, "us")
    '+10000-01-01 23:59:59.999'
    """
    nanos = ticks * 1000 * _MICROS[unit] if unit != "ns" else ticks
    days, nano_of_day = divmod(nanos, 86_400 * 10**9)
    if 1 <= _civil(days)[0] <= 9999:
        return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=nanos // 1000)
    seconds, nano = divmod(nano_of_day, 10**9)
    text = f"{_date_text(days)} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return text + ("." + f"{nano:09d}".rstrip("0") if nano else "")
