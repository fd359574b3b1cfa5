"""The physical plan: a DAG of operator nodes, the contract between planner and runtime.

Plain frozen dataclasses that serialise to JSON and back, so another tool can plan with
``import planner`` and ship the document elsewhere. Every expression inside a node is
DuckDB SQL over the node's input, which the runtime registers as a relation named
``input`` (columns quoted with double quotes). Updating streams carry Flink's row kind in
a column ``ROW_KIND_COLUMN`` (int8: 0 +I, 1 -U, 2 +U, 3 -D) that no schema lists.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from catalog.connectors import ChangelogMode, Guarantee
from catalog.functions import FunctionDef, function_from_json, function_to_json
from planner.window import Window

ROW_KIND_COLUMN = "__row_kind"
INPUT_RELATION = "input"


class Partitioning(StrEnum):
    FORWARD = "forward"
    HASH = "hash"
    BROADCAST = "broadcast"
    SINGLE = "single"
    REBALANCE = "rebalance"


@dataclass(frozen=True)
class Field:
    """An output column: its name, Flink type text and time attribute, if any."""

    name: str
    type: str
    time_attribute: str | None = None  # "rowtime" | "proctime" | None


@dataclass(frozen=True)
class Edge:
    """An input of a node: which node, which of its outputs (``MAIN_OUTPUT``, or
    ``LATE_ROWS_OUTPUT``: the rows a window operator dropped as late), and how its rows
    are spread over our subtasks.

    ``local_aggregate``: two-phase aggregation (``planner.agg_phase``). Each producer
    subtask runs the consuming window aggregate's local phase (Flink's LocalWindowAggregate,
    chained to the producer) on every batch before it crosses the edge, so the consumer (the
    GlobalWindowAggregate) receives one partial row per key and slice of a batch: the key
    columns, ``__se`` (the slice's end), the partial columns and ``__n`` (how many rows the
    partial row stands for).

    ``columns``: a hash exchange ships only these of the producer's columns (and the row
    kind), the ones its consumer reads (``planner.distribution.read_columns``); empty: all."""

    source: int
    partitioning: Partitioning = Partitioning.FORWARD
    keys: tuple[str, ...] = ()
    output: int = 0
    local_aggregate: bool = False
    columns: tuple[str, ...] = ()


MAIN_OUTPUT = 0
LATE_ROWS_OUTPUT = 1
# The columns of the late-rows output, which the window operators write and
# ``planner.late_rows`` maps onto the user's table.
LATE_ROWS_FIELDS = (
    Field("operator", "STRING"),
    Field("event_time", "TIMESTAMP(3)"),
    Field("watermark_time", "TIMESTAMP(3)"),
    Field("row_json", "STRING"),
)
UDF_ERRORS_OUTPUT = 2
# The columns of the output of rows a Python function raised on (``planner.udf_errors``):
# the operator, the function, the operator's input row as JSON, the error and its traceback.
UDF_ERRORS_FIELDS = (
    Field("operator", "STRING"),
    Field("function", "STRING"),
    Field("input", "STRING"),
    Field("error", "STRING"),
)


# ---- operator specs ---------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """Scan of a catalog table. ``columns`` are the table's physical and metadata columns
    (``metadata`` maps column name -> metadata key), in declaration order; the connector
    produces them all, or, when the planner pushed a projection into the scan, only those
    named in ``projection``, in the same order (``produced``)."""

    table: str
    connector: str
    options: dict[str, str]
    columns: tuple[Field, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    bounded: bool = False
    primary_key: tuple[str, ...] = ()  # the table's key (upsert-kafka reads it from the record key)
    partition_keys: tuple[str, ...] = ()  # PARTITIONED BY: read from the files' directories
    projection: tuple[str, ...] | None = None
    kind: str = "source"

    @property
    def produced(self) -> tuple[Field, ...]:
        """The columns the connector produces, in order (a positional format such as CSV
        still parses ``columns``)."""
        if self.projection is None:
            return self.columns
        names = set(self.projection)
        return tuple(c for c in self.columns if c.name in names)


@dataclass(frozen=True)
class CalcSpec:
    """Projection and filter: ``SELECT <projections> FROM input WHERE <condition>``.
    Each projection is (output name, DuckDB SQL). ``common``: expressions the others use
    more than once (``planner.common_subexpressions``), (column name, DuckDB SQL), computed
    once per input row into columns of those names: read :meth:`source`, not the input."""

    projections: tuple[tuple[str, str], ...]
    condition: str | None = None
    kind: str = "calc"
    common: tuple[tuple[str, str], ...] = ()

    def source(self, relation: str) -> str:
        """What the query reads in place of ``relation``: with common expressions, a
        MATERIALIZED CTE over it that adds them (without the fence DuckDB pushes the filter
        into a subquery and computes them there again)."""
        if not self.common:
            return relation
        added = ", ".join(f'{sql} AS "{name}"' for name, sql in self.common)
        return f"(WITH __common AS MATERIALIZED (SELECT *, {added} FROM {relation}) SELECT * FROM __common)"


@dataclass(frozen=True)
class ExpandSpec:
    """Each input row once per projection list (GROUPING SETS): ``SELECT <list 1> FROM input
    UNION ALL SELECT <list 2> ...``; every list gives the same output columns."""

    projections: tuple[tuple[tuple[str, str], ...], ...]
    kind: str = "expand"


@dataclass(frozen=True)
class ReplicateSpec:
    """Each input row ``count`` times (a column of the input, not passed on), in order and
    with its row kind: REPLICATE_ROWS behind INTERSECT ALL and EXCEPT ALL."""

    count: str
    kind: str = "replicate"


@dataclass(frozen=True)
class SortField:
    column: str
    descending: bool = False
    nulls_first: bool = True

    def sql(self) -> str:
        quoted = '"' + self.column.replace('"', '""') + '"'
        direction = " DESC" if self.descending else ""
        return f"{quoted}{direction} NULLS {'FIRST' if self.nulls_first else 'LAST'}"


@dataclass(frozen=True)
class SortSpec:
    """ORDER BY / LIMIT / OFFSET: the rows in ``order``, ``offset`` skipped, at most
    ``fetch`` kept. Output columns are the input's. How, by ``mode``:

    - "batch" (batch runtime mode): every row is kept (a changelog applied: +I/+U add a
      row, -U/-D take one away) and the final rows, sorted and cut, are emitted as +I
      when the input ends. With no order and no limit it only makes an updating result
      final (insert-only), as Flink's batch mode gives it;
    - "temporal" (ORDER BY a rowtime attribute first, ascending): rows wait until the
      watermark passes ``time_column``, then go out in order; rows behind the watermark
      on arrival are late, dropped and counted;
    - "first" (LIMIT without ORDER BY over an insert-only stream, or ORDER BY a
      processing-time attribute): rows in arrival order, ``offset`` skipped, ``fetch``
      kept.

    ORDER BY .. LIMIT on a stream is no SortSpec but Flink's SortLimit, a ``RankSpec``."""

    order: tuple[SortField, ...]
    offset: int = 0
    fetch: int | None = None
    mode: str = "batch"
    time_column: str | None = None
    kind: str = "sort"


@dataclass(frozen=True)
class WatermarkSpec:
    """Assigns watermarks: each row's watermark candidate is ``expr`` (DuckDB SQL, a
    timestamp); the operator emits the running maximum as the watermark."""

    rowtime: str
    expr: str
    idle_timeout_ms: int = 0
    emit_interval_ms: int = 200
    kind: str = "watermark"


@dataclass(frozen=True)
class AggCall:
    """One aggregate: ``func`` in count, count_star, sum, min, max, avg, or udaf (the
    plan's Python aggregate ``function``, called with ``args``); ``arg``, ``args`` and
    ``filter`` are DuckDB SQL over the input; ``type`` is the Flink result type."""

    name: str
    func: str
    arg: str | None
    type: str
    distinct: bool = False
    filter: str | None = None
    function: str | None = None
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class WindowAssignSpec:
    """Window TVF without aggregation: adds window_start, window_end, window_time."""

    window: Window
    kind: str = "window_assign"


@dataclass(frozen=True)
class WindowAggregateSpec:
    """Windowed aggregation. Output columns are ``keys``, then window_start, window_end,
    window_time, then the aggregates, in that order; it is insert-only and fires when the
    watermark (or processing time) passes a window's end. ``partition_keys`` are the keys
    of a session window's PARTITION BY (a subset of ``keys``)."""

    window: Window
    keys: tuple[str, ...]
    aggs: tuple[AggCall, ...]
    kind: str = "window_aggregate"


@dataclass(frozen=True)
class GroupAggregateSpec:
    """Unwindowed GROUP BY: keyed state; emits +I for a new key, -U/+U for a changed one
    (and -D when a retraction removes a key's last row). Output: keys then aggregates.
    ``ttl_ms``: a key's state not written for that long (processing time) is dropped and
    the key's next row starts it anew (Flink's state TTL); 0 keeps it forever."""

    keys: tuple[str, ...]
    aggs: tuple[AggCall, ...]
    ttl_ms: int = 0
    kind: str = "group_aggregate"


@dataclass(frozen=True)
class LookupJoinSpec:
    """Lookup join: for each input batch, the distinct key values are looked up in
    ``table`` (through its connector's lookup client) and joined. ``columns`` are the
    table's physical columns as the connector returns them; they appear in the output,
    after the input's columns, as ``output_names``. ``keys`` pairs an input column with a
    table column; ``residual`` (DuckDB SQL over the output row) filters joined rows."""

    table: str
    connector: str
    options: dict[str, str]
    columns: tuple[Field, ...]
    output_names: tuple[str, ...]
    keys: tuple[tuple[str, str], ...]
    join_type: str = "inner"  # "inner" | "left"
    residual: str | None = None
    kind: str = "lookup_join"


@dataclass(frozen=True)
class TwoInputJoinSpec:
    """What the two-input joins share: the join type, both inputs' key columns (hash
    partitioned by them: ``left_keys[i]`` pairs with ``right_keys[i]``, both of one type),
    and how many of each input's columns are the output's (the first ``left_width`` of the
    left's, then the first ``right_width`` of the right's, under the node's field names)."""

    join_type: str  # "inner" | "left" | "right" | "full" | "semi" | "anti"
    left_keys: tuple[str, ...]
    right_keys: tuple[str, ...]
    left_width: int
    right_width: int
    # DuckDB SQL over the output names: the condition beyond the keys
    residual: str | None = field(default=None, kw_only=True)
    # a semi or anti join outputs only the left's columns: the names ``residual`` gives
    # the right's
    right_names: tuple[str, ...] = field(default=(), kw_only=True)

    @property
    def state_keys(self) -> tuple[str, ...]:
        return tuple(f"__k{i}" for i in range(len(self.left_keys)))

    @property
    def flink_join_type(self) -> str:
        """Flink's name of the join type (``InnerJoin``, ``LeftOuterJoin``, ...), as EXPLAIN
        and error messages show it."""
        return {
            "inner": "InnerJoin",
            "left": "LeftOuterJoin",
            "right": "RightOuterJoin",
            "semi": "LeftSemiJoin",
            "anti": "LeftAntiJoin",
        }.get(self.join_type, "FullOuterJoin")

    @property
    def left_outer(self) -> bool:
        """Whether the left side's state counts each row's matches: an outer left side
        pads a row without one; a semi or anti join emits a row by whether it has one."""
        return self.join_type in ("left", "full", "semi", "anti")

    @property
    def semi_or_anti(self) -> bool:
        return self.join_type in ("semi", "anti")

    @property
    def right_outer(self) -> bool:
        return self.join_type in ("right", "full")


ARRIVAL = "$arrival"
"""The sort column of processing time: the order in which rows reached the operator."""


@dataclass(frozen=True)
class ChangelogNormalizeSpec:
    """Flink's ChangelogNormalize: an upsert stream (a +I/+U replaces its key's row without
    a -U of it, a -D carries only the key) made a full changelog, keyed by the source's
    primary key ``keys``. State: the last row of each key. A row for a new key sends +I;
    for a kept one -U of the kept row and +U of the new one (nothing when they are equal,
    unless ``ttl_ms`` is set); a -D sends -D of the kept row and forgets it (nothing when
    the key has none). ``ttl_ms``: a key not written for that long is forgotten."""

    keys: tuple[str, ...]
    ttl_ms: int = 0
    kind: str = "changelog_normalize"


@dataclass(frozen=True)
class SinkMaterializerSpec:
    """Flink's SinkUpsertMaterializer (the Sink's ``upsertMaterialize=[true]``), in front of a
    sink that writes by its PRIMARY KEY ``keys`` when the rows reaching it are keyed otherwise
    (``upsert_key``: the input's unique key, empty when none is known): two rows of different
    upsert keys would overwrite each other under one sink key, and one's -U/-D delete the row
    the other still holds. State: per sink key, every live input row in arrival order. An
    +I/+U is appended and sent (+I when the key had no row, else +U); a -U/-D removes the
    first row it matches (by ``upsert_key``, else by every column): when that was the last
    row the one now last is sent as +U, when none is left -D. ``ttl_ms``: a key not written
    for that long is forgotten."""

    keys: tuple[str, ...]
    upsert_key: tuple[str, ...] = ()
    ttl_ms: int = 0
    kind: str = "sink_materializer"


@dataclass(frozen=True)
class SortKey:
    column: str  # an input column, or ARRIVAL
    ascending: bool = True
    nulls_first: bool = True


@dataclass(frozen=True)
class RankSpec:
    """Top-N and deduplication (Flink's Rank and Deduplicate): per partition, the rows at
    ranks ``start`` .. ``end`` by ``order`` (ties: the row that arrived first ranks
    first, or last with ``ties_last``, as Flink's keep-last-row deduplication). Output:
    the input's columns, then the rank as ``rank_column`` when selected. ``changes`` is
    the changelog it sends, as Flink's operator for the case does:

    - "insert": the first rows never change (ordered by arrival, insert-only input);
    - "update": one row per partition (Top-1, deduplication): +I, then -U/+U;
    - "position": per rank position: +I when it fills, -U/+U when its row changes, -D
      when it empties (a rank number selected, or a range not starting at 1);
    - "rows": the rows in the range: -D for those that leave, +I for those that enter.

    The input's rows (only those still within ``end`` when it is insert-only) are kept in
    state keyed by the partition columns."""

    partition_keys: tuple[str, ...]
    order: tuple[SortKey, ...]
    start: int
    end: int
    rank_column: str | None
    changes: str
    ties_last: bool = False
    deduplicate: bool = False  # planned as Flink's Deduplicate (for EXPLAIN)
    # a deduplication's state TTL: a partition whose kept row was not written for that
    # long is forgotten, and its next row is its first again (0: kept forever)
    ttl_ms: int = 0
    kind: str = "rank"

    @property
    def keys(self) -> tuple[str, ...]:
        """What the state is keyed (and split on restore) by."""
        return self.partition_keys


@dataclass(frozen=True)
class WindowRankSpec:
    """Window Top-N and window deduplication (Flink's WindowRank, WindowDeduplicate): the
    rows of each window (``partition_keys`` hold window_start and window_end) wait in
    state until the watermark passes the window's end, then the ones ranked ``start`` ..
    ``end`` by ``order`` (ties: first arrival first, or last with ``ties_last``) are sent,
    insert-only, and the window's rows are dropped. Rows of a window that already fired
    are late. Output: the input's columns, then the rank as ``rank_column`` if selected."""

    window: Window
    partition_keys: tuple[str, ...]
    order: tuple[SortKey, ...]
    start: int
    end: int
    rank_column: str | None
    ties_last: bool = False
    deduplicate: bool = False
    kind: str = "window_rank"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.partition_keys


@dataclass(frozen=True)
class OverAggregateSpec:
    """OVER aggregation on event time (Flink's OverAggregate): rows wait in state until
    the watermark passes ``time_column``, then each gets ``aggs`` over its frame: the
    ``preceding`` rows (``rows``) or milliseconds before it, or all (None), and itself
    (RANGE: with every row of the same time). Rows behind the watermark are late. Output:
    the input's columns, then the aggregates; insert-only."""

    partition_keys: tuple[str, ...]
    time_column: str
    rows: bool
    preceding: int | None
    aggs: tuple[AggCall, ...]
    kind: str = "over_aggregate"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.partition_keys


@dataclass(frozen=True)
class PatternElement:
    """One variable of a MATCH_RECOGNIZE pattern: ``low`` to ``high`` rows (None: no
    bound), greedy or reluctant (``planner.match_pattern`` reads them from the PATTERN's text)."""

    var: str
    low: int
    high: int | None
    greedy: bool = True


@dataclass(frozen=True)
class MatchExpr:
    """An expression of MATCH_RECOGNIZE's DEFINE or MEASURES, as the runtime evaluates it
    over the rows of a match (``runtime.operators.match_expr``). ``op`` is one of:

    - ``column`` (``name``, of the last row of ``var``, or of the match without one);
    - ``literal`` (``value`` as text, ``name`` its kind: int, decimal, string, bool, null);
    - ``first`` / ``last`` (``args[0]`` over the ``offset``-th row of ``var`` from the
      first / last), ``agg`` (``name``: sum, avg, count, min, max over ``var``'s rows;
      no ``args``: COUNT(*)), ``rowtime`` (MATCH_ROWTIME());
    - ``neg``, ``not``, ``is_null``, ``and``, ``or``, ``between`` and ``arith`` / ``compare``
      (``name``: + - * / % and = <> < <= > >=) over ``args``."""

    op: str
    args: tuple[MatchExpr, ...] = ()
    name: str = ""
    var: str | None = None
    value: str | None = None
    offset: int = 0


@dataclass(frozen=True)
class MatchSpec:
    """``MATCH_RECOGNIZE`` on event time (Flink's Match, ONE ROW PER MATCH): rows wait in
    state until the watermark passes ``time_column``, then each partition's rows run, in
    time order (then ``order``), through ``pattern``; a variable's row must satisfy its
    condition in ``defines`` (none: TRUE). Each match gives one row: the partition keys,
    then ``measures``. ``skip``: past_last, to_next,
    to_first or to_last (``skip_var``); ``within_ms``: the most a match may span. Rows
    behind the watermark are late. Insert-only."""

    partition_keys: tuple[str, ...]
    time_column: str
    order: tuple[SortKey, ...]
    measures: tuple[tuple[str, MatchExpr], ...]
    pattern: tuple[PatternElement, ...]
    defines: tuple[tuple[str, MatchExpr], ...]
    skip: str
    skip_var: str | None = None
    within_ms: int | None = None
    kind: str = "match"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.partition_keys


@dataclass(frozen=True)
class OverCallSpec:
    """One window function of a ``BatchOverSpec``: ``rank`` (row_number, rank,
    dense_rank) or ``agg``, over ``window`` (DuckDB SQL: PARTITION BY, ORDER BY, frame)."""

    window: str
    rank: str | None = None
    agg: AggCall | None = None


@dataclass(frozen=True)
class BatchOverSpec:
    """Window functions over a bounded input (batch mode): the rows wait in state until the
    input ends, then each goes out with ``calls`` over the whole input, in one DuckDB query.
    Output: the input's columns, then the calls'; insert-only. Partitioned by
    ``partition_keys`` when every call has the same (columns), else one subtask."""

    partition_keys: tuple[str, ...]
    calls: tuple[OverCallSpec, ...]
    kind: str = "batch_over"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.partition_keys


@dataclass(frozen=True)
class BatchQuerySpec:
    """Batch mode's fast path: a whole query over bounded inputs as one DuckDB query. The
    rows of input ``i`` (the node ``inputs[i]`` of ``plan``) wait in state until every input
    ends; then ``plan``, the operators this node stands for (a ``PhysicalPlan`` as JSON, its
    leaves those inputs), runs as one query over them, and its final rows go out,
    insert-only. See ``planner.batch_fusion``."""

    plan: str
    inputs: tuple[int, ...]
    kind: str = "batch_query"


@dataclass(frozen=True)
class CorrelateSpec:
    """Each input row joined with the rows a table function gives for it. ``function``
    names the plan's Python table function (``PhysicalPlan.functions``), or is None for
    UNNEST; ``args`` are DuckDB SQL over the input; ``columns`` are the function's columns,
    appended to the input's under the node's field names. "left" keeps a row that gets no
    rows, NULL-padded. An output row has its input row's row kind."""

    function: str | None
    args: tuple[str, ...]
    columns: tuple[Field, ...]
    join_type: str = "inner"  # "inner" | "left"
    call: str = ""  # the call as EXPLAIN shows it, e.g. split("line")
    kind: str = "correlate"


@dataclass(frozen=True)
class JoinSpec(TwoInputJoinSpec):
    """Regular join (Flink's StreamingJoin). ``residual`` is DuckDB SQL over the output
    names. Each side's rows are kept in state with a count (and, for an outer side, its
    number of matches), keyed by the join key in columns ``state_keys``.

    A semi or anti join outputs only the left's columns (Flink's
    StreamingSemiAntiJoinOperator). Without keys (``NOT IN`` over nullable columns) it
    runs on one subtask.

    ``left_ttl_ms``/``right_ttl_ms``: the side's idle state retention (Flink's state TTL,
    from ``table.exec.state.ttl`` or the STATE_TTL hint; 0 keeps rows forever): a stored
    row not written for that long (processing time) is dropped, as if never seen."""

    left_ttl_ms: int = 0
    right_ttl_ms: int = 0
    kind: str = "join"


@dataclass(frozen=True)
class IntervalJoinSpec(TwoInputJoinSpec):
    """Interval join (Flink's RowTimeIntervalJoin): inputs, keys and output columns as in
    ``JoinSpec``; ``residual`` is the whole non-equi condition, the time bounds included.
    ``left_time`` and ``right_time`` are the output names of the two rowtime columns, and
    ``left_time - right_time`` lies within [``lower_ms``, ``upper_ms``] for a match. Rows
    are kept while a partner can still arrive; output is append-only, and the watermark
    goes on held back by ``watermark_delay_ms``."""

    left_time: str
    right_time: str
    lower_ms: int
    upper_ms: int
    kind: str = "interval_join"

    @property
    def watermark_delay_ms(self) -> int:
        """How far a joined or padded row's time can be behind the watermark when it is
        emitted (Flink's ``getMaxOutputDelay``)."""
        return max(-self.lower_ms, self.upper_ms, 0)


@dataclass(frozen=True)
class WindowJoinSpec(TwoInputJoinSpec):
    """Window join (Flink's WindowJoin) of two inputs of the same window TVF: inputs, keys
    (window_start and window_end among them) and output columns as in ``JoinSpec``. Each
    side's rows wait in state until the watermark passes their window's end
    (``left_end``/``right_end``: the output names of the sides' window_end), then the
    window's rows are joined as a batch, outer rows padded; output is append-only."""

    left_end: str
    right_end: str
    window: Window
    kind: str = "window_join"


@dataclass(frozen=True)
class TemporalJoinSpec(TwoInputJoinSpec):
    """Event-time temporal join (Flink's TemporalRowTimeJoin) of an append-only left input
    with a versioned right one (any changelog, keyed by its primary key ``right_keys``):
    each left row waits until the watermark passes its time ``left_time``, then joins the
    right row of its key with the latest version time ``right_time`` at or before it,
    unless that version is a deletion or fails ``residual``; ``join_type`` inner or left.
    Append-only output; inputs and output columns as in ``JoinSpec``."""

    left_time: str
    right_time: str
    kind: str = "temporal_join"


@dataclass(frozen=True)
class UnionSpec:
    kind: str = "union"


@dataclass(frozen=True)
class SinkSpec:
    """Write into a catalog table. ``columns`` are the persisted columns in table order;
    the input's columns arrive in that order too."""

    table: str
    connector: str
    options: dict[str, str]
    columns: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    guarantee: Guarantee = Guarantee.AT_LEAST_ONCE
    # Exactly-once sinks that can commit two ways (``sink.exactly-once.mode``): "two-phase",
    # "epoch", or "" for the connector's choice at start (two-phase where the server can).
    exactly_once_mode: str = ""
    # Why the plan does not replay the same rows after a restore (None: it does); epoch
    # mode is refused with this reason.
    replay_nondeterminism: str | None = None
    partition_keys: tuple[str, ...] = ()  # PARTITIONED BY: written as directories, not in files
    # a NULL in a NOT NULL column: fail the job ("ERROR") or drop the row ("DROP"), as
    # Flink's table.exec.sink.not-null-enforcer
    not_null_enforcer: str = "ERROR"
    kind: str = "sink"


@dataclass(frozen=True)
class CollectSpec:
    """The result of an interactive SELECT, handed back to the session."""

    kind: str = "collect"


OperatorSpec = (
    SourceSpec
    | CalcSpec
    | ExpandSpec
    | ReplicateSpec
    | SortSpec
    | WatermarkSpec
    | WindowAssignSpec
    | WindowAggregateSpec
    | GroupAggregateSpec
    | ChangelogNormalizeSpec
    | SinkMaterializerSpec
    | UnionSpec
    | RankSpec
    | OverAggregateSpec
    | MatchSpec
    | BatchOverSpec
    | BatchQuerySpec
    | WindowRankSpec
    | JoinSpec
    | IntervalJoinSpec
    | WindowJoinSpec
    | TemporalJoinSpec
    | LookupJoinSpec
    | CorrelateSpec
    | SinkSpec
    | CollectSpec
)
_SPECS: dict[str, type] = {cls.kind: cls for cls in typing.get_args(OperatorSpec)}


ROW_STATE_KINDS = ("join", "interval_join", "window_join", "temporal_join", "rank", "window_rank", "sort",
                   "over_aggregate", "changelog_normalize", "sink_materializer", "match")  # fmt: skip
"""Operators whose state holds their input's rows, column for column."""

STATEFUL_KINDS = (*ROW_STATE_KINDS, "window_aggregate", "group_aggregate", "batch_over", "batch_query")


@dataclass(frozen=True)
class Node:
    id: int
    name: str
    spec: OperatorSpec
    inputs: tuple[Edge, ...]
    schema: tuple[Field, ...]
    parallelism: int = 1
    changelog: ChangelogMode = ChangelogMode.INSERT_ONLY

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def stateful(self) -> bool:
        return self.spec.kind in STATEFUL_KINDS


@dataclass(frozen=True)
class PhysicalPlan:
    """Nodes in topological order (inputs before users). A plan has one or more sinks
    (a statement set has several) or a single collect node for an interactive SELECT."""

    nodes: tuple[Node, ...]
    name: str = "sqlstream-job"
    config: dict[str, str] = field(default_factory=dict)
    rules: tuple[str, ...] = ()  # names of the rewrite rules applied, for EXPLAIN
    functions: tuple[FunctionDef, ...] = ()  # the user functions its expressions call

    def node(self, node_id: int) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    @property
    def sources(self) -> list[Node]:
        return [n for n in self.nodes if isinstance(n.spec, SourceSpec)]

    @property
    def sinks(self) -> list[Node]:
        return [n for n in self.nodes if isinstance(n.spec, SinkSpec | CollectSpec)]

    def consumers(self, node_id: int) -> list[Node]:
        return [n for n in self.nodes if any(e.source == node_id for e in n.inputs)]

    @property
    def bounded(self) -> bool:
        return all(isinstance(s.spec, SourceSpec) and s.spec.bounded for s in self.sources)

    # ---- JSON ------------------------------------------------------------------------
    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(to_json_value(self), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> PhysicalPlan:
        data = json.loads(text)
        return _decode_plan(data)


def to_json_value(value: Any) -> Any:
    """A plan object as plain JSON values (dicts, lists, strings, numbers)."""
    if isinstance(value, FunctionDef):
        return function_to_json(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    return value


def _decode(cls: Any, value: Any) -> Any:
    """Rebuild a dataclass field value from JSON, guided by the type annotation."""
    origin = typing.get_origin(cls)
    if cls is Any or value is None:
        return value
    if origin is tuple:
        args = typing.get_args(cls)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(t, v) for t, v in zip(args, value))  # tuple[str, MatchExpr]
    if origin is dict:
        return dict(value)
    if origin in (typing.Union, __import__("types").UnionType):
        for arg in typing.get_args(cls):
            if arg is type(None):
                continue
            try:
                return _decode(arg, value)
            except (TypeError, ValueError, KeyError):
                continue
        return value
    if isinstance(cls, type) and issubclass(cls, Enum):
        return cls(value)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        kwargs = {
            f.name: _decode(hints[f.name], value[f.name]) for f in dataclasses.fields(cls) if f.name in value
        }
        return cls(**kwargs)
    return value


def _decode_plan(data: dict[str, Any]) -> PhysicalPlan:
    nodes = []
    for n in data["nodes"]:
        spec_cls = _SPECS[n["spec"]["kind"]]
        nodes.append(
            Node(
                id=n["id"],
                name=n["name"],
                spec=_decode(spec_cls, n["spec"]),
                inputs=tuple(_decode(Edge, e) for e in n["inputs"]),
                schema=tuple(_decode(Field, f) for f in n["schema"]),
                parallelism=n["parallelism"],
                changelog=ChangelogMode(n["changelog"]),
            )
        )
    return PhysicalPlan(
        nodes=tuple(nodes),
        name=data.get("name", "sqlstream-job"),
        config=dict(data.get("config", {})),
        rules=tuple(data.get("rules", ())),
        functions=tuple(function_from_json(f) for f in data.get("functions", ())),
    )
