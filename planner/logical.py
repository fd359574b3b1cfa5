"""The logical plan: what a statement computes, before deciding how (no parallelism,
exchanges or SQL text yet). Expressions are bound sqlglot trees whose ``Column`` nodes
name fields of the node's input, unqualified.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from catalog.functions import FunctionDef
from catalog.schema import ColumnKind
from catalog.table import TableDef
from catalog.types import DataType
from planner.match_pattern import Element
from planner.window import Window


@dataclass(frozen=True)
class BoundField:
    name: str
    type: DataType
    time_attribute: str | None = None  # "rowtime" | "proctime"


@dataclass(frozen=True)
class LogicalNode:
    fields: tuple[BoundField, ...]

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return ()

    @property
    def updating(self) -> bool:
        return any(i.updating for i in self.inputs)

    def field(self, name: str) -> BoundField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def field_type(self, name: str) -> DataType:
        """The type of a field: what typing and translating an expression over this node
        look column types up with (``planner.typecheck.Lookup``)."""
        return self.field(name).type


@dataclass(frozen=True)
class Scan(LogicalNode):
    """A scan of a catalog table: its physical and metadata columns in declaration order
    (``declared_fields``), or, once ``push_projection_into_scan`` narrowed it, only those
    a query uses (``projected``)."""

    table: TableDef
    metadata: dict[str, str] = field(default_factory=dict)  # column -> metadata key
    projected: bool = False


def declared_fields(table: TableDef) -> tuple[BoundField, ...]:
    """What a scan of ``table`` reads before projection push-down: its physical and
    metadata columns, in declaration order (computed columns come after the scan)."""
    return tuple(BoundField(c.name, c.type) for c in table.schema.columns if c.kind != ColumnKind.COMPUTED)


@dataclass(frozen=True)
class Values(LogicalNode):
    """VALUES: a bounded, insert-only table of constant rows. Each expression is already
    cast to its column's type, the common type of the column as Flink derives it."""

    rows: tuple[tuple[exp.Expr, ...], ...]


@dataclass(frozen=True)
class Calc(LogicalNode):
    input: LogicalNode
    projections: tuple[tuple[str, exp.Expr], ...]
    condition: exp.Expr | None = None

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class WatermarkAssigner(LogicalNode):
    input: LogicalNode
    rowtime: str
    expr: exp.Expr
    expr_text: str  # as the user wrote it, for EXPLAIN

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class WindowAssign(LogicalNode):
    input: LogicalNode
    window: Window
    # where the window TVF was written; not in the repr, by which the physical planner
    # reuses a sub-plan the query spells twice (q5's two HOPs are one)
    line: int | None = field(default=None, repr=False)
    col: int | None = field(default=None, repr=False)

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Expand(LogicalNode):
    """Each input row once per projection list (Flink's Expand, below the aggregation of
    GROUPING SETS): every list gives the same columns; a set's rows carry NULL for the keys
    it leaves out and the set's number in ``$e``. Row kinds pass through."""

    input: LogicalNode
    projections: tuple[tuple[tuple[str, exp.Expr], ...], ...]

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Replicate(LogicalNode):
    """Each input row as many times as its column ``count`` says (Flink's REPLICATE_ROWS
    table function, behind INTERSECT ALL and EXCEPT ALL), with its row kind, and without
    that column."""

    input: LogicalNode
    count: str

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class SortKey:
    column: str  # a field of the Sort's input
    descending: bool = False
    nulls_first: bool = True  # Flink's default: NULL is the smallest value


@dataclass(frozen=True)
class Sort(LogicalNode):
    """ORDER BY / LIMIT / OFFSET / FETCH: the input's rows in ``order``, ``offset`` of them
    skipped and at most ``fetch`` kept. What that means on a stream (a Top-N, a sort by
    the watermark, the first rows) is the physical planner's choice, by the runtime mode."""

    input: LogicalNode
    order: tuple[SortKey, ...]
    offset: int = 0
    fetch: int | None = None
    line: int | None = None  # where ORDER BY / LIMIT was written
    col: int | None = None

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)

    @property
    def updating(self) -> bool:  # a Top-N's rows leave it when better ones come
        return self.input.updating or (bool(self.order) and self.fetch is not None)


@dataclass(frozen=True)
class LogicalAgg:
    name: str
    func: str  # count, count_star, sum, min, max, avg
    arg: exp.Expr | None
    type: DataType
    distinct: bool = False
    filter: exp.Expr | None = None
    text: str = ""  # e.g. "SUM(price)", for EXPLAIN
    # where it was written; not in the repr (see WindowAssign's)
    line: int | None = field(default=None, repr=False)
    col: int | None = field(default=None, repr=False)
    function: FunctionDef | None = None  # func "udaf": the Python aggregate function
    args: tuple[exp.Expr, ...] = ()  # func "udaf": its arguments


WINDOW_ENDS = ("window_end", "window_end")
"""A window join's inputs' window_end columns, unless renamed (``Join.window_ends``)."""


@dataclass(frozen=True)
class Aggregate(LogicalNode):
    """GROUP BY over ``keys`` (fields of the input); windowed when ``window`` is set, in
    which case window_start, window_end, window_time follow the keys in the output."""

    input: LogicalNode
    keys: tuple[str, ...]
    aggs: tuple[LogicalAgg, ...]
    window: Window | None = None
    state_ttl_ms: int | None = None  # the STATE_TTL hint (None: ``table.exec.state.ttl``)
    # a GROUP BY of another window aggregation's window_start and window_end
    # (``attached_window``): that window, and the keys that hold its start and end
    attached: tuple[Window, str, str] | None = None

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)

    @property
    def updating(self) -> bool:
        return self.window is None


@dataclass(frozen=True)
class LookupJoin(LogicalNode):
    """Each input row joined with the rows of ``table`` whose key columns equal its own
    (``keys``: pairs of input field, table column), looked up when the row arrives.
    Output: the input's fields, then the table's physical columns (renamed on a clash)."""

    input: LogicalNode
    table: TableDef
    keys: tuple[tuple[str, str], ...]
    join_type: str  # "inner" | "left"
    residual: exp.Expr | None = None

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class TimeBounds:
    """The time condition of an interval join: ``left_time - right_time`` (output fields,
    both rowtime attributes) lies within [``lower_ms``, ``upper_ms``] milliseconds
    (Flink's leftLowerBound and leftUpperBound; a strict ``<`` or ``>`` moves its bound
    by 1 ms, as Flink does)."""

    left_time: str
    right_time: str
    lower_ms: int
    upper_ms: int


@dataclass(frozen=True)
class Join(LogicalNode):
    """A join of two streams on ``keys`` (pairs of left field, right field) for which
    ``residual`` (over the output fields) also holds. Output: the left's fields, then
    the right's (renamed on a clash); a semi or anti join (``IN``/``EXISTS`` subqueries)
    outputs only the left's rows, those with (semi) or without (anti) a match.

    Without ``interval`` it is a regular join (Flink's streaming join): both inputs'
    rows are kept forever, its output updates (unless inner over append-only inputs)
    and has no time attributes. With ``interval`` it is an interval join: ``residual``
    holds the time condition too, rows are kept only while the watermark lets a
    partner still arrive, the output is append-only and keeps both time attributes.
    With ``window`` it is a window join of two window TVFs of that window: each window's
    rows are joined once the watermark passes its end, append-only."""

    left: LogicalNode
    right: LogicalNode
    join_type: str  # "inner" | "left" | "right" | "full" | "semi" | "anti"
    keys: tuple[tuple[str, str], ...]
    residual: exp.Expr | None = None
    interval: TimeBounds | None = None
    # a window join: ``keys`` pair both sides' window_start and window_end (and maybe more);
    # ``window_ends`` names each side's window_end column (its own name in that input)
    window: Window | None = None
    # an event-time temporal join: (left rowtime, right version time); ``keys`` are the
    # right's primary key, ``residual`` applies to the version a row joins
    as_of: tuple[str, str] | None = None
    # a regular join's STATE_TTL hint per input, in ms (None: ``table.exec.state.ttl``)
    state_ttl_ms: tuple[int | None, int | None] = (None, None)
    window_ends: tuple[str, str] = WINDOW_ENDS

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.left, self.right)

    @property
    def updating(self) -> bool:
        if self.interval is not None or self.window is not None or self.as_of is not None:
            return False
        if self.join_type == "semi":
            return self.left.updating or self.right.updating
        return self.join_type != "inner" or self.left.updating or self.right.updating

    @property
    def output_width(self) -> int:
        """How many of ``fields`` the join outputs: a semi or anti join outputs only its
        left input's rows (its right fields are for its condition)."""
        return len(self.left.fields) if self.join_type in ("semi", "anti") else len(self.fields)


@dataclass(frozen=True)
class Correlate(LogicalNode):
    """Each input row joined with the rows a table function gives for it (Flink's
    Correlate): ``LATERAL TABLE(f(args))`` calls a Python ``@udtf``, ``UNNEST(args[0])``
    (``function`` None) gives an array's elements or a map's entries. ``join_type`` "left"
    keeps a row that gets no rows, NULL-padded. Output: the input's fields, then the
    function's columns; each output row has its input row's row kind."""

    input: LogicalNode
    function: FunctionDef | None
    args: tuple[exp.Expr, ...]
    join_type: str  # "inner" | "left"
    text: str = ""  # the call as written, for EXPLAIN

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Union(LogicalNode):
    children: tuple[LogicalNode, ...]

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return self.children


@dataclass(frozen=True)
class Sink(LogicalNode):
    input: LogicalNode
    table: TableDef
    on_conflict: str | None = None  # INSERT ... ON CONFLICT DO <this> (planner.sink_materialize)

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Collect(LogicalNode):
    input: LogicalNode

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class SortField:
    """One ORDER BY key of a window: a field of the input, its direction and where NULLs
    go (Flink puts them first ascending, last descending, unless told)."""

    name: str
    ascending: bool = True
    nulls_first: bool = True


@dataclass(frozen=True)
class Rank(LogicalNode):
    """``ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..)`` kept only within ``start`` ..
    ``end`` (Flink's Top-N and deduplication). The binder makes it with no range from the
    window call and sets the range from the enclosing query's filter on the rank column;
    one without a range is refused. Output: the input's fields, then ``rank_field`` when
    ``output_rank`` (Flink drops the column, and sends a smaller changelog, when the query
    does not select it)."""

    input: LogicalNode
    partition_keys: tuple[str, ...]
    order: tuple[SortField, ...]
    function: str  # "ROW_NUMBER"
    rank_field: str
    start: int | None = None
    end: int | None = None
    output_rank: bool = True
    line: int | None = None  # where the window call was written
    col: int | None = None

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)

    @property
    def first_rows(self) -> bool:
        """Ordered by processing time ascending over an insert-only input: the first rows
        of a partition are never displaced, so the result is insert-only (Flink's
        AppendOnlyFirstN and its keep-first-row deduplication)."""
        return (
            not self.input.updating
            and len(self.order) == 1
            and self.order[0].ascending
            and self.input.field(self.order[0].name).time_attribute == "proctime"
        )

    @property
    def window(self) -> Window | None:
        """The event-time window whose rows this ranks, one window at a time (Flink's
        Window Top-N and window deduplication): partitioned by window_start and
        window_end, which come unchanged from a window TVF or a window aggregation."""
        if not {"window_start", "window_end"} <= set(self.partition_keys):
            return None
        return window_of(self.input)

    @property
    def updating(self) -> bool:
        return not self.first_rows and self.window is None


def window_of(node: LogicalNode) -> Window | None:
    """The event-time window that made ``node``'s window_start and window_end columns,
    through Calcs that pass them on unchanged; None if there is none."""
    while isinstance(node, Calc):
        passed = {n for n, e in node.projections if isinstance(e, exp.Column) and e.name == n}
        if not {"window_start", "window_end"} <= passed:
            return None
        node = node.input
    window = None
    if isinstance(node, WindowAssign | Aggregate):
        window = node.window
    return window if window is not None and not window.proctime and window.type != "session" else None


def window_columns(node: LogicalNode) -> tuple[Window, str, str, LogicalNode] | None:
    """The window whose window_start and window_end columns ``node`` passes on (through
    Calcs, renamed or not, as Flink propagates window properties): the window, the two
    columns' names in ``node``, and the node that made them (a window TVF or a window
    aggregation); None when ``node`` has no such pair."""
    if isinstance(node, Calc):
        below = window_columns(node.input)
        if below is None:
            return None
        window, start, end, maker = below
        out: dict[str, str] = {}
        for name, e in node.projections:
            if isinstance(e, exp.Column) and e.name in (start, end):
                out.setdefault(e.name, name)
        return (window, out[start], out[end], maker) if start in out and end in out else None
    if isinstance(node, Aggregate) and node.attached is not None:
        return (*node.attached, node)
    if isinstance(node, WindowAssign | Aggregate) and node.window is not None:
        return node.window, "window_start", "window_end", node
    return None


def attached_window(node: LogicalNode, names: list[str]) -> tuple[Window, str, str] | None:
    """The window of a window aggregation whose window_start and window_end reach ``node``
    as two of ``names``: (that window, the name of its start, of its end). A GROUP BY of
    both over such rows is a window aggregation too (Flink's window-attached windowing:
    Nexmark q5 takes the max over each HOP window's counts), fired when the watermark
    passes the end. None for any other input, and for session, processing-time and
    local-time-zone windows."""
    found = window_columns(node)
    if found is None or not isinstance(found[3], Aggregate):
        return None
    window, start, end, _ = found
    if window.type == "session" or window.proctime or window.time_zone:
        return None
    return (window, start, end) if start in names and end in names else None


@dataclass(frozen=True)
class OverCall:
    """One window function of a batch-mode SELECT: ``function`` is ROW_NUMBER, RANK or
    DENSE_RANK, or "agg" for ``agg``; ``partition`` and ``order`` are bound expressions
    over the input; ``frame`` is the frame as written (None: SQL's default)."""

    function: str
    agg: LogicalAgg | None
    partition: tuple[exp.Expr, ...]
    order: tuple[tuple[exp.Expr, SortField], ...]
    frame: exp.Expr | None = None


@dataclass(frozen=True)
class BatchOver(LogicalNode):
    """Window functions in batch mode (Flink's batch OverAggregate): computed over the
    whole bounded input, in any order and frame, once it has ended. Output: the input's
    fields, then one field per call."""

    input: LogicalNode
    calls: tuple[OverCall, ...]

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class OverAggregate(LogicalNode):
    """``agg(..) OVER (PARTITION BY .. ORDER BY <rowtime> ROWS|RANGE BETWEEN .. PRECEDING
    AND CURRENT ROW)``: each input row with its aggregates over the rows of its partition
    in the frame, emitted in event-time order once the watermark passes the row (Flink's
    OverAggregate). ``preceding``: rows (ROWS) or milliseconds (RANGE) before the current
    row; None for UNBOUNDED. Output: the input's fields, then the aggregates."""

    input: LogicalNode
    partition_keys: tuple[str, ...]
    order_field: str
    rows: bool
    preceding: int | None
    aggs: tuple[LogicalAgg, ...]

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Match(LogicalNode):
    """``MATCH_RECOGNIZE`` on event time, ONE ROW PER MATCH (Flink's Match): per partition,
    the rows in ``time_field`` order (then ``order``: (field, descending, nulls first)) run through
    ``pattern``, each variable's row satisfying its ``defines`` condition (none: TRUE);
    each match gives one row of the partition keys and ``measures``. Expressions are
    sqlglot trees whose columns a pattern variable may qualify (``A.price``) and that may
    call FIRST, LAST, MATCH_ROWTIME and aggregates over a variable's rows."""

    input: LogicalNode
    partition_keys: tuple[str, ...]
    time_field: str
    order: tuple[tuple[str, bool, bool], ...]
    measures: tuple[tuple[str, exp.Expr], ...]
    pattern: tuple[Element, ...]
    defines: tuple[tuple[str, exp.Expr], ...]
    skip: str
    skip_var: str | None
    within_ms: int | None

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)
