"""The values DISTINCT aggregates of an unwindowed GROUP BY have seen, over an insert-only input.

One table per argument (``seen<g>``, as Flink's DISTINCT aggregates of one argument share one
MapView) holds the (key, value) pairs seen so far, with a flag per aggregate: whether its
FILTER has let the value in yet. A batch adds to an aggregate only the values it had not let
in before.

A GROUP BY key is named in these tables by an integer id (``__id``), kept beside the key's
accumulators in ``acc``: each batch looks its keys' ids up once, beside its per-key deltas
(``__keys``; new keys get new ids), gives each row its key's id once (``__rows``, with the
rows' FILTER conditions as bits), and the value tables are grouped, joined and appended on
(id, value). Keyed by the key
columns themselves (two strings and a value in Nexmark q16) the same statements cost about
twice as much, and the tables held the strings once per value.

Ids are local to a subtask's state: a restore that splits or merges states by key
(``rescaled_select``) shifts each file's ids past those loaded before and keeps a file's
values of the keys that stay; a checkpoint written before ids existed (key columns in the
value tables) is given ids once loaded (``add_ids``).
"""

from __future__ import annotations

from planner.physical import INPUT_RELATION, AggCall
from runtime.batches import q
from runtime.operators.aggs import decimal_scale, decimal_sum_call
from runtime.state.duckdb_state import DuckDBState

ID = "__id"
KEYS = "__keys"  # the batch's keys and their ids
ROWS = "__rows"  # the batch's rows as the value tables read them: id, arguments, FILTER bits
MASK_BITS = 62  # FILTER conditions per BIGINT mask column of ``__rows``


def same(cols: list[str], left: str = "b", right: str = "o") -> list[str]:
    return [f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}" for c in cols]


def keys_sql(keys: list[str], delta_sql: str, next_id: int, first: bool) -> str:
    """``__keys``: the batch's per-key deltas (``delta_sql``, grouped by the key columns),
    each with its key's id (a new key: ``next_id`` and up, at most one a row of the batch)."""
    fresh = f"{next_id - 1} + row_number() OVER ()"
    if first:  # no ``acc`` yet: every key is new
        return f"CREATE OR REPLACE TEMP TABLE {KEYS} AS SELECT m.*, {fresh} AS {ID} FROM ({delta_sql}) m"
    return (
        f"CREATE OR REPLACE TEMP TABLE {KEYS} AS SELECT m.*, coalesce(o.{ID}, {fresh}) AS {ID} "
        f"FROM ({delta_sql}) m LEFT JOIN acc o ON {' AND '.join(same(keys, 'm', 'o'))}"
    )


class Rows:
    """``__rows``: once per batch, each input row's key id (``__id``), the argument of
    each shared value table (``__a<g>``) and its FILTER conditions as bits of BIGINT
    masks (``__m<c>``, a condition shared by several aggregates is one bit). Every table
    then groups its (id, value) pairs from these narrow rows: joining the batch with
    ``__keys`` once instead of once per table, and ORing one mask per pair instead of one
    ``bool_or`` per FILTER: q16's statements that group and probe its two tables' pairs took
    1.37 CPU s over 3M events, 1.14 s with ``__rows`` (q15, one key, the same as before)."""

    def __init__(self, groups: dict[int, list[tuple[int, AggCall]]], keys: list[str]) -> None:
        self.keys = keys
        self.args = {g: members[0][1].arg or "" for g, members in groups.items()}
        self.bits: dict[str, int] = {}
        for members in groups.values():
            for _, a in members:
                if a.filter and a.filter not in self.bits:
                    self.bits[a.filter] = len(self.bits)

    def sql(self, one_key: bool = False) -> str:
        """The statement; ``one_key``: for a batch whose rows all have one key (``__keys``
        has one row), which every row takes without a join on the key columns (q15's day:
        12.9 -> 7.3 ms a 262,144-row batch, the strings no longer read)."""
        source = INPUT_RELATION
        cols = [f"({arg}) AS __a{g}" for g, arg in self.args.items()]
        if self.keys:  # the batch's rows with their key's id
            on = " AND ".join(same(self.keys, "i", "k"))
            source = f"(SELECT i.*, k.{ID} FROM {INPUT_RELATION} i JOIN {KEYS} k ON {on})"
            if one_key:
                source = f"(SELECT i.*, k.{ID} FROM {INPUT_RELATION} i, {KEYS} k)"
            cols.insert(0, ID)
        masks: dict[int, list[str]] = {}
        for cond, bit in self.bits.items():
            masks.setdefault(bit // MASK_BITS, []).append(
                f"CASE WHEN ({cond}) THEN {1 << bit % MASK_BITS} ELSE 0 END"
            )
        cols += [f"({' + '.join(terms)})::BIGINT AS __m{c}" for c, terms in masks.items()]
        return f"CREATE OR REPLACE TEMP TABLE {ROWS} AS SELECT {', '.join(cols)} FROM {source}"

    def masks(self, members: list[tuple[int, AggCall]]) -> list[str]:
        """The mask columns the FILTERs of ``members`` read."""
        return sorted({f"__m{self.bits[a.filter] // MASK_BITS}" for _, a in members if a.filter})

    def let_in(self, a: AggCall, relation: str) -> str:
        """Whether a pair's rows let its value into ``a`` (its FILTER held for one of them),
        from the pair's ORed masks in ``relation``."""
        if not a.filter:
            return "true"
        bit = self.bits[a.filter]
        return f"({relation}.__m{bit // MASK_BITS} & {1 << bit % MASK_BITS}) <> 0"


def seen_values(
    g: int, members: list[tuple[int, AggCall]], keys: list[str], rows: Rows
) -> tuple[list[tuple[str, int]], str, str]:
    """The statements of one shared table (``seen<g>``) for a batch, over ``__rows``:
    returns the steps (SQL, sign of the rows it changes in the state), the CREATE, and a
    query of each key's additions (``n<i>``, ``s<i>``; by ``__id``, or of the one global
    group without keys)."""
    cols = [ID] if keys else []
    k = ", ".join([*cols, ""])
    bk = ", ".join([*(f"b.{c}" for c in cols), ""])
    arg = members[0][1].arg
    on_v = " AND ".join([*(f"b.{c} = o.{c}" for c in cols), "b.__v = o.__v"])
    ored = "".join(f", bit_or({m}) AS {m}" for m in rows.masks(members))
    batch = f"SELECT {k}__a{g} AS __v{ored} FROM {ROWS} WHERE __a{g} IS NOT NULL GROUP BY {k}__v"
    # Each gained flag is written once and filtered on by name outside, and an aggregate
    # without FILTER lets every value in: DuckDB binds each expression node of a statement
    # at ~35 us here, most of a statement's cost when it touches few keys (q15: one).
    gained, flags_now = [], []
    for x, (i, _) in zip((rows.let_in(a, "b") for _, a in members), members):
        before = f"coalesce(o.f{i}, false)"
        gained.append(f"NOT {before} AS g{i}" if x == "true" else f"{x} AND NOT {before} AS g{i}")
        flags_now.append(f"true AS f{i}" if x == "true" else f"{x} OR {before} AS f{i}")
    flags = ", ".join(f"f{i}" for i, _ in members)
    new = (
        f"SELECT * FROM (SELECT {bk}b.__v, o.__v IS NULL AS __fresh, {', '.join([*gained, *flags_now])} "
        f"FROM ({batch}) b LEFT JOIN seen{g} o ON {on_v}) WHERE {' OR '.join(f'g{i}' for i, _ in members)}"
    )
    create = (
        f"CREATE TABLE seen{g} AS SELECT {f'0::BIGINT AS {ID}, ' if keys else ''}({arg}) AS __v, "
        + ", ".join(f"false AS f{i}" for i, _ in members)
        + f" FROM {INPUT_RELATION} LIMIT 0"
    )
    steps = [(f"CREATE OR REPLACE TEMP TABLE __new{g} AS {new}", 0)]
    if len(members) > 1:  # a value another aggregate let in before: only its flags change
        updates = ", ".join(f"f{i} = b.f{i}" for i, _ in members)
        steps.append((f"UPDATE seen{g} o SET {updates} FROM __new{g} b WHERE NOT b.__fresh AND {on_v}", 0))
    steps.append((f"INSERT INTO seen{g} SELECT {k}__v, {flags} FROM __new{g} WHERE __fresh", 1))
    items = []
    for i, a in members:
        items.append(f"count(*) FILTER (WHERE g{i})::BIGINT AS n{i}")
        if a.func == "count":
            continue
        scale = decimal_scale(a)
        if scale is None:
            items.append(f"sum(__v) FILTER (WHERE g{i}) AS s{i}")
        else:  # NULL beyond 38 digits (0 for no value gained)
            total = decimal_sum_call("__v", scale, f"g{i}")
            items.append(f"CASE WHEN count(*) FILTER (WHERE g{i}) = 0 THEN 0 ELSE {total} END AS s{i}")
    gb = f" GROUP BY {ID}" if keys else ""
    return steps, create, f"SELECT {k}{', '.join(items)} FROM __new{g}{gb}"


def keyed_view(keys: tuple[str, ...], values: str, acc: str) -> str:
    """SQL showing a value table (``values``, with ``subtask``) by its keys' columns,
    looked up in ``acc`` (for ``sqlstream state``)."""
    k = ", ".join(f"a.{q(c)}" for c in keys)
    return f"SELECT {k}, v.* EXCLUDE ({ID}) FROM {values} v JOIN {acc} a USING (subtask, {ID})"


def _has_id(st: DuckDBState, database: str) -> bool:
    found = st.scalar(
        f"SELECT count(*) FROM duckdb_columns() WHERE database_name = '{database}' "
        f"AND table_name = 'acc' AND column_name = '{ID}'"
    )
    return bool(found)


def next_id(st: DuckDBState) -> int:
    """The first id not taken in ``acc``."""
    return int(st.scalar(f"SELECT coalesce(max({ID}), -1) + 1 FROM acc"))


class RescaledSelect:
    """``load_snapshot``'s ``select`` for a restore that filters states by key: in a file
    with ids, ``acc`` is read first (its name comes first), its ids shifted past those
    already loaded from other files, and a value table keeps the values of the keys the
    filter keeps, with their shifted ids."""

    def __init__(self, st: DuckDBState, seen: list[str]) -> None:
        self.st, self.seen = st, seen
        self.offset = 0

    def __call__(self, name: str, where: str) -> str | None:
        if not where or not _has_id(self.st, "__ck"):
            return None  # nothing split, or a file written before ids
        shifted = f"SELECT * REPLACE ({ID} + {{off}} AS {ID}) FROM __ck.main.{name}"
        if name == "acc":
            self.offset = next_id(self.st) if "acc" in self.st.tables else 0
            return shifted.format(off=self.offset) + where
        if name in self.seen:
            kept = f"SELECT {ID} FROM __ck.main.acc{where}"
            return shifted.format(off=self.offset) + f" WHERE {ID} IN ({kept})"
        return None


def add_ids(st: DuckDBState, keys: list[str], seen: list[str]) -> None:
    """A checkpoint written before ids: give each key of ``acc`` an id (after its key
    columns, where the operator writes it) and key the value tables by it."""
    if "acc" not in st.tables or _has_id(st, "memory"):
        return
    k = ", ".join(keys)
    numbered = f"(row_number() OVER () - 1)::BIGINT AS {ID}"
    st.execute(f"CREATE TABLE __acc AS SELECT {k}, {numbered}, * EXCLUDE ({k}) FROM acc")
    st.execute("DROP TABLE acc")
    st.execute("ALTER TABLE __acc RENAME TO acc")
    for name in seen:
        if name not in st.tables:
            continue
        st.execute(
            f"CREATE TABLE __seen AS SELECT a.{ID}, o.* EXCLUDE ({k}) FROM {name} o "
            f"JOIN acc a ON {' AND '.join(same(keys, 'o', 'a'))}"
        )
        st.execute(f"DROP TABLE {name}")
        st.execute(f"ALTER TABLE __seen RENAME TO {name}")
