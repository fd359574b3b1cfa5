"""A window aggregate's partial rows and firings computed in Arrow, for the aggregates
whose partials Arrow computes exactly as DuckDB does.

The window aggregate keeps one partial row per key and slice (TUMBLE, HOP, CUMULATE) or
per key and gap-long bucket of time (SESSION) of each batch (``window_aggregate``'s
``_ingest_sql``). One DuckDB statement per batch cost ~3.3 ms for Nexmark's 64k-row
batches (q5's HOP, q11's SESSION), of which the hash grouping is ~1 ms in pyarrow; the
rest is the statement's fixed cost, the registration of the batch and the insert. Here
the rows are grouped by pyarrow (``ArrowPartials``) and wait in Arrow; a firing merges
them there too (``fire_slices``, ``fire_sessions``: ~1.5 ms a q11 firing against ~15 ms
of window functions and statements, and no statement for a firing of a few windows, where
DuckDB's fixed cost was ~3 ms), and what later windows need waits on. DuckDB holds them
only for a checkpoint (the operator writes them into its state table then, and reads that
table back at its next firing), so snapshots keep their layout.

Only what is exactly DuckDB's answer is taken: COUNT(*), COUNT of a column, MIN and MAX
of an integer column, none with FILTER or DISTINCT; keys of types whose equality is plain
value equality in both (integers, strings, booleans, dates, timestamps); event time in a
TIMESTAMP of ms or us precision without a time zone shift. Anything else goes through
the SQL of ``window_aggregate``, which gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from planner.physical import AggCall, WindowAggregateSpec
from runtime.batches import epoch_ms_values, int64_values, numpy_array, positions, q
from runtime.operators.windowing import Slicing, WallClock


@dataclass(frozen=True)
class ArrowPartials:
    """How to compute a batch's partial rows in Arrow: ``aggs`` holds, per partial column
    ``p{i}``, pyarrow's hash aggregate and the input column it reads (None: the rows)."""

    spec: WindowAggregateSpec
    aggs: tuple[tuple[str, str | None], ...]

    @staticmethod
    def of(spec: WindowAggregateSpec) -> ArrowPartials | None:
        """For an event-time window aggregate of only such aggregates; else None."""
        w = spec.window
        if w.proctime or WallClock(w.time_zone).shifts:
            return None
        aggs = [_arrow_agg(a) for a in spec.aggs]
        if any(a is None for a in aggs):
            return None
        return ArrowPartials(spec, tuple(a for a in aggs if a is not None))

    def supports(self, schema: pa.Schema) -> bool:
        """Whether a batch of ``schema`` has the types this can group and aggregate."""
        if any(schema.get_field_index(k) < 0 for k in (*self.spec.keys, self.spec.window.time_column)):
            return False
        if not pa.types.is_timestamp(schema.field(self.spec.window.time_column).type):
            return False
        if not all(_plain_key(schema.field(k).type) for k in self.spec.keys):
            return False
        for func, col in self.aggs:
            if col is None:
                continue
            if schema.get_field_index(col) < 0:
                return False
            if func != "count" and not pa.types.is_integer(schema.field(col).type):
                return False
        return True

    def partials(self, batch: pa.RecordBatch) -> pa.Table | None:
        """The partial rows of ``batch``, with the columns and types of the state table
        ``windows``: the keys, ``__se`` (or a session's ``__s`` and ``__e``), ``p0``...;
        None when its time's unit is not one ``epoch_ms_values`` reads."""
        spec = self.spec
        w = spec.window
        tcol = batch.column(w.time_column)
        if tcol.null_count:  # a row without a time belongs to no window
            batch = batch.filter(pc.is_valid(tcol))
            tcol = batch.column(w.time_column)
        ms = epoch_ms_values(tcol)
        if ms is None:
            return None
        names = [f"__k{j}" for j in range(len(spec.keys))]
        arrays: list[pa.Array] = [batch.column(k) for k in spec.keys]
        session = w.type == "session"
        if session:
            bucket = ms - ms % w.gap_ms  # windowing.sql_align(__t, gap)
            names += ["__b", "__t", "__x"]  # __x: a row's end, __t + gap
            arrays += [_int64(bucket), _int64(ms), _int64(ms + w.gap_ms)]
        else:
            s = Slicing(w)
            names.append("__b")
            arrays.append(_int64(ms - (ms - w.offset_ms) % s.slice_ms + s.slice_ms))  # slice end
        calls: list[tuple[str | list[str], str, None, str]] = []
        for i, (func, col) in enumerate(self.aggs):
            if col is None:
                calls.append(([], f"hash_{func}", None, f"p{i}"))
            else:
                names.append(f"__a{i}")
                arrays.append(batch.column(col))
                calls.append((f"__a{i}", f"hash_{func}", None, f"p{i}"))
        if session:
            calls += [("__t", "hash_min", None, "__s"), ("__x", "hash_max", None, "__e")]
        keys = [*names[: len(spec.keys)], "__b"]
        grouped = _group_by(pa.Table.from_arrays(arrays, names=names), keys, calls)
        out = [grouped.column(k) for k in keys[:-1]]
        if session:
            out += [grouped.column("__s"), grouped.column("__e")]
        else:
            out.append(grouped.column("__b"))
        out += [grouped.column(f"p{i}") for i in range(len(self.aggs))]
        time_names = ["__s", "__e"] if session else ["__se"]
        return pa.Table.from_arrays(
            out, names=[*spec.keys, *time_names, *(f"p{i}" for i in range(len(self.aggs)))]
        )


def _group_by(
    table: pa.Table, keys: list[str], calls: list[tuple[str | list[str], str, None, str]]
) -> pa.Table:
    """``table`` grouped by ``keys`` with pyarrow's hash aggregates ``calls`` (target,
    function, options, name), on this thread. Through ``pyarrow._acero``: ``Table.group_by``
    imports ``pyarrow.acero``, which imports ``pyarrow.dataset`` and with it pandas (~0.3-1
    CPU s, once per process)."""
    # the public pyarrow.acero's classes, from the module that defines them
    from pyarrow._acero import (  # noqa: PLC2701
        AggregateNodeOptions,
        Declaration,
        TableSourceNodeOptions,
    )

    plan = Declaration.from_sequence(
        [
            Declaration("table_source", TableSourceNodeOptions(table)),
            Declaration("aggregate", AggregateNodeOptions(calls, keys=keys)),
        ]
    )
    return plan.to_table(use_threads=False)


def _int64(values: np.ndarray) -> pa.Array:
    return numpy_array(pa.int64(), np.ascontiguousarray(values, dtype=np.int64), len(values))


def _arrow_agg(agg: AggCall) -> tuple[str, str | None] | None:
    """pyarrow's hash aggregate and the input column for ``agg``'s partial, if exact."""
    if agg.filter or agg.distinct:
        return None
    if agg.func == "count_star":
        return "count_all", None
    column = _column(agg.arg)
    if column is None or agg.func not in ("count", "min", "max"):
        return None
    return agg.func, column


def _column(arg: str | None) -> str | None:
    """The input column ``arg`` names, when it is a plain quoted column reference."""
    if arg is None or len(arg) < 2 or arg[0] != '"' or arg[-1] != '"':
        return None
    name = arg[1:-1].replace('""', '"')
    return name if q(name) == arg else None


def _plain_key(t: pa.DataType) -> bool:
    """Types whose GROUP BY equality is value equality in pyarrow and DuckDB alike (not
    floats: -0.0 and NaN; not nested types)."""
    return (
        pa.types.is_integer(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_boolean(t)
        or pa.types.is_date(t)
        or pa.types.is_timestamp(t)
    )


@dataclass(frozen=True)
class Sessions:
    """A firing of session windows from their fragments: ``fired`` (the keys, ``__s``,
    ``__e`` and the merged partials of each session ending at or before the bound, in
    order of their ends), ``open`` (the other sessions, one fragment each, as the state
    keeps them) and ``next_end`` (the least end of an open session)."""

    fired: pa.Table
    open: pa.Table
    next_end: int | None


def fire_sessions(fragments: pa.Table, spec: WindowAggregateSpec, bound: int) -> Sessions:
    """``window_aggregate``'s ``_label`` and session firing over fragments in Arrow, for
    the aggregates ``ArrowPartials`` takes: the fragments sorted by key, start and end; a
    fragment starts a session when it is its key's first or starts after the greatest end
    of the key's earlier fragments (gaps and islands, as Flink merges windows); each
    session's fragments merged by pyarrow's hash aggregation. ~1 ms for q11's ~9k
    fragments a firing, against ~6 ms for the labels' window functions in DuckDB (four
    sorts), whose temporary table and statements cost as much again."""
    n = fragments.num_rows
    keys = list(spec.keys)
    if n == 0:
        return Sessions(fragments, fragments, None)
    order = pc.sort_indices(
        fragments,
        options=pc.SortOptions([(k, "ascending", "at_end") for k in [*keys, "__s", "__e"]]),
    )
    rows = fragments.take(order).combine_chunks()
    first = np.zeros(n, dtype=bool)  # a key's first fragment
    first[0] = True
    for k in keys:
        col = rows.column(k).chunk(0) if rows.column(k).num_chunks else rows.column(k)
        later, earlier = col.slice(1), col.slice(0, n - 1)
        both_null = pc.and_(pc.is_null(later), pc.is_null(earlier))
        same = pc.coalesce(pc.equal(later, earlier), both_null)  # NULL keys are equal
        first[1:] |= np.frombuffer(pc.cast(pc.invert(same), pa.int8()).buffers()[1], np.int8, n - 1) != 0
    starts, ends = int64_values(rows.column("__s")), int64_values(rows.column("__e"))
    key_no = np.cumsum(first)
    # a running max of the ends that starts afresh at each key: each key's values lifted
    # above every earlier key's (key number x span); ranks instead of times where the
    # product could overflow
    lo, span = int(min(starts.min(), ends.min())), int(max(starts.max(), ends.max()))
    span -= lo - 1
    if (int(key_no[-1]) + 1) * span >= 2**62:
        every = np.unique(np.concatenate([starts, ends]))
        starts, ends, lo, span = np.searchsorted(every, starts), np.searchsorted(every, ends), 0, len(every)
    lifted_ends = np.maximum.accumulate(key_no * span + (ends - lo))
    new = first.copy()
    new[1:] |= key_no[1:] * span + (starts[1:] - lo) > lifted_ends[:-1]
    session = np.cumsum(new)
    calls: list[tuple[str | list[str], str, None, str]] = [(k, "hash_first", None, k) for k in keys]
    calls += [("__s", "hash_min", None, "__s"), ("__e", "hash_max", None, "__e")]
    calls += [
        (f"p{i}", _MERGES.get(a.func, f"hash_{a.func}"), None, f"p{i}") for i, a in enumerate(spec.aggs)
    ]
    labelled = rows.append_column("__g", _int64(session))
    merged = _group_by(labelled, ["__g"], calls).drop_columns(["__g"])
    merged_ends = int64_values(merged.column("__e"))
    due = merged_ends <= bound
    open_ = merged.take(positions(~due))
    fired = merged.take(positions(due))
    fired = fired.take(pc.sort_indices(fired.column("__e")))
    next_end = int(merged_ends[~due].min()) if len(open_) else None
    return Sessions(fired, open_, next_end)


def fire_slices(
    partials: pa.Table, spec: WindowAggregateSpec, done: int, bound: int
) -> tuple[pa.Table, pa.Table]:
    """``window_aggregate``'s ``_fire_sliced`` over partial rows in Arrow, for the
    aggregates ``ArrowPartials`` takes: the windows ending in (``done``, ``bound``] of
    TUMBLE, HOP or CUMULATE slices (the keys, ``__ws``, ``__we`` and the merged partials,
    in order of their ends), and the partial rows some later window still needs. Each
    slice spread over its windows (numpy), merged per key and window by pyarrow's hash
    aggregation: Nexmark q5's HOP fires ~60k windows a watermark."""
    s = Slicing(spec.window)
    w = s.window
    se = int64_values(partials.column("__se"))
    if w.type == "tumble":
        last = se
    elif w.type == "hop":
        last = se + (w.size_ms - w.slide_ms)
    else:
        x = se - w.step_ms
        last = x - (x - w.offset_ms) % w.size_ms + w.size_ms
    kept = partials.take(positions(last > bound))
    live = np.flatnonzero((se <= bound) & (last > done))
    # each live slice once per window containing it: ends se, se + slice, ... up to last
    at = np.repeat(live, s.per_slice)
    we = se[at] + np.tile(np.arange(s.per_slice, dtype=np.int64), len(live)) * s.slice_ms
    ok = (we <= last[at]) & (we <= bound) & (we > done)
    at, we = at[ok], we[ok]
    ws = last[at] - w.size_ms if w.type == "cumulate" else we - w.size_ms
    keys = list(spec.keys)
    spread = partials.select([*keys, *(f"p{i}" for i in range(len(spec.aggs)))]).take(
        numpy_array(pa.int64(), at, len(at))
    )
    spread = spread.append_column("__ws", _int64(ws)).append_column("__we", _int64(we))
    calls: list[tuple[str | list[str], str, None, str]] = [
        (f"p{i}", _MERGES.get(a.func, f"hash_{a.func}"), None, f"p{i}") for i, a in enumerate(spec.aggs)
    ]
    # (a window's start follows from its end but for CUMULATE; grouping by it costs little)
    fired = _group_by(spread, [*keys, "__ws", "__we"], calls)
    return fired.take(pc.sort_indices(fired.column("__we"))), kept


_MERGES = {"count": "hash_sum", "count_star": "hash_sum"}  # min and max merge as themselves
