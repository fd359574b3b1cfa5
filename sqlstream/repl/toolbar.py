"""The bottom bars: the prompt's toolbar (mode, running jobs, timing) and the status
line under a live result (rows, rows/s, watermark, last checkpoint).

Both are pure functions of plain values, so they are easy to test and to restyle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from prompt_toolkit.formatted_text import StyleAndTextTuples


@dataclass(frozen=True)
class ShellState:
    mode: str
    running_jobs: int
    timing: bool
    output_path: str | None = None
    hint: str | None = None  # e.g. that an open statement set runs at END;
    late_rows: int = 0  # rows the running jobs' window operators dropped as late


def prompt_toolbar(state: ShellState) -> StyleAndTextTuples:
    """The toolbar under the prompt.

    >>> "".join(t for _, t in prompt_toolbar(ShellState("table", 2, False)))
    ' mode: table | 2 jobs running | F4 editor  \\\\? help  Ctrl-D quit '
    """
    parts: StyleAndTextTuples = [("class:bottom-toolbar.key", " mode: "), ("", state.mode)]
    if state.running_jobs:
        jobs = f"{state.running_jobs} job{'s' if state.running_jobs != 1 else ''} running"
        parts += [("", " | "), ("class:bottom-toolbar.jobs", jobs)]
    if state.late_rows:
        parts += [("", f" | {state.late_rows:,} late rows")]
    if state.timing:
        parts += [("", " | timing on")]
    if state.output_path:
        parts += [("", f" | output: {state.output_path}")]
    if state.hint:
        parts += [("", " | "), ("class:bottom-toolbar.jobs", state.hint)]
    parts += [("", " | F4 editor  \\? help  Ctrl-D quit ")]
    return parts


@dataclass
class LiveStats:
    """What the live view's status line shows."""

    rows: int = 0  # changelog entries received
    shown: int = 0  # rows in the table now
    seconds: float = 0.0
    read_rate: float | None = None  # rows/s read by the sources, when the job says
    watermark_ms: int | None = None
    checkpoint: str | None = None  # e.g. "#3 at 10:41:07"
    state: str = "running"
    late_rows: int = 0  # dropped as late by the job's window operators

    @property
    def rate(self) -> float:
        """Rows per second: read by the sources if known, else arriving in the result."""
        if self.read_rate is not None:
            return self.read_rate
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def format_watermark(ms: int | None) -> str:
    """An event-time watermark as a UTC timestamp.

    >>> format_watermark(0)
    '1970-01-01 00:00:00.000'
    >>> format_watermark(None)
    '-'
    """
    if ms is None:
        return "-"
    try:
        t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return "-"
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def live_status(stats: LiveStats, scroll_hint: bool = True) -> str:
    """The status line of a live result.

    >>> live_status(LiveStats(rows=200, shown=3, seconds=2.0, watermark_ms=0), scroll_hint=False)
    ' running | 3 rows (200 changes) | 100 rows/s | watermark 1970-01-01 00:00:00.000 | q/Ctrl-C stop'
    """
    rows = f"{stats.shown:,} row{'s' if stats.shown != 1 else ''}"
    changes = f"{stats.rows:,} change{'s' if stats.rows != 1 else ''}"
    parts = [
        f" {stats.state}",
        f"{rows} ({changes})",
        f"{stats.rate:,.0f} rows/s",
        f"watermark {format_watermark(stats.watermark_ms)}",
    ]
    if stats.late_rows:
        parts.append(f"{stats.late_rows:,} late")
    if stats.checkpoint:
        parts.append(f"checkpoint {stats.checkpoint}")
    parts.append("q/Ctrl-C stop" + ("  \u2191\u2193 PgUp PgDn scroll" if scroll_hint else ""))
    return " | ".join(parts)


def update_from_metrics(stats: LiveStats, metrics: dict[str, Any]) -> None:
    """Take the source rate, the watermark at the end of the pipeline and the last
    checkpoint from a job's metrics snapshot (``runtime.metrics``), where it says them.

    >>> s = LiveStats()
    >>> ops = [{"watermark_ms": 5}, {"watermark_ms": 3}]
    >>> update_from_metrics(s, {"rows_per_second": 9.5, "operators": ops})
    >>> s.read_rate, s.watermark_ms, s.checkpoint
    (9.5, 3, None)
    >>> update_from_metrics(s, {"late_rows_dropped": 12})
    >>> live_status(s, scroll_hint=False).split(" | ")[4]
    '12 late'
    >>> last = {"checkpoint_id": 7, "started_ms": 0, "duration_ms": 0}
    >>> update_from_metrics(s, {"checkpoints": {"completed": 7, "last": last}})
    >>> s.checkpoint.split(" at ")[0]
    '#7'
    """
    rate = metrics.get("rows_per_second")
    if isinstance(rate, int | float):
        stats.read_rate = float(rate)
    late = metrics.get("late_rows_dropped")
    if isinstance(late, int):
        stats.late_rows = late
    for op in metrics.get("operators", ()) or ():
        wm = op.get("watermark_ms") if isinstance(op, dict) else None
        if wm is not None:
            stats.watermark_ms = int(wm)  # the last operator that has one: closest to the result
    last = metrics.get("last_checkpoint")
    if last is None and isinstance(metrics.get("checkpoints"), dict):
        last = metrics["checkpoints"].get("last")  # the coordinator's summary()
    if isinstance(last, dict):
        cid = last.get("id", last.get("checkpoint_id"))
        when = last.get("completed_at", last.get("time"))
        if when is None and isinstance(last.get("started_ms"), int | float):
            when = (last["started_ms"] + last.get("duration_ms", 0)) / 1000
        text = f"#{cid}" if cid is not None else ""
        if isinstance(when, int | float):
            text += " at " + dt.datetime.fromtimestamp(when).strftime("%H:%M:%S")
        stats.checkpoint = text or stats.checkpoint
    elif last is not None:
        stats.checkpoint = f"#{last}"
