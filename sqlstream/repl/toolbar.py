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


def prompt_toolbar(state: ShellState) -> StyleAndTextTuples:
    """The toolbar under the prompt.

    >>> "".join(t for _, t in prompt_toolbar(ShellState("table", 2, False)))
    ' mode: table | 2 jobs running | F4 editor  \\\\? help  Ctrl-D quit '
    """
    parts: StyleAndTextTuples = [("class:bottom-toolbar.key", " mode: "), ("", state.mode)]
    if state.running_jobs:
        jobs = f"{state.running_jobs} job{'s' if state.running_jobs != 1 else ''} running"
        parts += [("", " | "), ("class:bottom-toolbar.jobs", jobs)]
    if state.timing:
        parts += [("", " | timing on")]
    if state.output_path:
        parts += [("", f" | output: {state.output_path}")]
    parts += [("", " | F4 editor  \\? help  Ctrl-D quit ")]
    return parts


@dataclass
class LiveStats:
    """What the live view's status line shows."""

    rows: int = 0  # rows (changelog entries) received
    shown: int = 0  # rows in the table now
    seconds: float = 0.0
    watermark_ms: int | None = None
    checkpoint: str | None = None  # e.g. "#3 at 10:41:07"
    state: str = "running"

    @property
    def rate(self) -> float:
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
    ' running | 3 rows | 200 changes | 100 rows/s | watermark 1970-01-01 00:00:00.000 | q/Ctrl-C stop'
    """
    parts = [
        f" {stats.state}",
        f"{stats.shown:,} row{'s' if stats.shown != 1 else ''}",
        f"{stats.rows:,} change{'s' if stats.rows != 1 else ''}",
        f"{stats.rate:,.0f} rows/s",
        f"watermark {format_watermark(stats.watermark_ms)}",
    ]
    if stats.checkpoint:
        parts.append(f"checkpoint {stats.checkpoint}")
    parts.append("q/Ctrl-C stop" + ("  \u2191\u2193 PgUp PgDn scroll" if scroll_hint else ""))
    return " | ".join(parts)


def stats_from_metrics(metrics: dict[str, Any]) -> tuple[int | None, str | None]:
    """The watermark (ms) at the end of the pipeline and the last checkpoint, from a
    job's metrics snapshot (``runtime.metrics``); None where the job does not say.

    >>> stats_from_metrics({"operators": [{"watermark_ms": 5}, {"watermark_ms": 3}]})
    (3, None)
    """
    watermark: int | None = None
    for op in metrics.get("operators", ()) or ():
        wm = op.get("watermark_ms") if isinstance(op, dict) else None
        if wm is not None:
            watermark = int(wm)  # the last operator that has one: closest to the result
    checkpoint: str | None = None
    last = metrics.get("last_checkpoint")
    if last is None and isinstance(metrics.get("checkpoints"), dict):
        last = metrics["checkpoints"].get("last_completed") or metrics["checkpoints"].get("latest")
    if isinstance(last, dict):
        cid = last.get("id", last.get("checkpoint_id"))
        when = last.get("completed_at", last.get("time"))
        text = f"#{cid}" if cid is not None else ""
        if isinstance(when, int | float):
            text += " at " + dt.datetime.fromtimestamp(when).strftime("%H:%M:%S")
        checkpoint = text or None
    elif last is not None:
        checkpoint = f"#{last}"
    return watermark, checkpoint
