"""Flink's ``print`` sink: every row as a line, the way Flink's print connector shows it.

A line is ``<prefix><kind>[v1, v2, ...]``: the row kind ``+I``, ``-U``, ``+U`` or ``-D``,
then the values as Java's ``toString`` of Flink's external types prints them (NULL is
``null``, TIMESTAMP ``2020-04-15T08:05`` / ``2020-04-15T08:05:01.123``, TIMESTAMP_LTZ
``2020-04-15T08:05:00Z``, DOUBLE ``1.0`` / ``1.0E10``, DECIMAL plain ``1.50``, BYTES
``[1, -2]``, ARRAY ``[1, 2]``, MAP ``{k=v}``, ROW ``+I[...]``). The prefix is
``print-identifier`` and, at parallelism > 1, the 1-based subtask: ``id> ``, ``id:2> ``,
``2> `` (Flink's). ``standard-error`` = true prints to stderr.

Output goes to the stream given to the constructor, else to the one installed with
``print_to`` (a context variable, so a session can capture a job's output), else to
``sys.stdout`` / ``sys.stderr`` as they are at the time of the write.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.options import OptionBag
from catalog.types import DataType, parse_type
from planner.physical import ROW_KIND_COLUMN, SinkSpec
from runtime.connectors.base import SinkWriter, SubtaskContext
from runtime.formats.java_text import java_float, java_float_texts

ROW_KINDS = ("+I", "-U", "+U", "-D")
_INTS = ("TINYINT", "SMALLINT", "INT", "BIGINT")
_STRINGS = ("STRING", "VARCHAR", "CHAR")
_BYTES = ("BYTES", "BINARY", "VARBINARY")

_STREAMS: ContextVar[tuple[TextIO, TextIO] | None] = ContextVar("sqlstream_print_streams", default=None)


@contextmanager
def print_to(out: TextIO, err: TextIO | None = None) -> Iterator[None]:
    """Send the output of print sinks started inside this block to ``out`` (and what
    they would print to stderr to ``err``, default ``out``)."""
    token = _STREAMS.set((out, err or out))
    try:
        yield
    finally:
        _STREAMS.reset(token)


def print_prefix(identifier: str | None, subtask: int, parallelism: int) -> str:
    """Flink's prefix: ``id> ``, ``id:2> ``, ``2> `` or nothing."""
    prefix = identifier or ""
    if parallelism > 1:
        prefix = f"{prefix}:{subtask + 1}" if prefix else str(subtask + 1)
    return f"{prefix}> " if prefix else ""


# ---- Java's toString, per value ---------------------------------------------------------


def _java_time_text(hour: int, minute: int, second: int, micros: int, always_seconds: bool) -> str:
    text = f"{hour:02d}:{minute:02d}"
    if second or micros or always_seconds:
        text += f":{second:02d}"
    if micros:
        text += f".{micros // 1000:03d}" if micros % 1000 == 0 else f".{micros:06d}"
    return text


def java_value(value: Any, t: DataType) -> str:
    """One value as Flink's print connector shows it (see the module doc)."""
    if value is None:
        return "null"
    name = t.name
    if name == "BOOLEAN":
        return "true" if value else "false"
    if name in ("FLOAT", "DOUBLE"):
        return java_float(float(value), single=name == "FLOAT")
    if name == "DECIMAL":
        return format(value, "f") if isinstance(value, decimal.Decimal) else str(value)
    if name == "TIMESTAMP_LTZ":
        v = value.astimezone(dt.UTC) if value.tzinfo else value
        time_text = _java_time_text(v.hour, v.minute, v.second, v.microsecond, True)
        return f"{v.date().isoformat()}T{time_text}Z"
    if name == "TIMESTAMP":
        time_text = _java_time_text(value.hour, value.minute, value.second, value.microsecond, False)
        return f"{value.date().isoformat()}T{time_text}"
    if name == "TIME":
        return _java_time_text(value.hour, value.minute, value.second, value.microsecond, False)
    if name == "DATE":
        return str(value.isoformat())
    if name in _BYTES:
        return "[" + ", ".join(str(b - 256 if b > 127 else b) for b in value) + "]"
    if name in ("ARRAY", "MULTISET"):
        return "[" + ", ".join(java_value(v, t.children[0]) for v in value) + "]"
    if name == "MAP":
        kt, vt = t.children
        items = value.items() if isinstance(value, dict) else value
        return "{" + ", ".join(f"{java_value(k, kt)}={java_value(v, vt)}" for k, v in items) + "}"
    if name == "ROW":
        inner = ", ".join(java_value(value.get(n), c) for n, c in zip(t.field_names, t.children))
        return f"+I[{inner}]"
    return str(value)


# ---- the same, a whole column at a time -------------------------------------------------


def _lpad(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width=width, padding="0")


def _concat(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _java_datetimes(arr: pa.Array, instant: bool) -> pa.Array:
    naive = arr.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us")) if instant else arr
    naive = naive.cast(pa.timestamp("us"))
    filled = pc.fill_null(naive, pa.scalar(0, pa.timestamp("us")))
    micros = filled.cast(pa.int64()).to_numpy()
    frac = micros % 1_000_000
    sec = (micros // 1_000_000) % 60
    base = pc.strftime(filled, format="%Y-%m-%dT%H:%M")
    return _concat(base, _seconds_and_fraction(sec, frac, instant), "Z" if instant else "")


def _seconds_and_fraction(sec: np.ndarray, frac: np.ndarray, always_seconds: bool) -> pa.Array:
    n = len(sec)
    show_sec = np.ones(n, dtype=bool) if always_seconds else (sec != 0) | (frac != 0)
    sec_text = pc.if_else(pa.array(show_sec), _concat(":", _lpad(sec, 2)), "")
    ms_only = frac % 1000 == 0
    frac_text = pc.if_else(
        pa.array(frac == 0),
        "",
        pc.if_else(pa.array(ms_only), _concat(".", _lpad(frac // 1000, 3)), _concat(".", _lpad(frac, 6))),
    )
    return _concat(sec_text, frac_text)


def _java_times(arr: pa.Array) -> pa.Array:
    filled = pc.fill_null(arr.cast(pa.time64("us")), pa.scalar(0, pa.time64("us")))
    micros = filled.cast(pa.int64()).to_numpy()
    hours = micros // 3_600_000_000
    minutes = (micros // 60_000_000) % 60
    base = _concat(_lpad(hours, 2), ":", _lpad(minutes, 2))
    return _concat(base, _seconds_and_fraction((micros // 1_000_000) % 60, micros % 1_000_000, False))


def column_text(arr: pa.Array, t: DataType) -> pa.Array:
    """Each value of ``arr`` as text (``null`` for NULL), vectorised where Arrow can."""
    name = t.name
    if name in _STRINGS:
        text = arr.cast(pa.string())
    elif name in (*_INTS, "DECIMAL", "BOOLEAN", "DATE"):
        text = pc.cast(arr, pa.string())
    elif name in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        text = _java_datetimes(arr, instant=name == "TIMESTAMP_LTZ")
    elif name == "TIME":
        text = _java_times(arr)
    elif name in ("FLOAT", "DOUBLE"):
        text = java_float_texts(arr, single=name == "FLOAT")
    else:
        return pa.array([java_value(v, t) for v in arr.to_pylist()], pa.string())
    if arr.null_count:
        text = pc.if_else(arr.is_null(), "null", text)
    return text


def format_rows(batch: pa.RecordBatch, types: list[DataType], names: list[str], prefix: str) -> list[str]:
    """The printed lines of a batch."""
    n = batch.num_rows
    if ROW_KIND_COLUMN in batch.schema.names:
        kinds = pc.take(pa.array(ROW_KINDS), batch.column(ROW_KIND_COLUMN).cast(pa.int32()))
    else:
        kinds = pa.repeat(pa.scalar("+I"), n)
    columns = [column_text(batch.column(name), t) for name, t in zip(names, types)]
    if columns:
        body = pc.binary_join_element_wise(*columns, ", ")
    else:
        body = pa.repeat(pa.scalar(""), n)
    lines = _concat(pa.repeat(pa.scalar(prefix), n), kinds, "[", body, "]")
    return lines.to_pylist()


class PrintSink(SinkWriter):
    def __init__(self, spec: SinkSpec, ctx: SubtaskContext, stream: TextIO | None = None) -> None:
        super().__init__(spec, ctx)
        bag = OptionBag(spec.options, f"table '{spec.table}'")
        bag.get("connector")
        bag.get("sink.parallelism")
        identifier = bag.get("print-identifier")
        self.stderr = bag.get_bool("standard-error", False)
        bag.finish(["connector", "print-identifier", "standard-error", "sink.parallelism"])
        self.prefix = print_prefix(identifier, ctx.subtask, ctx.parallelism)
        self.stream = stream
        self.names = [f.name for f in spec.columns]
        self.types = [parse_type(f.type) for f in spec.columns]

    def _target(self) -> TextIO:
        if self.stream is not None:
            return self.stream
        streams = _STREAMS.get()
        if streams is not None:
            return streams[1] if self.stderr else streams[0]
        return sys.stderr if self.stderr else sys.stdout

    async def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        lines = format_rows(batch, self.types, self.names, self.prefix)
        out = self._target()
        out.write("\n".join(lines) + "\n")
        out.flush()
        self.rows_written += batch.num_rows
