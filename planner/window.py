"""A window's shape, which the logical plan and the physical plan both carry (the binder
decides it, the runtime slices by it), so it belongs to neither.
"""

from __future__ import annotations

from dataclasses import dataclass

# The columns a window adds to its input, in Flink's order.
WINDOW_COLUMNS = ("window_start", "window_end", "window_time")


@dataclass(frozen=True)
class Window:
    """A window definition; all sizes in milliseconds."""

    type: str  # "tumble" | "hop" | "cumulate" | "session"
    time_column: str
    size_ms: int = 0
    slide_ms: int = 0  # hop
    step_ms: int = 0  # cumulate
    offset_ms: int = 0
    gap_ms: int = 0  # session
    proctime: bool = False
    # A TIMESTAMP_LTZ rowtime's windows are cut in this zone's wall time, as Flink cuts
    # them in 'table.local-time-zone' (a day window runs local midnight to midnight, a DST
    # day has 23 or 25 hours), and window_time is a TIMESTAMP_LTZ. '' for a TIMESTAMP.
    time_zone: str = ""
