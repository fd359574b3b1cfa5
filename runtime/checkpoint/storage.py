"""Checkpoint files: one folder per checkpoint, its metadata written last, in a folder or
an object store (``runtime/checkpoint/store.py``).

Layout under ``state.checkpoints.dir``::

    <dir>/<job>/chk-<n>/op-<node>-<subtask>.duckdb    operator state (ordinary DuckDB files)
    <dir>/<job>/chk-<n>/_metadata                      written atomically once all acked
    <dir>/<job>/savepoint-<n>-<stamp>/...               savepoints: same shape, never retained away

A checkpoint is complete exactly when its ``_metadata`` exists: in a folder the file is
written to a temporary name, fsynced, renamed, and the folder fsynced; in an object store
it is one PUT, written after every state file was uploaded. Either way a crash leaves no
metadata or a whole one. Recovery uses the newest complete checkpoint; folders without
metadata are garbage from a crash or an aborted checkpoint and are deleted.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.errors import SqlStreamError
from runtime.checkpoint.store import LocalStore, Store

METADATA = "_metadata"
FINISHED = "_finished"  # written when the job FINISHED and its checkpoints were deleted
FORMAT_VERSION = 1
_CHK = re.compile(r"^chk-(\d+)$")


class CheckpointError(SqlStreamError):
    """A checkpoint that cannot be written, read or used."""


@dataclass
class CheckpointMetadata:
    """What recovery needs: where sources were, which files hold operator state, which
    sink transactions were pre-committed, and which query wrote it."""

    checkpoint_id: int
    job_name: str
    plan_fingerprint: str
    timestamp_ms: int
    savepoint: bool = False
    parallelism: dict[str, int] = field(default_factory=dict)  # node id -> parallelism
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> subtask -> position
    operators: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> subtask -> state
    sinks: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> subtask -> handle
    stats: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)  # node id -> fingerprint of that node
    plan: str = ""  # the physical plan's JSON: what ``sqlstream state`` decodes the files with
    # how keys were assigned to subtasks (``runtime.partition.PARTITIONING``; "": DuckDB's
    # hash(), before it): keyed state written under another one is split again on restore
    partitioning: str = ""

    def to_json(self) -> str:
        data = {"format_version": FORMAT_VERSION, **self.__dict__}
        return json.dumps(data, indent=1, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str, where: str) -> CheckpointMetadata:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"checkpoint metadata {where} is not valid JSON: {e}") from None
        if data.pop("format_version", None) != FORMAT_VERSION:
            raise CheckpointError(f"checkpoint metadata {where} was written by another version")
        return cls(**data)


class CheckpointStorage:
    """The checkpoint folders of one job, in a folder or an object store (``store.py``):
    every location is a string of the store's kind."""

    def __init__(self, root: str | Path, job_name: str, store: Store | None = None) -> None:
        self.root = str(root)
        self.store = store if store is not None else LocalStore()
        self.job_name = job_name
        self.job_dir = self.store.join(self.root, _safe(job_name))

    def check_writable(self) -> None:
        """Write and delete a probe file in the job's folder, so that an object store that
        cannot be used (endpoint, credentials, bucket) fails the job before it starts,
        not at its first checkpoint."""
        probe = self.store.join(self.job_dir, f".probe-{uuid.uuid4().hex[:12]}")
        self.store.makedirs(self.job_dir)
        self.store.write_atomically(probe, "")
        self.store.delete(probe)

    def checkpoint_dir(self, checkpoint_id: int, savepoint: bool = False) -> str:
        if savepoint:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            return self.store.join(self.job_dir, f"savepoint-{checkpoint_id}-{stamp}")
        return self.store.join(self.job_dir, f"chk-{checkpoint_id}")

    def prepare(self, checkpoint_id: int, savepoint: bool = False) -> str:
        path = self.checkpoint_dir(checkpoint_id, savepoint)
        try:
            self.store.makedirs(path)
        except OSError as e:
            raise CheckpointError(
                f"cannot create checkpoint folder {path}: {e.strerror}",
                hint="set 'state.checkpoints.dir' to a writable folder",
            ) from None
        return path

    def state_file(self, folder: str, node_id: int, subtask: int) -> str:
        return self.store.join(folder, f"op-{node_id}-{subtask}.duckdb")

    def complete(self, folder: str, metadata: CheckpointMetadata) -> None:
        """Make the checkpoint in ``folder`` complete: its metadata, atomically, last."""
        self.store.write_atomically(self.store.join(folder, METADATA), metadata.to_json())

    def completed(self) -> list[tuple[int, str]]:
        """Complete checkpoints (not savepoints), oldest first."""
        found = []
        for name in self.store.children(self.job_dir):
            m = _CHK.match(name)
            folder = self.store.join(self.job_dir, name)
            if m and self.store.is_file(self.store.join(folder, METADATA)):
                found.append((int(m.group(1)), folder))
        return sorted(found)

    def latest(self) -> str | None:
        done = self.completed()
        return done[-1][1] if done else None

    def next_id(self) -> int:
        """Checkpoint ids keep counting up across restarts, so folders never collide."""
        highest = 0
        for name in self.store.children(self.job_dir):
            m = _CHK.match(name) or re.match(r"^savepoint-(\d+)-", name)
            if m:
                highest = max(highest, int(m.group(1)))
        return highest + 1

    def discard(self, folder: str) -> None:
        self.store.delete_tree(folder)

    def discard_checkpoints(self) -> None:
        """Delete every checkpoint folder (complete or not) but keep savepoints: what a
        FINISHED job leaves behind (Flink discards a finished job's checkpoints). A
        ``_finished`` marker says so (until the next run of the job starts), so that a
        process killed while exiting is known to have finished its job."""
        names = self.store.children(self.job_dir)
        if not names:
            return
        for name in names:
            if _CHK.match(name):
                self.discard(self.store.join(self.job_dir, name))
        self.store.write_atomically(
            self.finished_marker(), json.dumps({"finished_ms": int(time.time() * 1000)})
        )

    def finished_marker(self) -> str:
        return self.store.join(self.job_dir, FINISHED)

    def clear_finished(self) -> None:
        self.store.delete(self.finished_marker())

    def retain(self, keep: int) -> None:
        """Keep the newest ``keep`` complete checkpoints; delete older ones and every
        incomplete folder older than the newest complete one."""
        done = self.completed()
        if not done:
            return
        newest = done[-1][0]
        for _, folder in done[: max(len(done) - keep, 0)]:
            self.discard(folder)
        for name in self.store.children(self.job_dir):
            m = _CHK.match(name)
            folder = self.store.join(self.job_dir, name)
            if m and int(m.group(1)) < newest and not self.store.is_file(self.store.join(folder, METADATA)):
                self.discard(folder)


def load(path: str | Path) -> tuple[CheckpointMetadata, Path]:
    """A checkpoint or savepoint given by its folder (or its ``_metadata`` file)."""
    meta, folder = load_from(LocalStore(), str(path))
    return meta, Path(folder)


def load_from(store: Store, location: str) -> tuple[CheckpointMetadata, str]:
    """A checkpoint or savepoint in ``store`` given by its folder (or its ``_metadata``)."""
    folder = location.rstrip("/")
    if folder.rsplit("/", 1)[-1] == METADATA:
        folder = folder.rsplit("/", 1)[0]
    meta_path = store.join(folder, METADATA)
    try:
        text = store.read_text(meta_path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise CheckpointError(
            f"{folder} is not a complete checkpoint or savepoint (no {METADATA} file)",
            hint="pass the chk-<n> or savepoint-... folder of a finished checkpoint",
        ) from None
    return CheckpointMetadata.from_json(text, meta_path), folder


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "job"
