"""Window arithmetic shared by window assignment and window aggregation.

All times are epoch milliseconds (BIGINT in SQL). A tumbling/hopping/cumulating window is
cut into *slices* of ``slice_ms`` (the size, the slide, the step): rows are aggregated per
(key, slice) and a window is the union of its slices, so a HOP window of size/slide = n
costs one partial row per key and slice instead of n copies of every row (Flink's
slicing). A slice is known by its end ``se``; windows ending at ``se``, ``se + slice``,
... up to the slice's ``last_end`` contain it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from catalog.errors import SqlStreamError
from planner.window import Window


def align(ts: int, size: int, offset: int = 0) -> int:
    """Start of the size-long period (aligned to epoch + offset) that contains ts.

    >>> align(1234, 1000), align(-1, 1000), align(1234, 1000, offset=300)
    (1000, -1000, 300)
    """
    return ts - (ts - offset) % size


def sql_align(t: str, size: int, offset: int = 0) -> str:
    return f"({t} - (((({t} - {offset}) % {size}) + {size}) % {size}))"


@dataclass(frozen=True)
class Slicing:
    """Slices of a TUMBLE/HOP/CUMULATE window.

    >>> hop = Slicing(Window("hop", "ts", size_ms=1000, slide_ms=250))
    >>> hop.slice_ms, hop.slice_end(1100), hop.last_end(1250), hop.late_before(2000)
    (250, 1250, 2000, 1250)
    """

    window: Window

    def __post_init__(self) -> None:
        w = self.window
        if w.type == "session":
            if w.gap_ms <= 0:
                raise SqlStreamError("SESSION window gap must be positive")
            return
        if w.size_ms <= 0:
            raise SqlStreamError(f"{w.type.upper()} window size must be positive")
        if w.type == "hop" and (w.slide_ms <= 0 or w.size_ms % w.slide_ms):
            raise SqlStreamError("HOP window size must be a positive multiple of the slide")
        if w.type == "cumulate" and (w.step_ms <= 0 or w.size_ms % w.step_ms):
            raise SqlStreamError("CUMULATE window size must be a positive multiple of the step")
        if w.type not in ("tumble", "hop", "cumulate"):
            raise SqlStreamError(f"unknown window type '{w.type}'")

    @property
    def slice_ms(self) -> int:
        w = self.window
        return {"tumble": w.size_ms, "hop": w.slide_ms, "cumulate": w.step_ms}[w.type]

    @property
    def per_slice(self) -> int:
        """How many windows share one slice at most."""
        return self.window.size_ms // self.slice_ms

    # ---- Python side -----------------------------------------------------------------
    def slice_end(self, ts: int) -> int:
        return align(ts, self.slice_ms, self.window.offset_ms) + self.slice_ms

    def last_end(self, se: int) -> int:
        """End of the last window that contains the slice ending at ``se``."""
        w = self.window
        if w.type == "tumble":
            return se
        if w.type == "hop":
            return se + w.size_ms - w.slide_ms
        return align(se - w.step_ms, w.size_ms, w.offset_ms) + w.size_ms

    def late_before(self, bound: int) -> int:
        """The smallest timestamp whose windows do not all end at or before ``bound``:
        rows before it are late once windows ending <= ``bound`` have fired."""
        sl = self.slice_ms
        s = align(bound - self.window.size_ms - sl, sl, self.window.offset_ms)
        while self.last_end(s + sl) <= bound:
            s += sl
        return s

    # ---- SQL side --------------------------------------------------------------------
    def sql_slice_end(self, t: str) -> str:
        return f"({sql_align(t, self.slice_ms, self.window.offset_ms)} + {self.slice_ms})"

    def sql_last_end(self, se: str) -> str:
        w = self.window
        if w.type == "tumble":
            return se
        if w.type == "hop":
            return f"({se} + {w.size_ms - w.slide_ms})"
        return f"({sql_align(f'({se} - {w.step_ms})', w.size_ms, w.offset_ms)} + {w.size_ms})"

    def sql_window_start(self, se: str, we: str) -> str:
        w = self.window
        if w.type == "cumulate":
            return f"({self.sql_last_end(se)} - {w.size_ms})"
        return f"({we} - {w.size_ms})"


def ts_from_ms(ms: str) -> str:
    """SQL: epoch milliseconds -> TIMESTAMP."""
    return f"make_timestamp(({ms}) * 1000)"


_EPOCH = dt.datetime(1970, 1, 1)
_MIN_MS, _MAX_MS = -62135596800000, 253402300799999  # years 1-9999: zoneinfo's range


@dataclass(frozen=True)
class WallClock:
    """Windows over a TIMESTAMP_LTZ rowtime are cut in the wall time of a zone (Flink's
    shift time zone, TimeWindowUtil): the operators keep window times as that zone's local
    epoch milliseconds, read the watermark into them, and turn a window's end back into an
    instant for window_time and for lateness. An empty zone (a TIMESTAMP rowtime) or UTC is
    the identity.

    >>> la = WallClock("America/Los_Angeles")
    >>> la.to_local(0), la.to_utc(-8 * 3600_000)
    (-28800000, 0)
    >>> la.to_utc(la.to_local(1710066600000)) == 1710066600000  # 2024-03-10 10:30Z, after DST
    True
    """

    zone: str

    @property
    def shifts(self) -> bool:
        return self.zone not in ("", "UTC", "Z", "Etc/UTC", "GMT", "+00:00")

    def to_local(self, utc_ms: int) -> int:
        if not self.shifts or not _MIN_MS <= utc_ms <= _MAX_MS:
            return utc_ms
        at = dt.datetime.fromtimestamp(utc_ms / 1000, dt.UTC).astimezone(ZoneInfo(self.zone))
        offset = at.utcoffset()
        return utc_ms + (int(offset.total_seconds() * 1000) if offset is not None else 0)

    def to_utc(self, local_ms: int) -> int:
        """The instant of a local time; in a DST overlap the earlier one, as java.time does."""
        if not self.shifts or not _MIN_MS <= local_ms <= _MAX_MS:
            return local_ms
        wall = (_EPOCH + dt.timedelta(milliseconds=local_ms)).replace(tzinfo=ZoneInfo(self.zone))
        offset = wall.utcoffset()
        return local_ms - (int(offset.total_seconds() * 1000) if offset is not None else 0)

    def sql_local_ms(self, column: str) -> str:
        """SQL: a TIMESTAMP_LTZ column's (or a TIMESTAMP's) epoch milliseconds, in wall time."""
        if not self.shifts:
            return f"epoch_ms({column})"
        return f"epoch_ms(timezone('{self.zone}', {column}))"

    def sql_window_time(self, end_ms: str) -> str:
        """SQL: window_time of a window ending at ``end_ms`` (local): 1 ms before its end, as
        an instant when the windows are cut in a zone's wall time."""
        local = ts_from_ms(f"{end_ms} - 1")
        if not self.zone:
            return local
        return f"timezone('{self.zone}', {local})"
