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

import time
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import pyarrow as pa  # pyarrow.compute where used: ~20 ms of start-up that most kinds never need

from catalog.connectors.datagen import BYTES, STRINGS, DatagenConfig, FieldGen
from catalog.types import DataType
from planner.physical import SourceSpec
from runtime.arrow_types import to_arrow
from runtime.batches import numpy_array, output_schema
from runtime.connectors.base import SourceReader, SubtaskContext, source_config

_INT_DTYPES = {"TINYINT": np.int8, "SMALLINT": np.int16, "INT": np.int32, "BIGINT": np.int64}
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
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
        import pyarrow.compute as pc

        return pc.if_else(pa.array(mask), pa.nulls(n, values.type), values)

    def finish(self, values: pa.Array) -> pa.Array:
        return self.inner.finish(values)


class _RandomInt(_Gen):
    def __init__(self, t: DataType, lo: int, hi: int) -> None:
        self.dtype = _INT_DTYPES[t.name]
        self.type = to_arrow(t)
        self.lo, self.hi = lo, hi

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        values = rng.integers(self.lo, self.hi, size=n, dtype=self.dtype, endpoint=True)
        return numpy_array(self.type, values, n)


class _RandomFloat(_Gen):
    def __init__(self, t: DataType, lo: float, hi: float) -> None:
        self.dtype = np.float32 if t.name == "FLOAT" else np.float64
        self.type = to_arrow(t)
        self.lo, self.span = lo, hi - lo

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        values = rng.random(n)
        values *= self.span
        values += self.lo
        return numpy_array(self.type, values.astype(self.dtype, copy=False), n)


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
        self.binary = t.name in BYTES
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
        import pyarrow.compute as pc

        return pc.subtract(pa.scalar(now_us, pa.int64()), values).cast(self.type)


class _RandomDate(_Gen):
    def __init__(self, max_past_ms: int) -> None:
        self.max_past_days = max_past_ms // _MS_PER_DAY

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        return pa.array(rng.integers(0, self.max_past_days, size=n, endpoint=True, dtype=np.int32))

    def finish(self, values: pa.Array) -> pa.Array:
        today = (time.time_ns() // 1_000_000) // _MS_PER_DAY
        import pyarrow.compute as pc

        return pc.subtract(pa.scalar(today, pa.int32()), values).cast(pa.date32())


class _RandomTime(_Gen):
    def __init__(self, t: DataType) -> None:
        self.type = to_arrow(t)

    def generate(self, rng: np.random.Generator, first: int, n: int) -> pa.Array:
        millis = rng.integers(0, _MS_PER_DAY, size=n, dtype=np.int64)
        return numpy_array(self.type, millis * 1000, n)


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
        if name in _INT_DTYPES:
            return numpy_array(self.type, values.astype(_INT_DTYPES[name]), n)
        if name in ("FLOAT", "DOUBLE"):
            dtype = np.float32 if name == "FLOAT" else np.float64
            return numpy_array(self.type, values.astype(dtype), n)
        if name == "DECIMAL":
            return _decimal_array(values * 10 ** (self.t.scale or 0), self.type)
        import pyarrow.compute as pc

        return pc.cast(pa.array(values), pa.string())


# ---- construction from the catalog's field generators -------------------------------------


def _build(g: FieldGen, ctx: SubtaskContext) -> _Gen:
    """The generator of one column, as the catalog checked it (``catalog.connectors.datagen``)."""
    t, name = g.type, g.type.name
    gen: _Gen
    if g.kind == "sequence":
        gen = _Sequence(t, g.start, g.end, ctx.subtask, ctx.parallelism)
    elif name in _INT_DTYPES:
        gen = _RandomInt(t, g.low, g.high)
    elif name in ("FLOAT", "DOUBLE"):
        gen = _RandomFloat(t, g.low, g.high)
    elif name == "DECIMAL":
        gen = _RandomDecimal(t, g.low, g.high)
    elif name == "BOOLEAN":
        gen = _RandomBool()
    elif name in (*STRINGS, *BYTES):
        gen = _RandomString(t, g.length, g.var_len)
    elif name == "DATE":
        gen = _RandomDate(g.max_past_ms)
    elif name in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        gen = _RandomTimestamp(t, g.max_past_ms)
    elif name == "TIME":
        gen = _RandomTime(t)
    elif name == "NULL":
        gen = _Nulls(t)
    elif name in ("ARRAY", "MULTISET"):
        gen = _List(_build(g.children[0], _NO_CTX), g.length)
    elif name == "MAP":
        gen = _Map(_build(g.children[0], _NO_CTX), _build(g.children[1], _NO_CTX), g.length)
    else:  # ROW: the catalog refused every other type
        gen = _Row(t, [_build(c, _NO_CTX) for c in g.children])
    return _Nullable(gen, g.null_rate) if g.null_rate > 0 else gen


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
        rate, total, seed = config.rows_per_second, config.number_of_rows, config.seed
        self.rate = max(1, _share(rate, ctx))
        self.limit: int | None = None if total is None else _share(total, ctx)
        self.schema = output_schema(spec.columns, False)
        self.gens = [_build(config.fields[f.name], ctx) for f in spec.columns]
        for g in self.gens:
            if g.count is not None:
                self.limit = g.count if self.limit is None else min(self.limit, g.count)
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
