"""A checkpoint or savepoint opened read-only in DuckDB, for people to query.

    reader = StateReader.open("checkpoints/billing/chk-42")   # or a job's newest:
    reader = StateReader.open(newest("checkpoints", "billing"))
    reader.operators()        # id, name, kind, view, parallelism, rows, bytes per operator
    reader.sql("SELECT * FROM window_aggregate_3 WHERE k = 7")   # (columns, rows)

Every subtask's state file is attached read-only; each stateful operator gets a view
named ``<kind>_<id>`` (``group_aggregate_2``) with readable columns: keys, window bounds
and the aggregates decoded from their accumulators, plus ``subtask``; its other tables
(DISTINCT's seen values) are views ``<kind>_<id>__<table>``. A join's view holds both
sides' rows, with ``side``. From ``_metadata``:
``checkpoint`` (one row: id, job, time, savepoint, path), ``source_positions`` (per
source subtask and split: the position recorded, e.g. a Kafka offset) and
``sink_transactions`` (the pre-committed handles a restore would commit). Nothing can
write: the files are attached READ_ONLY and the connection is only ever queried.

A checkpoint in an object store (``s3://bucket/...``, the ``s3.*`` settings of the job
passed as ``config``) is read the same way: its state files are downloaded first.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.errors import SqlStreamError
from planner.physical import CalcSpec, GroupAggregateSpec, Node, PhysicalPlan, WindowAggregateSpec
from runtime.checkpoint.storage import (
    METADATA,
    CheckpointError,
    CheckpointMetadata,
    CheckpointStorage,
    load_from,
)
from runtime.checkpoint.store import Store, open_store

if TYPE_CHECKING:
    import duckdb

_SAVEPOINT = re.compile(r"^savepoint-(\d+)-")
_CHK = re.compile(r"^chk-(\d+)$")


@dataclass(frozen=True)
class OperatorState:
    """One stateful operator of a checkpoint, as ``\\state`` lists it."""

    id: int
    name: str
    kind: str
    view: str
    parallelism: int
    rows: int
    bytes: int


def newest(directory: str | Path, job_name: str, config: Mapping[str, str] | None = None) -> str:
    """The newest complete checkpoint or savepoint of the job named ``job_name``
    (``pipeline.name``) under ``directory`` (``state.checkpoints.dir``: a folder, or an
    object store with the ``s3.*`` settings in ``config``)."""
    store = open_store(str(directory), config or {})
    storage = CheckpointStorage(directory, job_name, store)
    found: list[tuple[int, str]] = []
    for name in store.children(storage.job_dir):
        m = _CHK.match(name) or _SAVEPOINT.match(name)
        folder = store.join(storage.job_dir, name)
        if m and store.is_file(store.join(folder, METADATA)):
            found.append((int(m.group(1)), folder))
    if not found:
        raise CheckpointError(
            f"job '{job_name}' has no complete checkpoint or savepoint under {storage.root}",
            hint="pass the folder of a checkpoint, or set 'state.checkpoints.dir' (-D) to where "
            "the job writes them",
        )
    return max(found)[1]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _view_name(node: Node) -> str:
    return f"{node.kind}_{node.id}"


class StateReader:
    """A checkpoint's views. In an object store its state files are downloaded to local
    temporary files (DuckDB attaches local files only), deleted again by ``close``."""

    def __init__(self, meta: CheckpointMetadata, folder: str, store: Store) -> None:
        self.meta = meta
        self.folder = folder
        self.store = store
        self.plan: PhysicalPlan | None = PhysicalPlan.from_json(meta.plan) if meta.plan else None
        import duckdb  # not at import: the session imports this module, most runs never read state

        self.con: duckdb.DuckDBPyConnection = duckdb.connect(":memory:")
        self._files = contextlib.ExitStack()  # the downloaded state files
        self._operators: list[OperatorState] = []
        try:
            self._attach_operators()
            self._metadata_tables()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, path: str | Path, config: Mapping[str, str] | None = None) -> StateReader:
        """The checkpoint or savepoint at ``path`` (its folder or ``_metadata``): a folder,
        or an ``s3://`` location read with the ``s3.*`` settings in ``config``."""
        store = open_store(str(path), config or {})
        meta, folder = load_from(store, str(path))
        return cls(meta, folder, store)

    def _local_file(self, name: str) -> Path:
        """A local path holding the state file ``name`` of this checkpoint."""
        location = self.store.join(self.folder, name)
        path: Path | None = None
        with contextlib.suppress(FileNotFoundError):
            path = self._files.enter_context(self.store.reading(location))
        if path is None or not path.is_file():
            raise CheckpointError(f"{self.folder} is missing the state file {name}")
        return path

    # ---- building the views --------------------------------------------------------------
    def _node(self, node_id: int) -> Node | None:
        if self.plan is None:
            return None
        return next((n for n in self.plan.nodes if n.id == node_id), None)

    def _attach_operators(self) -> None:
        for key, subtasks in sorted(self.meta.operators.items(), key=lambda kv: int(kv[0])):
            node_id = int(key)
            node = self._node(node_id)
            kind = node.kind if node is not None else "operator"
            name = node.name if node is not None else f"operator {node_id}"
            view = _view_name(node) if node is not None else f"operator_{node_id}"
            tables: dict[str, list[str]] = {}  # table -> "alias.main.table" per subtask
            size = 0
            for sub, entry in sorted(subtasks.items(), key=lambda kv: int(kv[0])):
                if not entry or not entry.get("file"):
                    continue
                path = self._local_file(entry["file"])
                size += path.stat().st_size
                alias = f"op_{node_id}_{sub}"
                self.con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS {alias} (READ_ONLY)")
                for table in entry.get("tables", []):
                    tables.setdefault(table, []).append(
                        f"SELECT {int(sub)} AS subtask, * FROM {alias}.main.{_ident(table)}"
                    )
            if not tables:
                continue
            for table, parts in tables.items():
                union = " UNION ALL BY NAME ".join(parts)
                self.con.execute(f"CREATE VIEW {_ident(f'{view}__{table}')} AS {union}")
            if node is not None and isinstance(node.spec, GroupAggregateSpec):
                self._keyed_values(node.spec, view, tables)
            main = self._main_table(node, tables)
            readable = self._readable(node, f"{view}__{main}") if node is not None else None
            if readable is None and {"left_rows", "right_rows"} <= tables.keys():
                readable = self._join_sides(view)
            body = readable or f"SELECT * FROM {_ident(f'{view}__{main}')}"
            self.con.execute(f"CREATE VIEW {_ident(view)} AS {body}")
            rows = sum(self._count(f"{view}__{t}") for t in tables)
            parallelism = int(self.meta.parallelism.get(key, len(subtasks)))
            self._operators.append(OperatorState(node_id, name, kind, view, parallelism, rows, size))

    def _keyed_values(self, spec: GroupAggregateSpec, view: str, tables: dict[str, list[str]]) -> None:
        """A GROUP BY's DISTINCT values name their key by an id (``__id``, see
        ``distinct_values``): their views show the key columns instead, from ``acc``."""
        from runtime.operators import distinct_values

        if "acc" not in tables:
            return
        acc = " UNION ALL BY NAME ".join(tables["acc"])
        for table, parts in tables.items():
            name = _ident(f"{view}__{table}")
            columns = [c[0] for c in self.con.execute(f"SELECT * FROM {name} LIMIT 0").description]
            if table == "acc" or distinct_values.ID not in columns:
                continue
            values = " UNION ALL BY NAME ".join(parts)
            body = distinct_values.keyed_view(spec.keys, f"({values})", f"({acc})")
            self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")

    def _count(self, view: str) -> int:
        found = self.con.execute(f"SELECT count(*) FROM {_ident(view)}").fetchone()
        return int(found[0]) if found else 0

    @staticmethod
    def _main_table(node: Node | None, tables: dict[str, list[str]]) -> str:
        for preferred in ("acc", "windows"):
            if preferred in tables:
                return preferred
        return sorted(tables)[0]

    def _readable(self, node: Node, relation: str) -> str | None:
        from runtime.operators import group_aggregate, window_aggregate

        spec = node.spec
        if isinstance(spec, GroupAggregateSpec | WindowAggregateSpec):
            # aggregates carry planner names ($a0): show the names the query gave them
            names = self._user_names(node)
            aggs = tuple(replace(a, name=names.get(a.name, a.name)) for a in spec.aggs)
            if isinstance(spec, GroupAggregateSpec):
                return group_aggregate.state_view(replace(spec, aggs=aggs), _ident(relation))
            return window_aggregate.state_view(replace(spec, aggs=aggs), _ident(relation))
        return None

    def _join_sides(self, view: str) -> str:
        """Both sides of a join (regular, interval, window, semi/anti) in one view: ``side``,
        the subtask, each row under the join's column names (the other side's are NULL),
        how many identical rows it stands for and, for an outer side, how many rows of the
        other side match it. The key columns and bookkeeping of the operator stay hidden."""
        parts = []
        for side in ("left", "right"):
            relation = _ident(f"{view}__{side}_rows")
            names = [r[0] for r in self.con.execute(f"DESCRIBE {relation}").fetchall()]
            cols = [f"'{side}' AS side", "subtask"]
            cols += [_ident(n) for n in names if not n.startswith("__") and n != "subtask"]
            if "__cnt" in names:
                cols.append("__cnt AS row_count")
            if "__assoc" in names:
                cols.append("__assoc AS matches")
            parts.append(f"SELECT {', '.join(cols)} FROM {relation}")
        return " UNION ALL BY NAME ".join(parts)

    def _user_names(self, node: Node) -> dict[str, str]:
        """Output columns of ``node`` that the projection after it renames (``$a0`` -> ``c``)."""
        assert self.plan is not None
        names: dict[str, str] = {}
        taken = set(getattr(node.spec, "keys", ()))
        for consumer in self.plan.consumers(node.id):
            if isinstance(consumer.spec, CalcSpec):
                for out, expr in consumer.spec.projections:
                    m = re.fullmatch(r'"((?:[^"]|"")+)"', expr.strip())
                    if m and out not in taken:
                        names.setdefault(m.group(1).replace('""', '"'), out)
                        taken.add(out)
        return names

    def _metadata_tables(self) -> None:
        m = self.meta
        self.con.execute(
            "CREATE TABLE checkpoint (checkpoint_id BIGINT, job_name VARCHAR, taken_at TIMESTAMP, "
            "savepoint BOOLEAN, path VARCHAR)"
        )
        self.con.execute(
            "INSERT INTO checkpoint VALUES (?, ?, make_timestamp(? * 1000), ?, ?)",
            [m.checkpoint_id, m.job_name, m.timestamp_ms, m.savepoint, self.folder],
        )
        self.con.execute(
            "CREATE TABLE source_positions (operator_id INTEGER, operator VARCHAR, subtask INTEGER, "
            "split VARCHAR, topic VARCHAR, \"partition\" INTEGER, \"offset\" BIGINT, position VARCHAR)"
        )
        rows: list[tuple[Any, ...]] = []
        for key, subtasks in m.sources.items():
            node = self._node(int(key))
            name = getattr(node.spec, "table", None) if node is not None else None
            for sub, position in subtasks.items():
                offsets = position.get("offsets") if isinstance(position, dict) else None
                if isinstance(offsets, dict) and offsets:
                    for split, offset in sorted(offsets.items()):
                        topic, _, part = split.rpartition(":")
                        partition = int(part) if part.isdigit() else None
                        rows.append((int(key), name, int(sub), split, topic or None, partition,
                                     int(offset), json.dumps(offset)))  # fmt: skip
                else:
                    rows.append((int(key), name, int(sub), None, None, None, None,
                                 json.dumps(position, sort_keys=True)))  # fmt: skip
        if rows:
            self.con.executemany("INSERT INTO source_positions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.con.execute(
            "CREATE TABLE sink_transactions (operator_id INTEGER, sink VARCHAR, subtask INTEGER, "
            "checkpoint_id BIGINT, handle VARCHAR)"
        )
        rows = []
        for key, subtasks in m.sinks.items():
            node = self._node(int(key))
            name = getattr(node.spec, "table", None) if node is not None else None
            for sub, entry in subtasks.items():
                for n, handle in (entry or {}).get("handles", []):
                    rows.append((int(key), name, int(sub), int(n), json.dumps(handle, sort_keys=True)))
        if rows:
            self.con.executemany("INSERT INTO sink_transactions VALUES (?, ?, ?, ?, ?)", rows)

    # ---- reading -------------------------------------------------------------------------
    def operators(self) -> list[OperatorState]:
        return list(self._operators)

    def view_of(self, operator: str) -> str:
        """The view of an operator named by its view, id, or (unique) name."""
        wanted = operator.strip()
        for op in self._operators:
            if wanted in (op.view, str(op.id)):
                return op.view
        named = [op for op in self._operators if op.name.lower() == wanted.lower()]
        if len(named) == 1:
            return named[0].view
        known = ", ".join(f"{op.view} ({op.name})" for op in self._operators) or "none"
        what = "several operators are" if named else "no stateful operator is"
        raise SqlStreamError(
            f"{what} named '{operator}' in checkpoint {self.meta.checkpoint_id}",
            hint=f"stateful operators: {known}",
        )

    def views(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'memory' "
            "ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def sql(self, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query over the views; returns its column names and rows."""
        import duckdb

        try:
            rel = self.con.sql(query)
        except duckdb.Error as e:
            raise SqlStreamError(f"state query failed: {e}") from None
        if rel is None:  # a statement (a helper view of the user's): nothing to show
            return [], []
        return list(rel.columns), rel.fetchall()

    def close(self) -> None:
        self.con.close()  # detaches the files before their downloads are deleted
        self._files.close()

    def __enter__(self) -> StateReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
