"""Flink's ``datagen`` source: random or sequential rows, generated a batch at a time.

Options (Flink's): ``rows-per-second`` (default 10000, the total over all subtasks),
``number-of-rows`` (bounded when set, split evenly over subtasks), and per field
``fields.<f>.kind`` = ``random`` | ``sequence``; random: ``.min``, ``.max`` (numbers),
``.length`` (strings, bytes, collections; ``.var-len`` for 1..length), ``.max-past``
(timestamps and dates: uniformly in the past window, else now); sequence: ``.start``,
``.end`` (the source ends when a sequence does); any kind: ``.null-rate``.
``sqlstream.seed`` makes the random values reproducible.

Subtask ``i`` of ``p`` emits sequence values ``start + i, start + i + p, ...`` (Flink's
split), so together the subtasks emit each value once. Columns are built with numpy as
whole Arrow arrays, never row by row. ``position()`` is the number of rows this subtask
emitted; values come in blocks of 64k rows with a random stream per (seed, subtask,
block), so they do not depend on how polls cut the rows and a restore continues exactly.
"""

from __future__ import annotations

import decimal
import time
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.connectors.datagen import DatagenConfig
from catalog.errors import OptionError
from catalog.options import OptionBag, parse_duration_ms
from catalog.types import DataType, parse_type
from planner.physical import SourceSpec
from runtime.arrow_types import to_arrow
from runtime.batches import output_schema
from runtime.connectors.base import SourceReader, SubtaskContext, source_config

_INT_RANGES = {
    "TINYINT": (np.int8, -(2**7), 2**7 - 1),
    "SMALLINT": (np.int16, -(2**15), 2**15 - 1),
    "INT": (np.int32, -(2**31), 2**31 - 1),
    "BIGINT": (np.int64, -(2**63), 2**63 - 1),
}
# Flink's defaults: Float/Double.MIN_VALUE .. MAX_VALUE.
_FLOAT_RANGES = {
    "FLOAT": (1.4e-45, 3.4028234663852886e38),
    "DOUBLE": (5e-324, 1.7976931348623157e308),
}
_STRINGS = ("STRING", "VARCHAR", "CHAR")
_BYTES = ("BYTES", "BINARY", "VARBINARY")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DEFAULT_LENGTH = 100
_DEFAULT_COLLECTION = 3
_MS_PER_DAY = 86_400_000
BLOCK_ROWS = 65536


class _Gen(ABC):
    """Generates one column."""

    #: Rows this subtask can emit (a sequence's share), or None when unbounded.
    count: int | None = None

    @abstractmethod
    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        """Values of this subtask's rows ``first .. first + n - 1`` (a block of rows,
        generated ahead of time; ``finish`` completes a slice of it when it is emitted)."""

    def finish(self, values: pa.Array) -> pa.Array:
        """Complete generated values at the time they are emitted (timestamps add "now")."""
        return values


class _Nullable(_Gen):
    def __init__(self, inner: _Gen, rate: float) -> None:
        self.inner = inner
        self.rate = rate
        self.count = inner.count

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        values = self.inner.generate(rng, first, n)
        mask = rng.random(n) < self.rate
        return pc.if_else(pa.array(mask), pa.nulls(n, values.type), values)

    def finish(self, values: pa.Array) -> pa.Array:
        return self.inner.finish(values)


def _primitive(arrow_type: pa.DataType, values: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(arrow_type, len(values), [None, pa.py_buffer(values)])


class _RandomInt(_Gen):
    def __init__(self, t: DataType, lo: int, hi: int) -> None:
        self.dtype = _INT_RANGES[t.name][0]
        self.type = to_arrow(t)
        self.lo, self.hi = lo, hi

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        values = rng.integers(self.lo, self.hi, size=n, dtype=self.dtype, endpoint=True)
        return _primitive(self.type, values)


class _RandomFloat(_Gen):
    def __init__(self, t: DataType, lo: float, hi: float) -> None:
        self.dtype = np.float32 if t.name == "FLOAT" else np.float64
        self.type = to_arrow(t)
        self.lo, self.span = lo, hi - lo

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        values = rng.random(n)
        values *= self.span
        values += self.lo
        return _primitive(self.type, values.astype(self.dtype, copy=False))


def _decimal_array(unscaled: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """A decimal128 array from int64 unscaled values (little-endian 128-bit words)."""
    words = np.empty((len(unscaled), 2), dtype=np.int64)
    words[:, 0] = unscaled
    words[:, 1] = np.where(unscaled < 0, -1, 0)
    return pa.Array.from_buffers(arrow_type, len(unscaled), [None, pa.py_buffer(words)])


class _RandomDecimal(_Gen):
    def __init__(self, t: DataType, lo: int, hi: int) -> None:
        self.type = to_arrow(t)
        self.lo, self.hi = lo, hi  # unscaled

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        return _decimal_array(rng.integers(self.lo, self.hi, size=n, endpoint=True), self.type)


class _RandomBool(_Gen):
    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        return pa.array(rng.integers(0, 2, size=n, dtype=np.uint8).astype(bool))


class _RandomString(_Gen):
    """Random lowercase hex text, like Flink's ``nextHexString`` (bytes: random bytes)."""

    def __init__(self, t: DataType, length: int, var_len: bool) -> None:
        self.binary = t.name in _BYTES
        self.length, self.var_len = length, var_len

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        if self.var_len and self.length > 0:
            lengths = rng.integers(1, self.length, size=n, endpoint=True, dtype=np.int32)
            offsets = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(lengths, out=offsets[1:])
        else:
            offsets = np.arange(0, (n + 1) * self.length, self.length, dtype=np.int32)[: n + 1]
        total = int(offsets[-1])
        if self.binary:
            data = rng.integers(0, 256, size=total, dtype=np.uint8)
            return pa.BinaryArray.from_buffers(
                pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
            )
        data = _HEX[rng.integers(0, 16, size=total, dtype=np.uint8)]
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


class _RandomTimestamp(_Gen):
    """Now, or uniformly within ``max_past_ms`` before now (Flink: epoch millis). The
    block holds how far in the past each value is; "now" is added when it is emitted."""

    def __init__(self, t: DataType, max_past_ms: int) -> None:
        self.type = to_arrow(t)
        self.max_past_ms = max_past_ms

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        if self.max_past_ms > 0:
            return pa.array(rng.integers(0, self.max_past_ms, size=n, dtype=np.int64) * 1000)
        return pa.array(np.zeros(n, dtype=np.int64))

    def finish(self, values: pa.Array) -> pa.Array:
        now_us = (time.time_ns() // 1_000_000) * 1000
        return pc.subtract(pa.scalar(now_us, pa.int64()), values).cast(self.type)


class _RandomDate(_Gen):
    def __init__(self, max_past_ms: int) -> None:
        self.max_past_days = max_past_ms // _MS_PER_DAY

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        return pa.array(rng.integers(0, self.max_past_days, size=n, endpoint=True, dtype=np.int32))

    def finish(self, values: pa.Array) -> pa.Array:
        today = (time.time_ns() // 1_000_000) // _MS_PER_DAY
        return pc.subtract(pa.scalar(today, pa.int32()), values).cast(pa.date32())


class _RandomTime(_Gen):
    def __init__(self, t: DataType) -> None:
        self.type = to_arrow(t)

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        millis = rng.integers(0, _MS_PER_DAY, size=n, dtype=np.int64)
        return _primitive(self.type, millis * 1000)


class _List(_Gen):
    def __init__(self, element: _Gen, length: int) -> None:
        self.element, self.length = element, length

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        values = self.element.finish(self.element.generate(rng, 0, n * self.length))
        offsets = pa.array(np.arange(0, n * self.length + 1, self.length, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, values)


class _Map(_Gen):
    def __init__(self, key: _Gen, value: _Gen, length: int) -> None:
        self.key, self.value, self.length = key, value, length

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        keys = self.key.finish(self.key.generate(rng, 0, n * self.length))
        values = self.value.finish(self.value.generate(rng, 0, n * self.length))
        offsets = pa.array(np.arange(0, n * self.length + 1, self.length, dtype=np.int32))
        return pa.MapArray.from_arrays(offsets, keys, values)


class _Row(_Gen):
    def __init__(self, t: DataType, children: list[_Gen]) -> None:
        self.type = to_arrow(t)
        self.children = children

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        arrays = [c.finish(c.generate(rng, first, n)) for c in self.children]
        return pa.StructArray.from_arrays(arrays, fields=list(self.type))


class _Nulls(_Gen):
    def __init__(self, t: DataType) -> None:
        self.type = to_arrow(t)

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        return pa.nulls(n, self.type)


class _Sequence(_Gen):
    """``start + subtask + parallelism * k`` for this subtask's k-th row, up to ``end``."""

    def __init__(self, t: DataType, start: int, end: int, subtask: int, parallelism: int) -> None:
        self.t = t
        self.type = to_arrow(t)
        self.base = start + subtask
        self.step = parallelism
        self.count = max(0, (end - self.base) // parallelism + 1) if self.base <= end else 0

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        k = np.arange(first, first + n, dtype=np.int64)
        values = k * self.step + self.base
        name = self.t.name
        if name in _INT_RANGES:
            return _primitive(self.type, values.astype(_INT_RANGES[name][0]))
        if name in ("FLOAT", "DOUBLE"):
            dtype = np.float32 if name == "FLOAT" else np.float64
            return _primitive(self.type, values.astype(dtype))
        if name == "DECIMAL":
            return _decimal_array(values * 10 ** (self.t.scale or 0), self.type)
        return pc.cast(pa.array(values), pa.string())


# ---- construction from options ----------------------------------------------------------


class _FieldOptions:
    """The ``fields.<name>.*`` options of one column, consumed from the bag."""

    def __init__(self, bag: OptionBag, name: str) -> None:
        self.bag, self.prefix, self.name = bag, f"fields.{name}.", name
        self.read: set[str] = set()

    def get(self, key: str) -> str | None:
        self.read.add(key)
        return self.bag.get(self.prefix + key)

    def check_unused(self, t: DataType) -> None:
        """A known key this column's generator did not read does not apply to its type."""
        for key in ("kind", "null-rate", *_RANDOM_ONLY, *_SEQUENCE_ONLY):
            if key not in self.read and self.bag.has(self.prefix + key):
                self.get(key)
                raise self.error(key, f"does not apply to column '{self.name}' of type {t.sql()}")

    def error(self, key: str, message: str, hint: str | None = None) -> OptionError:
        return OptionError(f"{self.bag.where}: '{self.prefix}{key}' {message}", hint=hint)

    def number(self, key: str, default: Any, kind: type) -> Any:
        text = self.get(key)
        if text is None:
            return default
        try:
            return kind(decimal.Decimal(text.strip())) if kind is int else kind(text.strip())
        except (ValueError, ArithmeticError):
            raise self.error(key, f"= '{text}' is not a number") from None

    def length(self, default: int) -> int:
        text = self.get("length")
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise self.error("length", f"= '{text}' is not an integer") from None
        if value < 0:
            raise self.error("length", "must not be negative")
        return value


_RANDOM_ONLY = ("min", "max", "max-past", "length", "var-len")
_SEQUENCE_ONLY = ("start", "end")


def _make_gen(t: DataType, o: _FieldOptions, ctx: SubtaskContext, top: bool = True) -> _Gen:
    kind = (o.get("kind") or "random").lower() if top else "random"
    if kind not in ("random", "sequence"):
        raise o.error("kind", f"= '{kind}' is not one of random, sequence")
    if top:
        wrong = _RANDOM_ONLY if kind == "sequence" else _SEQUENCE_ONLY
        for key in wrong:
            if o.bag.has(o.prefix + key):
                o.get(key)
                raise o.error(key, f"does not apply to kind '{kind}'")
    if kind == "sequence":
        gen: _Gen = _make_sequence(t, o, ctx)
    else:
        gen = _make_random(t, o, top)
    if top:
        rate = o.number("null-rate", 0.0, float)
        if not 0.0 <= rate <= 1.0:
            raise o.error("null-rate", "must be between 0 and 1")
        if rate > 0:
            gen = _Nullable(gen, rate)
    return gen


def _make_sequence(t: DataType, o: _FieldOptions, ctx: SubtaskContext) -> _Gen:
    if t.name not in (*_INT_RANGES, "FLOAT", "DOUBLE", "DECIMAL", *_STRINGS):
        raise o.error("kind", f"= 'sequence' is not supported for the type {t.sql()}")
    if not o.bag.has(o.prefix + "start"):
        raise o.error("start", "is required for a sequence", hint=f"add '{o.prefix}start' = '1'")
    start = o.number("start", 0, int)
    lo, hi = _INT_RANGES.get(t.name, (None, -(2**63), 2**63 - 1))[1:]
    end = o.number("end", hi, int)
    if start < lo or end > hi:
        raise o.error("end" if end > hi else "start", f"is out of range for {t.sql()}")
    if end < start:
        raise o.error("end", f"({end}) is smaller than the start ({start})")
    return _Sequence(t, start, end, ctx.subtask, ctx.parallelism)


def _make_random(t: DataType, o: _FieldOptions, top: bool) -> _Gen:
    name = t.name
    if name in _INT_RANGES:
        _, tlo, thi = _INT_RANGES[name]
        lo, hi = o.number("min", tlo, int), o.number("max", thi, int)
        if lo < tlo or hi > thi:
            raise o.error("min" if lo < tlo else "max", f"is out of range for {t.sql()}")
        if lo > hi:
            raise o.error("min", f"({lo}) is larger than the max ({hi})")
        return _RandomInt(t, lo, hi)
    if name in _FLOAT_RANGES:
        flo, fhi = _FLOAT_RANGES[name]
        low, high = o.number("min", flo, float), o.number("max", fhi, float)
        if low > high:
            raise o.error("min", f"({low}) is larger than the max ({high})")
        return _RandomFloat(t, low, high)
    if name == "DECIMAL":
        scale = t.scale or 0
        digits = min((t.precision or 10), 18)
        limit = 10**digits - 1
        unit = decimal.Decimal(10) ** scale
        lo_d = o.number("min", None, decimal.Decimal)
        hi_d = o.number("max", None, decimal.Decimal)
        lo = -limit if lo_d is None else int(lo_d * unit)
        hi = limit if hi_d is None else int(hi_d * unit)
        if lo > hi:
            raise o.error("min", f"({lo_d}) is larger than the max ({hi_d})")
        return _RandomDecimal(t, max(lo, -limit), min(hi, limit))
    if name == "BOOLEAN":
        return _RandomBool()
    if name in (*_STRINGS, *_BYTES):
        default = _DEFAULT_LENGTH
        if t.precision is not None and name in ("VARCHAR", "CHAR", "BINARY", "VARBINARY"):
            default = min(default, t.precision)
        var_len = (o.get("var-len") or "false").strip().lower() == "true" if top else False
        return _RandomString(t, o.length(default) if top else default, var_len)
    if name in ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE"):
        max_past = 0
        text = o.get("max-past") if top else None
        if text is not None:
            max_past = parse_duration_ms(text, o.prefix + "max-past")
        return _RandomDate(max_past) if name == "DATE" else _RandomTimestamp(t, max_past)
    if name == "TIME":
        return _RandomTime(t)
    if name == "NULL":
        return _Nulls(t)
    child = _FieldOptions(o.bag, o.name)
    if name in ("ARRAY", "MULTISET"):
        length = o.length(_DEFAULT_COLLECTION) if top else _DEFAULT_COLLECTION
        return _List(_make_gen(t.children[0], child, _NO_CTX, top=False), length)
    if name == "MAP":
        length = o.length(_DEFAULT_COLLECTION) if top else _DEFAULT_COLLECTION
        return _Map(
            _make_gen(t.children[0], child, _NO_CTX, top=False),
            _make_gen(t.children[1], child, _NO_CTX, top=False),
            length,
        )
    if name == "ROW":
        return _Row(t, [_make_gen(c, child, _NO_CTX, top=False) for c in t.children])
    raise OptionError(f"{o.bag.where}: datagen cannot generate column '{o.name}' of type {t.sql()}")


_NO_CTX = SubtaskContext(job_name="", node_id=0, node_name="", subtask=0, parallelism=1)


def _share(total: int, ctx: SubtaskContext) -> int:
    """Subtask ``ctx.subtask``'s share of ``total`` when split evenly (Flink's split)."""
    p, i = ctx.parallelism, ctx.subtask
    return total // p + (1 if i < total % p else 0)


class DatagenSource(SourceReader):
    def __init__(self, spec: SourceSpec, ctx: SubtaskContext) -> None:
        super().__init__(spec, ctx)
        config = source_config(spec)
        assert isinstance(config, DatagenConfig)
        bag = OptionBag(spec.options, f"table '{spec.table}'")  # the fields.* options, per type
        for key in ("connector", "scan.parallelism", "rows-per-second", "number-of-rows", "sqlstream.seed"):
            bag.get(key)
        rate, total, seed = config.rows_per_second, config.number_of_rows, config.seed
        self.rate = max(1, _share(rate, ctx))
        self.limit: int | None = None if total is None else _share(total, ctx)
        self.schema = output_schema(spec.columns, False)
        self.gens: list[_Gen] = []
        known = ["connector", "rows-per-second", "number-of-rows", "scan.parallelism", "sqlstream.seed"]
        for f in spec.columns:
            t = parse_type(f.type)
            field_options = _FieldOptions(bag, f.name)
            self.gens.append(_make_gen(t, field_options, ctx))
            field_options.check_unused(t)
            known += [f"fields.{f.name}.{k}" for k in ("kind", "null-rate", *_RANDOM_ONLY, *_SEQUENCE_ONLY)]
        for g in self.gens:
            if g.count is not None:
                self.limit = g.count if self.limit is None else min(self.limit, g.count)
        bag.finish(known)
        self.seed = seed
        self.emitted = 0
        self._block_index = -1
        self._block: list[pa.Array] = []
        self._t0 = 0.0
        self._since_t0 = 0

    @property
    def bounded(self) -> bool:
        return self.limit is not None

    async def open(self) -> None:
        # Start with 20 ms worth of rows so the first poll already yields a batch.
        self._t0 = time.monotonic() - 0.02
        self._since_t0 = 0

    @property
    def finished(self) -> bool:
        return self.limit is not None and self.emitted >= self.limit

    async def poll(self, max_rows: int) -> pa.RecordBatch | None:
        n = max_rows
        if self.limit is not None:
            n = min(n, self.limit - self.emitted)
        if n <= 0:
            return None
        now = time.monotonic()
        allowed = int((now - self._t0) * self.rate) - self._since_t0
        if allowed > self.rate:  # fell behind by over a second (back-pressure): no burst
            self._t0, self._since_t0 = now - 1.0, 0
            allowed = self.rate
        if allowed < min(n, max(1, self.rate // 50)):
            return None
        n = min(n, allowed)
        batch = self.generate(n)
        self._since_t0 += n
        return batch

    def _block_columns(self, index: int) -> list[pa.Array]:
        """Block ``index`` of this subtask's rows: each block has its own random stream
        (seed, subtask, block), so the values do not depend on how polls cut the rows and
        a restore from a row count continues exactly."""
        if index != self._block_index:
            first = index * BLOCK_ROWS
            n = BLOCK_ROWS if self.limit is None else min(BLOCK_ROWS, self.limit - first)
            rng = np.random.default_rng([self.seed, self.ctx.subtask, index])
            self._block = [g.generate(rng, first, n) for g in self.gens]
            self._block_index = index
        return self._block

    def generate(self, n: int) -> pa.RecordBatch:
        """The next ``n`` rows, ignoring the rate limit (benchmarks call it directly)."""
        pieces: list[list[pa.Array]] = [[] for _ in self.gens]
        first, left = self.emitted, n
        while left > 0:
            index, offset = divmod(first, BLOCK_ROWS)
            block = self._block_columns(index)
            take = min(left, len(block[0]) - offset) if block else left
            if take <= 0:
                raise ValueError(f"datagen: asked for rows past the end ({self.limit})")
            for column, values in zip(pieces, block):
                column.append(values.slice(offset, take))
            first += take
            left -= take
        arrays = [
            g.finish(parts[0] if len(parts) == 1 else pa.concat_arrays(parts))
            for g, parts in zip(self.gens, pieces)
        ]
        self.emitted += n
        self.metrics.records_in += n
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def position(self) -> dict[str, Any]:
        return {"rows": self.emitted}

    def restore(self, position: dict[str, Any]) -> None:
        self.emitted = int(position.get("rows", 0))
