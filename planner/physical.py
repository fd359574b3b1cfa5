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
    are spread over our subtasks."""

    source: int
    partitioning: Partitioning = Partitioning.FORWARD
    keys: tuple[str, ...] = ()
    output: int = 0


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


# ---- operator specs ---------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """Scan of a catalog table. ``columns`` are what the connector produces: physical
    columns, then metadata columns (``metadata`` maps column name -> metadata key)."""

    table: str
    connector: str
    options: dict[str, str]
    columns: tuple[Field, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    bounded: bool = False
    primary_key: tuple[str, ...] = ()  # the table's key (upsert-kafka reads it from the record key)
    kind: str = "source"


@dataclass(frozen=True)
class CalcSpec:
    """Projection and filter: ``SELECT <projections> FROM input WHERE <condition>``.
    Each projection is (output name, DuckDB SQL)."""

    projections: tuple[tuple[str, str], ...]
    condition: str | None = None
    kind: str = "calc"


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
    - "rank" (ORDER BY .. LIMIT on a stream, a Top-N without rank number): after each
      batch, the rows that left the result are deleted (-D), then the ones that entered
      are inserted (+I);
    - "temporal" (ORDER BY a rowtime attribute first, ascending): rows wait until the
      watermark passes ``time_column``, then go out in order; rows behind the watermark
      on arrival are late, dropped and counted;
    - "first" (LIMIT without ORDER BY over an insert-only stream, or ORDER BY a
      processing-time attribute): rows in arrival order, ``offset`` skipped, ``fetch``
      kept."""

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
    """One aggregate: ``func`` in count, count_star, sum, min, max, avg; ``arg`` and
    ``filter`` are DuckDB SQL over the input; ``type`` is the Flink result type."""

    name: str
    func: str
    arg: str | None
    type: str
    distinct: bool = False
    filter: str | None = None


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
    (and -D when a retraction removes a key's last row). Output: keys then aggregates."""

    keys: tuple[str, ...]
    aggs: tuple[AggCall, ...]
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
class JoinSpec:
    """Regular join (Flink's StreamingJoin). Both inputs are hash-partitioned by their key
    columns (``left_keys[i]`` pairs with ``right_keys[i]``; both have one type). The
    first ``left_width`` columns of the left input and the first ``right_width`` of the
    right input are the output's columns, in that order, under the node's field names;
    ``residual`` is DuckDB SQL over those output names. Each side's rows are kept in state
    with a count (and, for an outer side, its number of matches), keyed by the join key
    in columns ``state_keys``."""

    join_type: str  # "inner" | "left" | "right" | "full"
    left_keys: tuple[str, ...]
    right_keys: tuple[str, ...]
    left_width: int
    right_width: int
    residual: str | None = None
    kind: str = "join"

    @property
    def state_keys(self) -> tuple[str, ...]:
        return tuple(f"__k{i}" for i in range(len(self.left_keys)))

    @property
    def flink_join_type(self) -> str:
        """Flink's name of the join type (``InnerJoin``, ``LeftOuterJoin``, ...), as EXPLAIN
        and error messages show it."""
        return {"inner": "InnerJoin", "left": "LeftOuterJoin", "right": "RightOuterJoin"}.get(
            self.join_type, "FullOuterJoin"
        )

    @property
    def left_outer(self) -> bool:
        return self.join_type in ("left", "full")

    @property
    def right_outer(self) -> bool:
        return self.join_type in ("right", "full")


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
    | UnionSpec
    | JoinSpec
    | LookupJoinSpec
    | SinkSpec
    | CollectSpec
)
_SPECS: dict[str, type] = {cls.kind: cls for cls in typing.get_args(OperatorSpec)}


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
        return self.spec.kind in ("window_aggregate", "group_aggregate", "join", "sort")


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
        inner = args[0]
        return tuple(_decode(inner, v) for v in value)
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
