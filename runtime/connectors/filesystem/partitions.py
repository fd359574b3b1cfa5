"""Partitions of a ``filesystem`` table, as Flink lays them out: a row's partition is the
directory ``k1=v1/k2=v2`` under the table's path (Hive's layout, values escaped as Flink's
PartitionPathUtils escapes them, NULL or '' as 'partition.default-name'), and a partition
is committed (``_SUCCESS``) once its trigger says it is complete.

>>> escape("a/b:c"), unescape("a%2Fb%3Ac")
('a%2Fb%3Ac', 'a/b:c')
>>> partition_spec("dt=2024-05-01/hr=7")
{'dt': '2024-05-01', 'hr': '7'}
>>> partition_time_ms(["dt", "hr"], ["2024-05-01", "7"], "$dt $hr:00:00", "UTC")
1714546800000
>>> partition_time_ms(["dt"], ["2024-05-01"], None, "UTC")  # a date alone is midnight
1714521600000
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.connectors.filesystem import PartitionCommit
from catalog.errors import SqlStreamError

# What Flink's PartitionPathUtils escapes as %XX: control characters and these.
_ESCAPED = frozenset(chr(c) for c in range(0x20)) | frozenset("\"#%'*/:=?\\\x7f{[]^")
_PARTITION = re.compile(r"^([^/]+)=([^/]+)$")
_TIMESTAMP = re.compile(
    r"^(\d{1,10})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?)?$"
)


def escape(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in value)


def unescape(text: str) -> str:
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)


def partition_dir(keys: Sequence[str], values: Sequence[str]) -> str:
    """The relative directory of a partition: ``dt=2024-05-01/hr=7``."""
    return "/".join(f"{escape(k)}={escape(v)}" for k, v in zip(keys, values))


def partition_spec(path: str) -> dict[str, str]:
    """The ``key=value`` directories of a (relative) path, outermost first, unescaped."""
    out: dict[str, str] = {}
    for part in path.replace(os.sep, "/").split("/"):
        m = _PARTITION.match(part)
        if m:
            out[unescape(m.group(1))] = unescape(m.group(2))
    return out


def split_by_partition(
    batch: pa.RecordBatch, keys: Sequence[str], default_name: str
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """The batch's rows by partition directory, each without its partition columns."""
    data = batch.select([n for n in batch.schema.names if n not in keys])
    for partition, rows in partition_rows(batch, keys, default_name):
        yield partition, data if rows is None else data.take(rows)


def partition_rows(
    batch: pa.RecordBatch, keys: Sequence[str], default_name: str
) -> list[tuple[str, pa.Array | None]]:
    """Each partition directory of the batch's rows with the indices of its rows, in order
    (None: every row is in that one partition). A few Arrow kernels build each row's
    directory and one stable sort groups the rows, whatever the number of partitions."""
    parts: list[pa.Array] = []
    for i, key in enumerate(keys):
        text = pc.cast(batch.column(key), pa.string())
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        text = pc.fill_null(text, default_name)
        if i:
            parts.append(pa.repeat(pa.scalar("\0"), len(batch)))
        parts.append(text)
    joined = pc.binary_join_element_wise(*parts, "") if len(parts) > 1 else parts[0]
    encoded = pc.dictionary_encode(joined)
    values = [partition_dir(keys, v.split("\0")) for v in encoded.dictionary.to_pylist()]
    if len(values) == 1:
        return [(values[0], None)]
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(values)))])
    return [(v, pa.array(order[bounds[c] : bounds[c + 1]])) for c, v in enumerate(values)]


def partition_time_ms(keys: Sequence[str], values: Sequence[str], pattern: str | None, zone: str) -> int:
    """Flink's default partition time extractor: the pattern with ``$key`` replaced by the
    values (or the first value), read as ``yyyy-M-d[ H:m:s[.f]]`` in ``zone``, in epoch ms."""
    text = values[0] if pattern is None else pattern
    if pattern is not None:
        for k, v in sorted(zip(keys, values), key=lambda kv: -len(kv[0])):  # $hr before $h
            text = text.replace(f"${k}", v)
    m = _TIMESTAMP.match(text.strip())
    if m is None:
        raise SqlStreamError(
            f"partition time '{text}' is not a timestamp 'yyyy-MM-dd HH:mm:ss' or a date 'yyyy-MM-dd'",
            hint="set 'partition.time-extractor.timestamp-pattern' to build one from the partition "
            "values, e.g. '$dt $hr:00:00'",
        )
    y, mo, d, h, mi, s, frac = m.groups()
    local = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    ms = int((frac or "0").ljust(3, "0")[:3])
    return int(local.replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000) + ms


class PartitionCommitter:
    """Decides, when a checkpoint completes, which partitions are complete, and writes
    their success files (Flink's PartitionCommitter with its trigger and the success-file
    policy). It sees only partitions whose files are already visible: those that the
    completed checkpoint (and older ones) wrote.

    ``pending`` maps a partition directory to when it was first seen here (wall-clock ms,
    for the process-time trigger); it goes into every checkpoint, so a restore keeps
    waiting for the same partitions."""

    def __init__(self, root: str, keys: Sequence[str], commit: PartitionCommit) -> None:
        self.root = root
        self.keys = tuple(keys)
        self.commit = commit
        self.pending: dict[str, int] = {}
        self.committed: list[str] = []  # every commit made, in order (for tests and logs)

    def add(self, partitions: Sequence[str], now_ms: int) -> None:
        for p in partitions:
            self.pending.setdefault(p, now_ms)

    def committable(self, watermark: int | None, now_ms: int) -> list[str]:
        """The pending partitions whose trigger has fired: process-time once ``delay`` has
        passed since they were first seen (at once for no delay); partition-time once
        ``watermark`` (the sink's at the checkpoint's barrier) is past their time plus
        ``delay``."""
        c = self.commit
        out = []
        for p, first_seen in self.pending.items():
            if c.trigger == "process-time":
                ready = c.delay_ms == 0 or now_ms > first_seen + c.delay_ms
            else:
                values = [partition_spec(p)[k] for k in self.keys]
                at = partition_time_ms(self.keys, values, c.timestamp_pattern, c.watermark_time_zone)
                ready = watermark is not None and watermark > at + c.delay_ms
            if ready:
                out.append(p)
        return sorted(out)

    def commit_partitions(self, partitions: Sequence[str]) -> None:
        """Write each partition's success file (empty; again if it is there already, as
        Flink does for a partition that late rows reopened) and forget it."""
        for p in partitions:
            directory = os.path.join(self.root, p)
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, self.commit.success_file), "wb") as f:
                os.fsync(f.fileno())
            self.pending.pop(p, None)
            self.committed.append(p)
