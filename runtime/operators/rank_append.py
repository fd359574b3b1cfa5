"""The statements of a Top-N or deduplication over an insert-only input (``RankOp``).

Over an insert-only input the state holds at most ``end`` rows of a partition, all of them
in the range, and a batch's changes follow from a ranking of narrow rows: the partition
keys, the order columns and an identity (a state row's rowid, a candidate's arrival
number). Whole rows, with their long strings, are read only for the changes sent and for
the candidates that enter the state. Per batch:

1. ``best``: the arrival numbers of each partition's first ``end`` rows of the batch (a
   row behind them can never enter the range), over the narrow columns only; the operator
   takes those rows out of the Arrow batch as ``__c``, so only they are converted;
2. ``rank``: ``__r``, the old rows of the touched partitions that have some (``__h``) and
   their candidates, ranked together: ``__n`` the rank after the batch, ``__o`` an old
   row's rank before it (its new rank less the candidates ranked ahead of it), candidates
   past ``end`` left out; a partition with no old row keeps its rank in the batch
   (``__b``). ``changed`` lists every change by identity;
3. ``emit``: the changes (``RankSpec.changes``) that involve an old row: per rank
   position (``__p`` the positions whose row changed; ``__d`` the old and new values of
   those that retract an old row or take one moved down; a row equal in value sends
   nothing), or per row (-D for old rows that left the range, +I for those that entered);
4. ``fresh``: the candidates that fill a position (or enter the range) with nothing to
   retract, most of a batch's changes: sent as they are from the Arrow batch (+I), so
   their long strings never make a round trip through DuckDB;
5. ``drop``: the old rows past ``end`` deleted; ``add``: the candidates within it
   (``kept``, again taken from the Arrow batch) inserted, in arrival order.

A Top-1 with a ``_goodness`` key (deduplication, q18) has fewer steps (``_top1``): one
query over the input batch gives the winners and the old rows they replace; the winners
are taken out of the Arrow batch once, sent (+I, or +U after the old row's -U) and
inserted from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from planner.physical import ARRIVAL, INPUT_RELATION, ROW_KIND_COLUMN, RankSpec, WindowRankSpec
from runtime.batches import int64_values, numpy_array, q

if TYPE_CHECKING:
    from runtime.state.duckdb_state import DuckDBState

CANDIDATES = "__c"  # the batch's candidate rows, an Arrow relation
KEPT = "__k"  # the candidates the state keeps, an Arrow relation
EXPIRY = "{expiry}"  # in ``keep``: a state TTL's expiry of the rows written now
MAX_BY_LIMIT = 100  # above this end, a batch's best rows are found by a window instead


@dataclass(frozen=True)
class AppendStatements:
    best: str
    rank: list[str]  # CREATE statements: the ranking, the positions whose row changed
    # every change's identities: __oid (the old row retracted, or -1), __ns (1: the new row is
    # a candidate), __nid (its arrival number or rowid), __n (its rank)
    changed: str
    emit: list[str]  # the changes with an old row: CREATE statements run, SELECTs read, in order
    # the arrival numbers (__id) of the candidates the state keeps; None: those among the
    # changes (a range from the first: every candidate kept enters it)
    kept: str | None
    drop: str  # the old rows pushed out of the state
    add: str  # the kept candidates (``KEPT``: the candidates ``flag``ged) into the state


@dataclass(frozen=True)
class Top1Statements:
    """A Top-1's statements (``_top1``): one query finds the winners, the rows they
    replace are read, deleted, and the winners inserted."""

    # over the input batch: each winner's arrival number (__nid) and the rowid of the old
    # row it replaces (__oid, -1: none)
    winners: str
    # over ``CANDIDATES`` (the winners with an old row, their ``__oid`` beside them): the
    # arrival number of each whose old row differs in value, then that old row's output
    # (-U) columns
    retract: str
    drop: str  # the old rows replaced (``CANDIDATES``' ``__oid``) deleted
    add: str  # the winners (``KEPT``) into the state


def statements(
    spec: RankSpec,
    cols: list[str],
    keys: list[str],
    order: list[str],
    schema: pa.Schema,
    updating: bool,
    expiry: str,
    null_keys: bool = True,
) -> AppendStatements | Top1Statements:
    """The statements of one batch. ``cols``/``keys`` are quoted, ``order`` the window's
    ORDER BY terms (``__seq`` last), ``schema`` the input's, ``updating`` whether the
    output carries row kinds, ``expiry`` a TTL's ``, <expression>`` (or empty);
    ``null_keys`` False: for a batch with no NULL partition key (see ``_same``)."""
    listed = ", ".join(cols)
    add = f"INSERT INTO rows SELECT {listed}, __seq{expiry} FROM {KEPT} WHERE __keep"
    if spec.end == 1 and spec.changes != "rows" and _goodness(spec, schema) is not None:
        return _top1(spec, cols, keys, schema, updating, expiry, null_keys)
    best = best_rows(spec, keys, order, schema, ranked=bool(keys))
    rank = _window_rank(spec, keys, order, null_keys)
    in_new = f"__n BETWEEN {spec.start} AND {spec.end}"
    in_old = f"__src = 0 AND __o BETWEEN {spec.start} AND {spec.end}"
    drop = f"DELETE FROM rows WHERE rowid IN (SELECT __id FROM __r WHERE __src = 0 AND __n > {spec.end})"
    kept: str | None = "SELECT __id FROM __r WHERE __src = 1"
    # the candidates of partitions with no old row: ranked in the batch (``best_rows``)
    alone = ""
    if keys:
        alone = f"{CANDIDATES} c ANTI JOIN __h h ON {_same(keys, 'h', 'c', null_keys)}"
        kept = f"{kept} UNION ALL SELECT __seq FROM {alone}"
        alone = (
            f" UNION ALL SELECT -1, 1, __seq, __b FROM {alone} WHERE __b BETWEEN {spec.start} AND {spec.end}"
        )
    if spec.start == 1:
        kept = None
    if spec.changes == "rows":
        kind = q(ROW_KIND_COLUMN)
        changed = (
            f"SELECT CASE WHEN __src = 0 THEN __id ELSE -1 END AS __oid, __src AS __ns, __id AS __nid, "
            f"__n FROM __r WHERE ({in_new}) <> coalesce({in_old}, FALSE){alone}"
        )
        emit = [
            f"SELECT {listed}, 3::TINYINT AS {kind} FROM rows WHERE rowid IN "
            f"(SELECT __id FROM __r WHERE {in_old} AND NOT ({in_new}))",
            # an old row moved into the range from above it (a range's start past 1)
            f"SELECT {listed}, 0::TINYINT AS {kind} FROM rows WHERE rowid IN "
            f"(SELECT __id FROM __r WHERE __src = 0 AND {in_new} AND NOT ({in_old}))",
        ]
        return AppendStatements(best, rank, changed, emit, kept, drop, add)
    on = " AND ".join([*([_same(keys, "o", "n", null_keys)] if keys else []), "o.__o = n.__n"])
    # the positions whose row changed: another row, which may still be equal in value
    rank.append(
        f"CREATE OR REPLACE TEMP TABLE __p AS SELECT o.__id AS __oid, o.__o AS o__rn, n.__src AS __ns, "
        f"n.__id AS __nid, n.__n AS n__rn "
        f"FROM (SELECT * FROM __r WHERE {in_old}) o FULL JOIN (SELECT * FROM __r WHERE {in_new}) n "
        f"ON {on} WHERE o.__id IS NULL OR n.__id IS NULL OR n.__src = 1 OR o.__id <> n.__id"
    )
    changed = (
        f"SELECT coalesce(__oid, -1) AS __oid, coalesce(__ns, 0) AS __ns, __nid, n__rn AS __n FROM __p{alone}"
    )
    # a position's new row: a candidate (``n``), or (below the first) an old row moved
    # down (``m``), each by a join of its own: DuckDB then reads ``rows`` by rowid
    olds = [f"o.{c} AS o{i}" for i, c in enumerate(cols)]
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
    emit = [
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
    return AppendStatements(best, rank, changed, emit, kept, drop, add)


def _window_rank(spec: RankSpec, keys: list[str], order: list[str], null_keys: bool) -> list[str]:
    """``__r`` by a window over the narrow columns of the touched partitions' old rows
    (``__h``) and their candidates (see the module docstring). A partition with no old row
    is left out: its candidates rank as in the batch (``best_rows``' ``__b``)."""
    part = f"PARTITION BY {', '.join(keys)} " if keys else ""
    win = f"({part}ORDER BY {', '.join(order)})"
    ordered = [q(k.column) for k in spec.order if k.column != ARRIVAL]
    narrow = list(dict.fromkeys([*keys, *ordered, "__seq"]))
    old = f"SELECT r.rowid AS __id, {', '.join(f'r.{c}' for c in narrow)} FROM rows r"
    candidates = f"SELECT 1, __seq, {', '.join(narrow)} FROM {CANDIDATES}"
    if keys:
        old += f" SEMI JOIN {CANDIDATES} c ON {_same(keys, 'r', 'c', null_keys)}"
        candidates += f" c SEMI JOIN __h h ON {_same(keys, 'h', 'c', null_keys)}"
    return [
        f"CREATE OR REPLACE TEMP TABLE __h AS {old}",
        f"CREATE OR REPLACE TEMP TABLE __r AS SELECT __src, __id, {', '.join([*keys, '__n'])}, "
        f"__n - __a AS __o FROM (SELECT *, row_number() OVER {win} AS __n, "
        f"(sum(__src) OVER {win})::BIGINT AS __a FROM (SELECT 0 AS __src, * FROM __h UNION ALL "
        f"{candidates})) WHERE __src = 0 OR __n <= {spec.end}",
    ]


def _top1(
    spec: RankSpec,
    cols: list[str],
    keys: list[str],
    schema: pa.Schema,
    updating: bool,
    expiry: str,
    null_keys: bool,
) -> Top1Statements:
    """The statements of a Top-1 (deduplication) whose order has a ``_goodness`` key (see
    ``Top1Statements``): a batch has one candidate per partition, its greatest key, and the
    state at most one row, so one query over the input batch finds each partition's best
    row, joins the state on the keys and compares the two keys: what is left are the
    winners (``__nid``) and the rowids of the old rows they replace (``__oid``, -1: none).
    A winner with an old row sends -U/+U (none when the two are equal in value), one
    without sends +I."""
    key = _goodness(spec, schema)
    assert key is not None
    listed = ", ".join(cols)
    group = f" GROUP BY {', '.join(keys)}" if keys else " HAVING count(*) > 0"
    best = f"SELECT {''.join(f'{k}, ' for k in keys)}max({key}) AS __k FROM {INPUT_RELATION}{group}"
    same = _same(keys, "r", "b", null_keys) or "TRUE"
    winners = (
        f"SELECT {_arrival(spec, schema, 'b.__k')} AS __nid, coalesce(r.rowid, -1) AS __oid "
        f"FROM ({best}) b LEFT JOIN rows r ON {same} "
        f"WHERE r.rowid IS NULL OR b.__k > {_goodness(spec, schema, 'r.')}"
    )
    same_value = " AND ".join(f"o.{c} IS NOT DISTINCT FROM n.{c}" for c in cols)
    out = [f"o.{c}" for c in cols]
    if spec.rank_column:
        out.append("1::BIGINT")
    if updating:
        out.append("1::TINYINT")
    retract = (
        f"SELECT n.__seq, {', '.join(out)} FROM {CANDIDATES} n JOIN rows o ON o.rowid = n.__oid "
        f"WHERE NOT ({same_value})"
    )
    return Top1Statements(
        winners,
        retract,
        f"DELETE FROM rows WHERE rowid IN (SELECT __oid FROM {CANDIDATES})",
        f"INSERT INTO rows SELECT {listed}, __seq{expiry} FROM {KEPT}",
    )


def _arrival(spec: RankSpec, schema: pa.Schema, key: str) -> str:
    """SQL: the arrival number a ``_goodness`` value ``key`` of a Top-1 was made from, so
    that a batch's best rows are found by ``max`` alone (``max_by`` beside it cost ~40%
    more): the low 63 bits of a packed key (its tie part), else its last part (``__seq``,
    or its complement when arrival ranks ascending)."""
    if len(spec.order) == 1 and spec.order[0].column == ARRIVAL:  # ``__seq`` or ``~__seq``
        return f"~{key}" if spec.order[0].ascending else key
    if _packed(spec, schema, "") is not None:
        tie = f"({key} & 9223372036854775807)::BIGINT"
        return tie if spec.ties_last else f"(9223372036854775807 - {tie})"
    parts = sum(1 if k.column == ARRIVAL else 2 for k in spec.order) + 1
    last = f"struct_extract({key}, {parts})" if spec.order else key  # one part: no struct
    return last if spec.ties_last else f"~{last}"


def _same(keys: list[str], a: str, b: str, null_keys: bool) -> str:
    """The partition keys of ``a`` and ``b`` equal: NULL equal to NULL, or (a batch with no
    NULL key, whose partitions then all have keys) by ``=``, which lets DuckDB skip the
    state's row groups outside the batch's least and greatest key (q19's old rows of the
    touched auctions: 0.17 -> 0.08 CPU s)."""
    op = "IS NOT DISTINCT FROM" if null_keys else "="
    return " AND ".join(f"{a}.{k} {op} {b}.{k}" for k in keys)


def best_rows(
    spec: RankSpec | WindowRankSpec,
    keys: list[str],
    order: list[str],
    schema: pa.Schema,
    where: str = "",
    ranked: bool = False,
) -> str:
    """The arrival numbers (``__seq``) of each partition's first ``end`` rows of the batch
    (``INPUT_RELATION``), with ``ranked`` their rank in the batch too (``__b``). An
    aggregate ``max_by`` over a key that grows as the rank improves is a hash aggregation,
    ~2.5x cheaper than a window's sort (its list of the best is in rank order); an order
    it cannot express as such a key (a text or a float ascending, a long range) takes the
    window. ``where`` (`` WHERE ...``) leaves rows out first."""
    key = _goodness(spec, schema)
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    if key is not None and spec.end <= MAX_BY_LIMIT:
        if spec.end == 1 and keys and not ranked:
            return f"SELECT max_by(__seq, {key}) AS __seq FROM {INPUT_RELATION}{where}{group}"
        best = f"max_by(__seq, {key}, {spec.end})"
        if ranked:
            return (
                f"SELECT unnest(__l) AS __seq, generate_subscripts(__l, 1)::BIGINT AS __b "
                f"FROM (SELECT {best} AS __l FROM {INPUT_RELATION}{where}{group})"
            )
        return f"SELECT unnest({best}) AS __seq FROM {INPUT_RELATION}{where}{group}"
    part = f"PARTITION BY {', '.join(keys)} " if keys else ""
    window = f"row_number() OVER ({part}ORDER BY {', '.join(order)})"
    rank = f", {window} AS __b" if ranked else ""
    return f"SELECT __seq{rank} FROM {INPUT_RELATION}{where} QUALIFY {window} <= {spec.end}"


def take_best(st: DuckDBState, best: str, batch: pa.RecordBatch, first: int) -> pa.RecordBatch:
    """The rows of ``batch`` (registered as ``INPUT_RELATION``; ``first`` the arrival number
    of its first row) that ``best`` (a ``best_rows`` statement) picks, taken out of the
    Arrow batch so that only they are converted, in arrival order: the state's columns
    then compress as well as the input's (a checkpoint of rows in hash order is ~1.8x
    larger). A ranked ``best`` adds the rows' ranks in the batch as column ``__b``."""
    found = st.con.execute(best).fetchnumpy()
    seqs = np.asarray(found["__seq"], dtype=np.int64)
    order = np.argsort(seqs)
    positions = seqs[order] - first
    rows = batch.take(numpy_array(pa.int64(), positions, len(positions)))
    if "__b" in found:
        ranks = np.ascontiguousarray(np.asarray(found["__b"], dtype=np.int64)[order])
        rows = rows.append_column("__b", numpy_array(pa.int64(), ranks, len(ranks)))
    return rows


def take_winners(
    st: DuckDBState, winners: str, batch: pa.RecordBatch, first: int
) -> tuple[pa.RecordBatch, np.ndarray]:
    """The rows of ``batch`` (registered as ``INPUT_RELATION``; ``first`` the arrival
    number of its first row) that a Top-1's ``winners`` query picks, taken out of the Arrow
    batch in arrival order, and beside them the rowid of the old row each replaces (-1:
    none)."""
    found = st.con.execute(winners).fetchnumpy()
    seqs = np.asarray(found["__nid"], dtype=np.int64)
    order = np.argsort(seqs)
    positions = seqs[order] - first
    rows = batch.take(numpy_array(pa.int64(), positions, len(positions)))
    return rows, np.asarray(found["__oid"], dtype=np.int64)[order]


def arrival_numbers(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A BIGINT column without NULLs (arrival numbers) as numpy, without a copy where it
    is one chunk (``to_numpy`` would import pandas, see ``numpy_array``)."""
    return int64_values(column)


def pick(candidates: pa.RecordBatch, seqs: np.ndarray) -> tuple[pa.RecordBatch, np.ndarray]:
    """The rows of ``candidates`` (in arrival order, as ``take_best`` leaves them) whose
    arrival numbers are ``seqs``, in arrival order, and the order that sorts ``seqs``."""
    order = np.argsort(seqs, kind="stable")
    have = arrival_numbers(candidates.column("__seq"))
    if len(seqs) == len(have):  # all of them (arrival numbers are unique)
        return candidates, order
    at = np.searchsorted(have, np.asarray(seqs, dtype=np.int64)[order])
    return candidates.take(numpy_array(pa.int64(), at, len(at))), order


def flag(candidates: pa.RecordBatch, seqs: np.ndarray) -> pa.RecordBatch:
    """``candidates`` with a column ``__keep``, true for the arrival numbers ``seqs``: DuckDB
    reads only those rows' values, without a copy of the others taken out first."""
    have = arrival_numbers(candidates.column("__seq"))
    keep = np.zeros(len(have), dtype=bool)
    keep[np.searchsorted(have, np.asarray(seqs, dtype=np.int64))] = True
    bits = np.packbits(keep, bitorder="little")
    return candidates.append_column("__keep", numpy_array(pa.bool_(), bits, len(have)))


def _goodness(spec: RankSpec | WindowRankSpec, schema: pa.Schema, of: str = "") -> str | None:
    """A row value (struct) that is larger the earlier a row ranks, or None. DuckDB compares
    structs field by field, a NULL field equal to another NULL: each order column gives a
    flag (whether it is NULL, true first where NULLs rank first) then its value, negated
    when ascending; arrival breaks ties. ``of`` prefixes the columns (a table's alias).
    A Top-1 by one column of a few kinds gets a HUGEINT instead (``_packed``)."""
    if spec.end == 1 and (packed := _packed(spec, schema, of)) is not None:
        return packed
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


def _packed(spec: RankSpec | WindowRankSpec, schema: pa.Schema, of: str) -> str | None:
    """``_goodness`` of an order by one column (an integer, a timestamp or a boolean) as a
    HUGEINT: the column's value as a BIGINT (one past either end for NULL) times 2^63,
    plus the arrival number or its complement (a tie's part, 0 .. 2^63 - 1). Comparing it
    is ~1.6x cheaper than a struct's field by field, a Top-1's ``max_by`` over a batch."""
    if len(spec.order) != 1:
        return None
    k = spec.order[0]
    if k.column == ARRIVAL:
        return f"~{of}__seq" if k.ascending else f"{of}__seq"
    col, kind = of + q(k.column), schema.field(k.column).type
    if pa.types.is_signed_integer(kind) or pa.types.is_boolean(kind):
        value = f"{col}::BIGINT"
    elif pa.types.is_timestamp(kind) and kind.unit != "ns":
        value = f"epoch_us({col})"
    else:
        return None
    if k.ascending:
        value = f"~{value}"
    null = "9223372036854775808" if k.nulls_first else "-9223372036854775809"
    tie = f"{of}__seq" if spec.ties_last else f"(9223372036854775807 - {of}__seq)"
    return f"((CASE WHEN {col} IS NULL THEN {null} ELSE {value} END)::HUGEINT * 9223372036854775808 + {tie})"


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
