"""The statements of a Top-N or deduplication over an insert-only input (``RankOp``).

Over an insert-only input the state holds at most ``end`` rows of a partition, all of them
in the range, and a batch's changes follow from a ranking of narrow rows: the partition
keys, the order columns and an identity (a state row's rowid, a candidate's arrival
number). Whole rows, with their long strings, are read only for the changes sent and for
the candidates that enter the state. Per batch:

1. ``best``: the arrival numbers of each partition's first ``end`` rows of the batch (a
   row behind them can never enter the range), over the narrow columns only; the operator
   takes those rows out of the Arrow batch as ``__c``, so only they are converted;
2. ``rank``: ``__r``, the touched partitions' old rows and the candidates, ranked
   together: ``__n`` the rank after the batch, ``__o`` an old row's rank before it (its
   new rank less the candidates ranked ahead of it), candidates past ``end`` left out;
3. ``emit``: the changes (``RankSpec.changes``) that involve an old row: per rank
   position (``__p`` the positions whose row changed; ``__d`` the old and new values of
   those that retract an old row or take one moved down; a row equal in value sends
   nothing), or per row (-D for old rows that left the range, +I for those that entered);
4. ``fresh``: the candidates that fill a position (or enter the range) with nothing to
   retract, most of a batch's changes: sent as they are from the Arrow batch (+I), so
   their long strings never make a round trip through DuckDB;
5. ``drop``: the old rows past ``end`` deleted; ``add``: the candidates within it
   (``kept``, again taken from the Arrow batch) inserted, in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from planner.physical import ARRIVAL, INPUT_RELATION, ROW_KIND_COLUMN, RankSpec, WindowRankSpec
from runtime.batches import numpy_array, q

if TYPE_CHECKING:
    from runtime.state.duckdb_state import DuckDBState

CANDIDATES = "__c"  # the batch's candidate rows, an Arrow relation
KEPT = "__k"  # the candidates the state keeps, an Arrow relation
EXPIRY = "{expiry}"  # in ``keep``: a state TTL's expiry of the rows written now
MAX_BY_LIMIT = 100  # above this end, a batch's best rows are found by a window instead


@dataclass(frozen=True)
class AppendStatements:
    best: str
    rank: str
    emit: list[str]  # CREATE statements run, SELECTs read as the changes, in order
    fresh: str  # the candidates entering the range with no old row to retract: __id, __n
    kept: str  # the arrival numbers (__id) of the candidates the state keeps
    drop: str  # the old rows pushed out of the state
    add: str  # the kept candidates (``KEPT``, an Arrow relation) into the state


def statements(
    spec: RankSpec,
    cols: list[str],
    keys: list[str],
    order: list[str],
    schema: pa.Schema,
    updating: bool,
    expiry: str,
) -> AppendStatements:
    """The statements of one batch. ``cols``/``keys`` are quoted, ``order`` the window's
    ORDER BY terms (``__seq`` last), ``schema`` the input's, ``updating`` whether the
    output carries row kinds, ``expiry`` a TTL's ``, <expression>`` (or empty)."""
    best = best_rows(spec, keys, order, schema)
    if spec.end == 1 and _goodness(spec, schema) is not None:
        rank = _top1_rank(spec, keys, schema)
    else:
        rank = _window_rank(spec, keys, order)
    listed = ", ".join(cols)
    in_new = f"__n BETWEEN {spec.start} AND {spec.end}"
    in_old = f"__src = 0 AND __o BETWEEN {spec.start} AND {spec.end}"
    kept = "SELECT __id FROM __r WHERE __src = 1"
    drop = f"DELETE FROM rows WHERE rowid IN (SELECT __id FROM __r WHERE __src = 0 AND __n > {spec.end})"
    add = f"INSERT INTO rows SELECT {listed}, __seq{expiry} FROM {KEPT}"
    if spec.changes == "rows":
        kind = q(ROW_KIND_COLUMN)
        emit = [
            f"SELECT {listed}, 3::TINYINT AS {kind} FROM rows WHERE rowid IN "
            f"(SELECT __id FROM __r WHERE {in_old} AND NOT ({in_new}))",
            # an old row moved into the range from above it (a range's start past 1)
            f"SELECT {listed}, 0::TINYINT AS {kind} FROM rows WHERE rowid IN "
            f"(SELECT __id FROM __r WHERE __src = 0 AND {in_new} AND NOT ({in_old}))",
        ]
        fresh = f"SELECT __id, __n FROM __r WHERE __src = 1 AND {in_new}"
        return AppendStatements(best, rank, emit, fresh, kept, drop, add)
    on = " AND ".join([*(f"o.{k} IS NOT DISTINCT FROM n.{k}" for k in keys), "o.__o = n.__n"])
    # the positions whose row changed: another row, which may still be equal in value
    moved = (
        f"CREATE OR REPLACE TEMP TABLE __p AS SELECT o.__id AS __oid, o.__o AS o__rn, n.__src AS __ns, "
        f"n.__id AS __nid, n.__n AS n__rn "
        f"FROM (SELECT * FROM __r WHERE {in_old}) o FULL JOIN (SELECT * FROM __r WHERE {in_new}) n "
        f"ON {on} WHERE o.__id IS NULL OR n.__id IS NULL OR n.__src = 1 OR o.__id <> n.__id"
    )
    # a position's new row: a candidate (``n``), or (below the first) an old row moved
    # down (``m``), each by a join of its own: DuckDB then reads ``rows`` by rowid
    olds = [f"o.{c} AS o{i}" for i, c in enumerate(cols)]
    if spec.end == 1:
        news = [f"n.{c} AS n{i}" for i, c in enumerate(cols)]
        joins = f"LEFT JOIN {CANDIDATES} n ON n.__seq = p.__nid"
    else:
        news = [f"CASE WHEN p.__ns = 0 THEN m.{c} ELSE n.{c} END AS n{i}" for i, c in enumerate(cols)]
        joins = (
            f"LEFT JOIN rows m ON m.rowid = CASE WHEN p.__ns = 0 THEN p.__nid END "
            f"LEFT JOIN {CANDIDATES} n ON n.__seq = CASE WHEN p.__ns = 1 THEN p.__nid END"
        )
    same_value = " AND ".join(f"o{i} IS NOT DISTINCT FROM n{i}" for i in range(len(cols)))
    kinds = {
        "o": "CASE WHEN n__rn IS NULL THEN 3 ELSE 1 END",
        "n": "CASE WHEN o__rn IS NULL THEN 0 ELSE 2 END",
    }
    # the positions that retract an old row or take one moved down, values side by side
    # (a candidate filling an empty position is ``fresh``: sent from the Arrow batch)
    emit = [
        moved,
        f"CREATE OR REPLACE TEMP TABLE __d AS SELECT *, o__rn IS NOT NULL AND n__rn IS NOT NULL "
        f"AND {same_value} AS __same FROM (SELECT {', '.join([*olds, *news])}, p.o__rn, p.n__rn "
        f"FROM (SELECT * FROM __p WHERE __oid IS NOT NULL OR __ns = 0) p "
        f"LEFT JOIN rows o ON o.rowid = p.__oid {joins})",
    ]
    for side in "on":  # every retraction of the batch before its additions, as the aggregate
        out = [f"{side}{i}" for i in range(len(cols))]
        if spec.rank_column:
            out.append(f"{side}__rn")
        if updating:
            out.append(f"({kinds[side]})::TINYINT")
        emit.append(f"SELECT {', '.join(out)} FROM __d WHERE {side}__rn IS NOT NULL AND NOT __same")
    fresh = "SELECT __nid AS __id, n__rn AS __n FROM __p WHERE __oid IS NULL AND __ns = 1"
    return AppendStatements(best, rank, emit, fresh, kept, drop, add)


def _window_rank(spec: RankSpec, keys: list[str], order: list[str]) -> str:
    """``__r`` by a window over the touched partitions' old rows and the candidates, their
    narrow columns only (see the module docstring)."""
    part = f"PARTITION BY {', '.join(keys)} " if keys else ""
    win = f"({part}ORDER BY {', '.join(order)})"
    ordered = [q(k.column) for k in spec.order if k.column != ARRIVAL]
    narrow = list(dict.fromkeys([*keys, *ordered, "__seq"]))
    old = f"SELECT 0 AS __src, r.rowid AS __id, {', '.join(f'r.{c}' for c in narrow)} FROM rows r"
    if keys:
        same = " AND ".join(f"r.{k} IS NOT DISTINCT FROM c.{k}" for k in keys)
        old += f" SEMI JOIN {CANDIDATES} c ON {same}"
    return (
        f"CREATE OR REPLACE TEMP TABLE __r AS SELECT __src, __id, {', '.join([*keys, '__n'])}, "
        f"__n - __a AS __o FROM (SELECT *, row_number() OVER {win} AS __n, "
        f"(sum(__src) OVER {win})::BIGINT AS __a FROM ({old} UNION ALL "
        f"SELECT 1, __seq, {', '.join(narrow)} FROM {CANDIDATES})) WHERE __src = 0 OR __n <= {spec.end}"
    )


def _top1_rank(spec: RankSpec, keys: list[str], schema: pa.Schema) -> str:
    """``__r`` of a Top-1 whose order has a ``_goodness`` key, without a window: a batch
    has one candidate per partition (``best_rows``), the state at most one row, so a join on
    the keys and a comparison of the two keys says which ranks first."""
    same = " AND ".join(f"r.{k} IS NOT DISTINCT FROM c.{k}" for k in keys) or "TRUE"
    wins = f"r.rowid IS NULL OR {_goodness(spec, schema, 'c.')} > {_goodness(spec, schema, 'r.')}"
    listed = "".join(f"{k}, " for k in keys)
    return (
        f"CREATE OR REPLACE TEMP TABLE __r AS WITH m AS (SELECT c.__seq AS __cid, r.rowid AS __rid, "
        f"{''.join(f'c.{k}, ' for k in keys)}{wins} AS __win FROM {CANDIDATES} c LEFT JOIN rows r ON {same}) "
        f"SELECT 1 AS __src, __cid AS __id, {listed}1::BIGINT AS __n, NULL::BIGINT AS __o FROM m WHERE __win "
        f"UNION ALL SELECT 0, __rid, {listed}CASE WHEN __win THEN 2 ELSE 1 END, 1 "
        f"FROM m WHERE __rid IS NOT NULL"
    )


def best_rows(
    spec: RankSpec | WindowRankSpec, keys: list[str], order: list[str], schema: pa.Schema, where: str = ""
) -> str:
    """The arrival numbers (``__seq``) of each partition's first ``end`` rows of the batch
    (``INPUT_RELATION``). An aggregate ``max_by`` over a key that grows as the rank improves is a
    hash aggregation, ~2.5x cheaper than a window's sort; an order it cannot express as
    such a key (a text or a float ascending, a long range) takes the window. ``where``
    (`` WHERE ...``) leaves rows out first."""
    key = _goodness(spec, schema)
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    if key is not None and spec.end <= MAX_BY_LIMIT:
        if spec.end == 1 and keys:
            return f"SELECT max_by(__seq, {key}) AS __seq FROM {INPUT_RELATION}{where}{group}"
        return f"SELECT unnest(max_by(__seq, {key}, {spec.end})) AS __seq FROM {INPUT_RELATION}{where}{group}"
    part = f"PARTITION BY {', '.join(keys)} " if keys else ""
    window = f"row_number() OVER ({part}ORDER BY {', '.join(order)})"
    return f"SELECT __seq FROM {INPUT_RELATION}{where} QUALIFY {window} <= {spec.end}"


def take_best(st: DuckDBState, best: str, batch: pa.RecordBatch, first: int) -> pa.RecordBatch:
    """The rows of ``batch`` (registered as ``INPUT_RELATION``; ``first`` the arrival number
    of its first row) that ``best`` (a ``best_rows`` statement) picks, taken out of the
    Arrow batch so that only they are converted, in arrival order: the state's columns
    then compress as well as the input's (a checkpoint of rows in hash order is ~1.8x
    larger)."""
    seqs = st.con.execute(best).fetchnumpy()["__seq"]
    positions = np.sort(np.asarray(seqs, dtype=np.int64)) - first
    return batch.take(numpy_array(pa.int64(), positions, len(positions)))


def pick(candidates: pa.RecordBatch, seqs: np.ndarray) -> tuple[pa.RecordBatch, np.ndarray]:
    """The rows of ``candidates`` (in arrival order, as ``take_best`` leaves them) whose
    arrival numbers are ``seqs``, in arrival order, and the order that sorts ``seqs``."""
    order = np.argsort(seqs, kind="stable")
    column = candidates.column(candidates.num_columns - 1)  # __seq
    have = np.frombuffer(column.buffers()[1], np.int64, count=len(column), offset=8 * column.offset)
    at = np.searchsorted(have, np.asarray(seqs, dtype=np.int64)[order])
    return candidates.take(numpy_array(pa.int64(), at, len(at))), order


def _goodness(spec: RankSpec | WindowRankSpec, schema: pa.Schema, of: str = "") -> str | None:
    """A row value (struct) that is larger the earlier a row ranks, or None. DuckDB compares
    structs field by field, a NULL field equal to another NULL: each order column gives a
    flag (whether it is NULL, true first where NULLs rank first) then its value, negated
    when ascending; arrival breaks ties. ``of`` prefixes the columns (a table's alias)."""
    parts = []
    for k in spec.order:
        if k.column == ARRIVAL:
            parts.append(f"~{of}__seq" if k.ascending else f"{of}__seq")
            continue
        col, kind = of + q(k.column), schema.field(k.column).type
        if pa.types.is_floating(kind):  # NaN and -0.0: leave them to ORDER BY
            return None
        parts.append(f"{col} IS NULL" if k.nulls_first else f"{col} IS NOT NULL")
        value = _descending(col, kind) if k.ascending else col
        if value is None:
            return None
        parts.append(value)
    parts.append(f"{of}__seq" if spec.ties_last else f"~{of}__seq")
    return f"({', '.join(parts)})"


def _descending(col: str, kind: pa.DataType) -> str | None:
    """An expression that orders the values of ``col`` backwards, or None."""
    if pa.types.is_integer(kind):
        return f"~{col}"  # -x overflows at the least BIGINT; ~x = -x - 1 does not
    if pa.types.is_decimal(kind):
        return f"-{col}"
    if pa.types.is_timestamp(kind) and kind.unit != "ns":
        return f"~epoch_us({col})"
    if pa.types.is_boolean(kind):
        return f"NOT {col}"
    return None
