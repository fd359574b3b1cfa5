"""When a sink that writes by its PRIMARY KEY gets a SinkUpsertMaterializer in front of it
(Flink's ``FlinkChangelogModeInferenceProgram.analyzeUpsertMaterializeStrategy``).

Such a sink (jdbc, upsert-kafka with a PRIMARY KEY) overwrites a key's row with each +I/+U
and deletes it with each -U/-D that nothing overwrites. When the updating rows reaching it
are keyed otherwise (GROUP BY name, id into PRIMARY KEY (name); a UNION ALL; a join), two
upstream rows meet under one sink key: the later one's row stays even after it is
retracted, or its retraction deletes the row the other still holds. Flink's answer, with
'table.exec.sink.upsert-materialize':

- AUTO (the default): a materializer when the sink's input is updating and none of its
  upsert keys (``planner.upsert_keys``) lies within the PRIMARY KEY. Flink 2.3 refuses such
  a query unless it names an ON CONFLICT strategy ('table.exec.sink.require-on-conflict',
  true by default): ``INSERT ... ON CONFLICT DO DEDUPLICATE`` (or the key set to false)
  gets the materializer; DO ERROR and DO NOTHING (Flink's WatermarkCompactingSinkMaterializer)
  are refused by name;
- FORCE: a materializer in front of every sink that writes by key, its input updating or not;
- NONE: never (the sink then answers as described above).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from catalog.config import REQUIRE_ON_CONFLICT, UPSERT_MATERIALIZE
from catalog.connectors import ChangelogMode
from planner.errors import PlanError, UnsupportedError
from planner.physical import Node
from planner.upsert_keys import upsert_keys


def materialized_key(
    config: Mapping[str, str],
    table: str,
    primary_key: Sequence[str],
    sink_columns: Sequence[str],
    child: Node,
    nodes: Sequence[Node],
    on_conflict: str | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """For a sink that writes by ``primary_key`` (of ``table``, whose columns are
    ``sink_columns``) fed by ``child``: None when no materializer goes in front of it, else
    (the PRIMARY KEY in ``child``'s column names, the input's upsert key the materializer
    matches retractions by, empty when none is known). Raises Flink's refusal where Flink
    2.3 requires an ON CONFLICT clause (``on_conflict``: the INSERT's, checked by
    ``check_on_conflict``)."""
    mode = UPSERT_MATERIALIZE.get(config)
    if not primary_key or mode == "NONE":
        return None
    pk = input_key(child, sink_columns, primary_key)
    keys = upsert_keys(nodes, child) or []
    inside = next((k for k in keys if set(k) <= set(pk)), None)
    upsert_key = inside or (keys[0] if keys else ())
    if mode == "FORCE":
        return pk, upsert_key
    if child.changelog == ChangelogMode.INSERT_ONLY or inside is not None:
        return None
    if on_conflict is None and REQUIRE_ON_CONFLICT.get(config):
        shown = f"[{', '.join(keys[0])}]" if keys else ""
        raise PlanError(
            f"The query has an upsert key that differs from the primary key of the sink table "
            f"'{table}'. Primary key: [{', '.join(primary_key)}], upsert key: {shown}. "
            "This can lead to non-deterministic results when multiple records with different upsert "
            "keys map to the same primary key",
            hint="end the INSERT with ON CONFLICT DO DEDUPLICATE (or SET "
            "'table.exec.sink.require-on-conflict' = 'false') to put a SinkUpsertMaterializer in front "
            "of the sink: it keeps every row of a key and writes the one that arrived last; or write "
            "into a table whose PRIMARY KEY holds the query's unique key",
        )
    return pk, upsert_key


def input_key(child: Node, sink_columns: Sequence[str], primary_key: Sequence[str]) -> tuple[str, ...]:
    """The sink's PRIMARY KEY in the names of ``child``'s columns that it writes."""
    names = [f.name for f in child.schema]
    if len(names) != len(sink_columns):
        return tuple(primary_key)
    return tuple(names[list(sink_columns).index(k)] for k in primary_key)  # written by position


def keyed_within(
    nodes: Sequence[Node], child: Node, sink_columns: Sequence[str], primary_key: Sequence[str]
) -> bool:
    """Whether one of ``child``'s upsert keys lies within the sink's PRIMARY KEY: each of
    its rows then has a sink key of its own, and a -U or -D of it deletes only its row."""
    pk = set(input_key(child, sink_columns, primary_key))
    return any(set(k) <= pk for k in upsert_keys(nodes, child) or [])


def check_on_conflict(
    strategy: str, table: str, has_key: bool, accepted: Sequence[ChangelogMode], changelog: ChangelogMode
) -> None:
    """Flink's checks of an INSERT's ON CONFLICT clause (``changelog``: the query's): only
    for an updating query into a sink with a PRIMARY KEY (Flink 2.3 refuses it for an
    append-only query into jdbc, whose sink then only takes inserts); DO ERROR and DO
    NOTHING (Flink's WatermarkCompactingSinkMaterializer) are not supported."""
    if not has_key or changelog == ChangelogMode.INSERT_ONLY or len(accepted) == 1:
        why = (
            "it requires UPDATE_BEFORE (retract mode)"
            if changelog != ChangelogMode.INSERT_ONLY and has_key
            else "it only accepts INSERT (append-only) changes"
        )
        raise PlanError(
            f"ON CONFLICT clause is only allowed for upsert sinks. The sink '{table}' is not an upsert "
            f"sink because {why}",
            hint="drop the clause: it is for an updating query into a table with a PRIMARY KEY",
        )
    if strategy != "DEDUPLICATE":
        raise UnsupportedError(
            f"ON CONFLICT DO {strategy}",
            hint="ON CONFLICT DO DEDUPLICATE writes, per key of the sink, the row that arrived last",
        )
