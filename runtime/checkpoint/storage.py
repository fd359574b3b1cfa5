"""Checkpoint files on disk: one folder per checkpoint, its metadata written last.

Layout under ``state.checkpoints.dir``::

    <dir>/<job>/chk-<n>/op-<node>-<subtask>.duckdb    operator state (ordinary DuckDB files)
    <dir>/<job>/chk-<n>/_metadata                      written atomically once all acked
    <dir>/<job>/savepoint-<n>-<stamp>/...               savepoints: same shape, never retained away

A checkpoint is complete exactly when its ``_metadata`` exists: the file is written to a
temporary name, fsynced, renamed, and the folder fsynced, so a crash leaves either no
metadata or a whole one. Recovery uses the newest complete checkpoint; folders without
metadata are garbage from a crash or an aborted checkpoint and are deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.errors import SqlStreamError

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


def fsync_dir(path: Path | str) -> None:
    """Make a directory's entries (a rename into it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that a reader sees the old file, or the whole new one."""
    tmp = path.with_name(path.name + ".inprogress")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class CheckpointStorage:
    """The checkpoint folders of one job."""

    def __init__(self, root: str | Path, job_name: str) -> None:
        self.root = Path(root)
        self.job_name = job_name
        self.job_dir = self.root / _safe(job_name)

    def checkpoint_dir(self, checkpoint_id: int, savepoint: bool = False) -> Path:
        if savepoint:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            return self.job_dir / f"savepoint-{checkpoint_id}-{stamp}"
        return self.job_dir / f"chk-{checkpoint_id}"

    def prepare(self, checkpoint_id: int, savepoint: bool = False) -> Path:
        path = self.checkpoint_dir(checkpoint_id, savepoint)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CheckpointError(
                f"cannot create checkpoint folder {path}: {e.strerror}",
                hint="set 'state.checkpoints.dir' to a writable folder",
            ) from None
        return path

    @staticmethod
    def state_file(folder: Path, node_id: int, subtask: int) -> Path:
        return folder / f"op-{node_id}-{subtask}.duckdb"

    def complete(self, folder: Path, metadata: CheckpointMetadata) -> None:
        """Make the checkpoint in ``folder`` complete: its metadata, atomically, last."""
        write_atomically(folder / METADATA, metadata.to_json())

    def completed(self) -> list[tuple[int, Path]]:
        """Complete checkpoints (not savepoints), oldest first."""
        if not self.job_dir.is_dir():
            return []
        found = []
        for child in self.job_dir.iterdir():
            m = _CHK.match(child.name)
            if m and (child / METADATA).is_file():
                found.append((int(m.group(1)), child))
        return sorted(found)

    def latest(self) -> Path | None:
        done = self.completed()
        return done[-1][1] if done else None

    def next_id(self) -> int:
        """Checkpoint ids keep counting up across restarts, so folders never collide."""
        highest = 0
        if self.job_dir.is_dir():
            for child in self.job_dir.iterdir():
                m = _CHK.match(child.name) or re.match(r"^savepoint-(\d+)-", child.name)
                if m:
                    highest = max(highest, int(m.group(1)))
        return highest + 1

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def discard_checkpoints(self) -> None:
        """Delete every checkpoint folder (complete or not) but keep savepoints: what a
        FINISHED job leaves behind (Flink discards a finished job's checkpoints). A
        ``_finished`` marker says so (until the next run of the job starts), so that a
        process killed while exiting is known to have finished its job."""
        if not self.job_dir.is_dir():
            return
        for child in self.job_dir.iterdir():
            if _CHK.match(child.name):
                self.discard(child)
        write_atomically(self.job_dir / FINISHED, json.dumps({"finished_ms": int(time.time() * 1000)}))

    def finished_marker(self) -> Path:
        return self.job_dir / FINISHED

    def clear_finished(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.job_dir / FINISHED).unlink()

    def retain(self, keep: int) -> None:
        """Keep the newest ``keep`` complete checkpoints; delete older ones and every
        incomplete folder older than the newest complete one."""
        done = self.completed()
        if not done:
            return
        newest = done[-1][0]
        for _, folder in done[: max(len(done) - keep, 0)]:
            self.discard(folder)
        for child in self.job_dir.iterdir():
            m = _CHK.match(child.name)
            if m and int(m.group(1)) < newest and not (child / METADATA).is_file():
                self.discard(child)


def load(path: str | Path) -> tuple[CheckpointMetadata, Path]:
    """A checkpoint or savepoint given by its folder (or its ``_metadata`` file)."""
    folder = Path(path)
    if folder.name == METADATA:
        folder = folder.parent
    meta_path = folder / METADATA
    if not meta_path.is_file():
        raise CheckpointError(
            f"{folder} is not a complete checkpoint or savepoint (no {METADATA} file)",
            hint="pass the chk-<n> or savepoint-... folder of a finished checkpoint",
        )
    return CheckpointMetadata.from_json(meta_path.read_text(), str(meta_path)), folder


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "job"
