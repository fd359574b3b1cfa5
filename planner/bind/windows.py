"""Windows: the window TVFs (TUMBLE, HOP, CUMULATE, SESSION over a DESCRIPTOR) and the
legacy group windows (``GROUP BY TUMBLE(ts, ...)`` with ``TUMBLE_START`` and friends), and
the INTERVAL arithmetic both need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sqlglot import exp

from catalog.config import LOCAL_TIME_ZONE, RUNTIME_MODE
from catalog.errors import CatalogError, did_you_mean
from catalog.types import TIMESTAMP3, DataType
from planner.bind.columns import ColumnBinder
from planner.bind.scope import Scope, _err
from planner.errors import PlanError, UnsupportedError, position
from planner.expressions import WindowTVF
from planner.interval_literals import compound_interval
from planner.logical import BoundField, LogicalNode, WindowAssign
from planner.typecheck import function_name
from planner.window import Window

_LEGACY_WINDOWS = {"TUMBLE": "tumble", "HOP": "hop", "SESSION": "session"}
_LEGACY_AUX = {"_START": "window_start", "_END": "window_end", "_ROWTIME": "window_time",
               "_PROCTIME": "window_time"}  # fmt: skip


class WindowBinder(ColumnBinder):
    """Binds window TVFs; group windows are found by the aggregation layer above."""

    def _bind_window_tvf(self, tvf: WindowTVF, ctes: dict[str, exp.Expr]) -> tuple[LogicalNode, Scope]:
        inner, inner_scope = self._bind_relation(tvf.this, ctes)
        kind = tvf.text("kind").lower()
        column = tvf.args["time_column"]
        time_name = column.name if isinstance(column, exp.Expr) else str(column)
        time_field = inner_scope.lookup(time_name, None)
        if time_field is None:
            raise _err(
                CatalogError(
                    f"column '{time_name}' in DESCRIPTOR not found",
                    hint=did_you_mean(time_name, inner_scope.names),
                ),
                tvf,
            )
        if time_field.time_attribute is None:
            raise _err(
                PlanError(
                    f"the window function {kind.upper()} needs a time attribute, but "
                    f"'{time_field.name}' is a plain {time_field.type.sql()}",
                    hint="declare WATERMARK FOR it in the table, or use a PROCTIME() column",
                ),
                tvf,
            )
        partition = tuple(
            self._require_column(p, inner_scope).name for p in tvf.args.get("partition_by") or ()
        )
        window = Window(
            type=kind,
            time_column=time_field.name,
            size_ms=_interval_ms(tvf.args.get("size")),
            slide_ms=_interval_ms(tvf.args.get("slide")),
            step_ms=_interval_ms(tvf.args.get("step")),
            offset_ms=_interval_ms(tvf.args.get("offset")),
            gap_ms=_interval_ms(tvf.args.get("gap")),
            proctime=time_field.time_attribute == "proctime",
            time_zone=window_zone(time_field, self.config),
        )
        _check_window(window, tvf)
        fields = tuple(
            BoundField(f.name, f.type) if f.time_attribute == "rowtime" else f for f in inner.fields
        ) + _window_fields(window)
        node = WindowAssign(fields, inner, window, *position(tvf))
        if partition:
            object.__setattr__(node, "partition_keys", partition)
        alias = tvf.alias
        return node, Scope.of(node, {alias} | inner_scope.qualifiers if not alias else {alias})


def window_zone(time_field: BoundField, config: Mapping[str, str]) -> str:
    """The zone whose wall time cuts windows over a TIMESTAMP_LTZ rowtime or over processing
    time (PROCTIME() is a TIMESTAMP_LTZ: a day window runs local midnight to midnight, as
    Flink's); see Window."""
    ltz_rowtime = time_field.time_attribute == "rowtime" and time_field.type.name == "TIMESTAMP_LTZ"
    if not ltz_rowtime and time_field.time_attribute != "proctime":
        return ""
    return LOCAL_TIME_ZONE.get(config) or "UTC"


def _window_fields(window: Window) -> tuple[BoundField, ...]:
    ts = TIMESTAMP3.with_nullable(False)
    attr = "proctime" if window.proctime else "rowtime"
    time = DataType("TIMESTAMP_LTZ", 3, nullable=False) if window.time_zone else ts
    return (
        BoundField("window_start", ts),
        BoundField("window_end", ts),
        BoundField("window_time", time, attr),
    )


def _interval_ms(e: exp.Expr | None) -> int:
    """Milliseconds of an INTERVAL literal (``INTERVAL '10' MINUTES``, ``'1:30' MINUTE TO SECOND``)."""
    if e is None:
        return 0
    if isinstance(e, exp.Paren):
        return _interval_ms(e.this)
    if not isinstance(e, exp.Interval):
        raise _err(PlanError(f"expected an INTERVAL, got {e.sql()}"), e)
    value = e.this.name if isinstance(e.this, exp.Expr) else str(e.this)
    unit_node = e.args.get("unit")
    unit = (unit_node.sql() if unit_node is not None else "").upper()
    return _interval_text_ms(value, unit, e)


_UNIT_MS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000,
            "WEEK": 7 * 86_400_000}  # fmt: skip


def _interval_text_ms(value: str, unit: str, where: exp.Expr) -> int:
    value = value.strip()
    if not unit:
        pieces = value.split()
        if len(pieces) == 2:
            value, unit = pieces
    if " TO " in unit:
        first, last = (u.strip() for u in unit.split(" TO "))
        try:
            kind, amount = compound_interval(value, first, last)
        except PlanError as e:
            raise _err(e, where) from None
        if kind == "MONTH":
            raise _err(UnsupportedError("windows measured in YEAR TO MONTH intervals"), where)
        return amount
    unit = unit.rstrip("S") if unit not in ("MS",) else "MILLISECOND"
    if unit not in _UNIT_MS:
        if unit in ("MONTH", "YEAR", "QUARTER"):
            raise _err(UnsupportedError(f"windows measured in {unit}S"), where)
        raise _err(PlanError(f"unknown interval unit '{unit}'"), where)
    try:
        return int(float(value) * _UNIT_MS[unit])
    except ValueError:
        raise _err(PlanError(f"'{value}' is not a number of {unit.lower()}s"), where) from None


def _check_window(w: Window, where: exp.Expr) -> None:
    if w.type in ("tumble", "hop", "cumulate") and w.size_ms <= 0:
        raise _err(PlanError(f"{w.type.upper()} window size must be positive"), where)
    if w.type == "hop" and w.slide_ms <= 0:
        raise _err(PlanError("HOP window slide must be positive"), where)
    if w.type == "hop" and w.size_ms % w.slide_ms:
        raise _err(PlanError("HOP window size must be an integral multiple of the slide"), where)
    if w.type == "cumulate" and (w.step_ms <= 0 or w.size_ms % w.step_ms):
        raise _err(PlanError("CUMULATE window size must be an integral multiple of the step"), where)
    if w.type == "session" and w.gap_ms <= 0:
        raise _err(PlanError("SESSION window gap must be positive"), where)


def _legacy_window(g: exp.Expr, node: LogicalNode, config: Mapping[str, str]) -> Window | None:
    if not isinstance(g, exp.Func):
        return None
    name = function_name(g)
    kind = _LEGACY_WINDOWS.get(name)
    if kind is None:
        return None
    args = (
        list(g.expressions)
        if isinstance(g, exp.Anonymous)
        else [a for a in g.args.values() if isinstance(a, exp.Expr)]
    )
    if not args or not isinstance(args[0], exp.Column):
        raise _err(PlanError(f"the first argument of {name} must be a time attribute column"), g)
    time_col = args[0].name
    time_field = node.field(time_col)
    if time_field.time_attribute is None:
        raise _err(
            PlanError(
                f"{name} needs a time attribute, but '{time_col}' is a plain {time_field.type.sql()}",
                hint="declare WATERMARK FOR it in the table, or use a PROCTIME() column",
            ),
            g,
        )
    intervals = [_interval_ms(a) for a in args[1:]]
    proc = time_field.time_attribute == "proctime"
    if kind == "tumble" and len(intervals) in (1, 2):
        w = Window(
            "tumble",
            time_col,
            size_ms=intervals[0],
            offset_ms=intervals[1] if len(intervals) > 1 else 0,
            proctime=proc,
        )
    elif kind == "hop" and len(intervals) in (2, 3):
        w = Window(
            "hop",
            time_col,
            slide_ms=intervals[0],
            size_ms=intervals[1],
            offset_ms=intervals[2] if len(intervals) > 2 else 0,
            proctime=proc,
        )
    elif kind == "session" and len(intervals) == 1:
        w = Window("session", time_col, gap_ms=intervals[0], proctime=proc)
    else:
        raise _err(PlanError(f"wrong number of arguments for {name}"), g)
    w = replace(w, time_zone=window_zone(time_field, config))
    _check_window(w, g)
    return w


def _legacy_aux(n: exp.Expr, window: Window | None, config: Mapping[str, str]) -> str | None:
    """The window column a TUMBLE_START, HOP_END, ... call reads. A processing time has no
    meaning over a bounded input: Flink refuses *_PROCTIME in batch mode, and so do we."""
    prefix = _legacy_aux_window(n) if window is not None else None
    if prefix is None:
        return None
    name = function_name(n)
    if name.endswith("_PROCTIME") and RUNTIME_MODE.get(config) == "batch":
        raise _err(
            PlanError(
                f"{name}: the PROCTIME window property is not supported in batch queries",
                hint=f"{prefix}_ROWTIME or {prefix}_END gives the window's time",
            ),
            n,
        )
    return _LEGACY_AUX[name[len(prefix) :]]


def is_group_window(n: exp.Expr) -> bool:
    """Whether ``n`` is a group window of GROUP BY: TUMBLE(ts, ...), HOP or SESSION."""
    return isinstance(n, exp.Func) and function_name(n) in _LEGACY_WINDOWS


def is_legacy_aux(n: exp.Expr) -> bool:
    """Whether ``n`` is a TUMBLE_START, HOP_END, ... call: a group window's property."""
    return _legacy_aux_window(n) is not None


def _legacy_aux_window(n: exp.Expr) -> str | None:
    """The group window (TUMBLE, HOP, SESSION) whose property ``n`` reads, if it is one."""
    if not isinstance(n, exp.Func):
        return None
    name = function_name(n)
    return next(
        (p for p in _LEGACY_WINDOWS if name.startswith(p + "_") and name[len(p) :] in _LEGACY_AUX), None
    )
