"""The logical plan: what a statement computes, before deciding how (no parallelism,
exchanges or SQL text yet). Expressions are bound sqlglot trees whose ``Column`` nodes
name fields of the node's input, unqualified.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from catalog.table import TableDef
from catalog.types import DataType
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
    table: TableDef
    metadata: dict[str, str] = field(default_factory=dict)  # column -> metadata key


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
    line: int | None = None  # where the window TVF was written
    col: int | None = None

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
    line: int | None = None  # where it was written
    col: int | None = None


@dataclass(frozen=True)
class Aggregate(LogicalNode):
    """GROUP BY over ``keys`` (fields of the input); windowed when ``window`` is set, in
    which case window_start, window_end, window_time follow the keys in the output."""

    input: LogicalNode
    keys: tuple[str, ...]
    aggs: tuple[LogicalAgg, ...]
    window: Window | None = None

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
class Join(LogicalNode):
    """A regular join (Flink's streaming join): both inputs' rows are kept, and each row
    that arrives is joined with the other side's rows whose ``keys`` equal its own
    (pairs of left field, right field) and for which ``residual`` (over the output
    fields) holds. Output: the left's fields, then the right's (renamed on a clash); a
    join's output has no time attributes, as in Flink."""

    left: LogicalNode
    right: LogicalNode
    join_type: str  # "inner" | "left" | "right" | "full"
    keys: tuple[tuple[str, str], ...]
    residual: exp.Expr | None = None

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.left, self.right)

    @property
    def updating(self) -> bool:
        return self.join_type != "inner" or self.left.updating or self.right.updating


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

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Collect(LogicalNode):
    input: LogicalNode

    @property
    def inputs(self) -> tuple[LogicalNode, ...]:
        return (self.input,)
