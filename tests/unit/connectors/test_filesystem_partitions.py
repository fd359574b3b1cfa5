"""The partitioned filesystem sink: Hive-style directories, files published only when their
checkpoint completes, and ``_SUCCESS`` only for partitions whose commit trigger fired."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from catalog.connectors import Guarantee
from catalog.errors import SqlStreamError
from planner.physical import SinkSpec, SourceSpec
from runtime.connectors.filesystem.partitions import partition_time_ms, split_by_partition
from runtime.connectors.filesystem.sink import FileSystemSink
from runtime.connectors.filesystem.source import FileSystemSource
from sqlstream.session import Session
from tests.unit.connectors.helpers import ctx, fields, read_all

COLS = fields("v BIGINT", "dt STRING", "hr INT")
KEYS = ("dt", "hr")


def sink(path: Path, subtask: int = 0, exactly_once: bool = True, **options: str) -> FileSystemSink:
    spec = SinkSpec(
        "t",
        "filesystem",
        {"connector": "filesystem", "path": str(path), "format": "json", **options},
        COLS,
        guarantee=Guarantee.EXACTLY_ONCE if exactly_once else Guarantee.AT_LEAST_ONCE,
        partition_keys=KEYS,
    )
    return FileSystemSink(spec, ctx(subtask, 1))


def batch(*rows: tuple[int, str | None, int]) -> pa.RecordBatch:
    v, dt, hr = zip(*rows)
    return pa.RecordBatch.from_arrays(
        [pa.array(v, pa.int64()), pa.array(dt, pa.string()), pa.array(hr, pa.int32())],
        names=["v", "dt", "hr"],
    )


def visible(root: Path) -> dict[str, list[Any]]:
    """What readers see under ``root``: each partition's success file (as []) and the rows of
    its part files (``<partition>/part``, sorted)."""
    out: dict[str, list[Any]] = {}
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith((".", "_"))]
        for name in names:
            if name.startswith("."):
                continue
            rel = os.path.relpath(os.path.join(d, name), root)
            lines = Path(d, name).read_text().splitlines()
            key = rel if name == "_SUCCESS" else os.path.join(os.path.dirname(rel), "part")
            out[key] = sorted(out.get(key, []) + [json.loads(line)["v"] for line in lines])
    return dict(sorted(out.items()))


COMMIT = {"sink.partition-commit.policy.kind": "success-file"}
PARTITION_TIME = {
    **COMMIT,
    "sink.partition-commit.trigger": "partition-time",
    "partition.time-extractor.timestamp-pattern": "$dt $hr:00:00",
    "sink.partition-commit.delay": "1 h",
}


# ---- paths ------------------------------------------------------------------------------


def test_rows_split_into_escaped_directories_without_their_partition_columns() -> None:
    got = {
        p: b.to_pylist()
        for p, b in split_by_partition(
            batch((1, "a/b", 1), (2, None, 1), (3, "", 1), (4, "a/b", 1)), KEYS, "__D__"
        )
    }
    assert got == {
        "dt=a%2Fb/hr=1": [{"v": 1}, {"v": 4}],
        "dt=__D__/hr=1": [{"v": 2}, {"v": 3}],  # NULL and '' both go to the default partition
    }


def test_partition_time_follows_the_pattern_and_zone() -> None:
    assert partition_time_ms(["dt", "hr"], ["1970-01-01", "2"], "$dt $hr:00:00", "UTC") == 7_200_000
    assert (
        partition_time_ms(["dt", "hr"], ["1970-01-01", "2"], "$dt $hr:00:00", "Asia/Shanghai") == -21_600_000
    )
    with pytest.raises(SqlStreamError, match="is not a timestamp"):
        partition_time_ms(["dt"], ["yesterday"], None, "UTC")


# ---- the sink ---------------------------------------------------------------------------


def test_files_and_success_appear_only_when_their_checkpoint_completes(tmp_path: Path) -> None:
    s = sink(tmp_path, **COMMIT)  # process-time trigger, no delay: at the first commit

    async def run() -> None:
        await s.open()
        await s.write(batch((1, "2024-05-01", 0), (2, "2024-05-01", 1)))
        h1 = await s.pre_commit(1)
        await s.write(batch((3, "2024-05-01", 1)))
        h2 = await s.pre_commit(2)
        assert visible(tmp_path) == {}  # nothing before checkpoint 1 completes
        await s.commit(1, h1)
        assert visible(tmp_path) == {
            "dt=2024-05-01/hr=0/_SUCCESS": [],
            "dt=2024-05-01/hr=0/part": [1],
            "dt=2024-05-01/hr=1/_SUCCESS": [],
            "dt=2024-05-01/hr=1/part": [2],
        }
        await s.commit(2, h2)
        await s.close()

    asyncio.run(run())
    parts = sorted(os.listdir(tmp_path / "dt=2024-05-01" / "hr=1"))
    assert len(parts) == 3 and parts[0] == "_SUCCESS"  # two part files: one per checkpoint
    # the filesystem source reads the partition columns back from the directories
    source = FileSystemSource(
        SourceSpec(
            "t",
            "filesystem",
            {"connector": "filesystem", "path": str(tmp_path), "format": "json"},
            COLS,
            bounded=True,
            partition_keys=KEYS,
        ),
        ctx(),
    )
    assert sorted(read_all(source).to_pylist(), key=lambda r: r["v"]) == [
        {"v": 1, "dt": "2024-05-01", "hr": 0},
        {"v": 2, "dt": "2024-05-01", "hr": 1},
        {"v": 3, "dt": "2024-05-01", "hr": 1},
    ]


def test_partition_time_commits_once_the_watermark_passes_partition_time_plus_delay(tmp_path: Path) -> None:
    s = sink(tmp_path, **PARTITION_TIME)
    hour = 3_600_000

    async def run() -> None:
        await s.open()
        await s.write(batch((1, "1970-01-01", 0), (2, "1970-01-01", 1)))
        await s.on_watermark(hour)  # hour 0 ends at 1 h: the watermark must be past it
        await s.commit(1, await s.pre_commit(1))
        assert [p for p in visible(tmp_path) if p.endswith("_SUCCESS")] == []
        await s.on_watermark(hour + 1)
        await s.commit(2, await s.pre_commit(2))
        assert [p for p in visible(tmp_path) if p.endswith("_SUCCESS")] == ["dt=1970-01-01/hr=0/_SUCCESS"]
        # a restart from checkpoint 3 keeps waiting for hour 1, and commits it at end of input
        await s.write(batch((3, "1970-01-01", 1)))
        h3 = await s.pre_commit(3)
        await s.close()
        again = sink(tmp_path, **PARTITION_TIME)
        await again.open()
        await again.recover([(3, h3)])
        assert visible(tmp_path)["dt=1970-01-01/hr=1/part"] == [2, 3]
        assert "dt=1970-01-01/hr=1/_SUCCESS" not in visible(tmp_path)
        await again.flush()  # end of input: every pending partition is committed
        assert "dt=1970-01-01/hr=1/_SUCCESS" in visible(tmp_path)

    asyncio.run(run())


def test_process_time_delay_waits_from_when_the_partition_was_first_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000]
    monkeypatch.setattr("runtime.connectors.filesystem.sink.now_ms", lambda: clock[0])
    s = sink(tmp_path, **COMMIT, **{"sink.partition-commit.delay": "10 s"})

    async def run() -> None:
        await s.open()
        await s.write(batch((1, "d", 0)))
        await s.commit(1, await s.pre_commit(1))
        clock[0] += 10_000  # not past first seen + delay yet
        await s.commit(2, await s.pre_commit(2))
        assert "dt=d/hr=0/_SUCCESS" not in visible(tmp_path)
        clock[0] += 1
        await s.commit(3, await s.pre_commit(3))
        assert "dt=d/hr=0/_SUCCESS" in visible(tmp_path)

    asyncio.run(run())


def test_a_crash_leaves_no_uncommitted_file_and_recovery_commits_the_checkpoint(tmp_path: Path) -> None:
    first = sink(tmp_path, **COMMIT)

    async def run() -> None:
        await first.open()
        await first.write(batch((1, "d", 0)))
        handle = await first.pre_commit(1)
        await first.write(batch((2, "d", 0), (3, "e", 0)))  # after the barrier: never committed
        await first.close()  # the crash: checkpoint 1 completed, its commit never ran
        again = sink(tmp_path, **COMMIT)
        await again.open()
        await again.recover([(1, handle)])

    asyncio.run(run())
    assert visible(tmp_path) == {"dt=d/hr=0/_SUCCESS": [], "dt=d/hr=0/part": [1]}
    leftovers = [n for _, _, names in os.walk(tmp_path) for n in names if n.endswith(".inprogress")]
    assert leftovers == []


def test_rollover_interval_is_checked_on_the_check_interval(tmp_path: Path) -> None:
    s = sink(
        tmp_path,
        exactly_once=False,
        **{"sink.rolling-policy.rollover-interval": "1 s", "sink.rolling-policy.check-interval": "100 ms"},
    )

    async def run() -> None:
        await s.open()
        await s.write(batch((1, "d", 0)))
        due = s.next_timer_ms()
        assert due is not None
        await s.on_timer(due)  # not yet open for a second: stays in progress
        assert visible(tmp_path) == {}
        await s.on_timer(due + 1000)
        assert visible(tmp_path) == {"dt=d/hr=0/part": [1]}
        assert s.next_timer_ms() is None  # nothing open, nothing to check

    asyncio.run(run())


# ---- DDL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        ("(a INT, b INT) PARTITIONED BY (b) WITH ('connector' = 'datagen')", "does not write partitions"),
        ("(a INT, b INT) PARTITIONED BY (c) WITH (FS)", "partition column 'c' is not a physical column"),
        ("(a INT, b DOUBLE) PARTITIONED BY (b) WITH (FS)", "partition column 'b' is DOUBLE"),
        ("(a INT) PARTITIONED BY (a) WITH (FS)", "the files would hold no data"),
        ("(a INT, b INT) WITH (FS, 'sink.partition-commit.policy.kind' = 'success-file')", "has none"),
        ("(a INT, b INT) PARTITIONED BY (b) WITH (FS, 'sink.partition-commit.policy.kind' = 'metastore')",
         "for Hive tables"),
        ("(a INT, b INT) PARTITIONED BY (b) WITH (FS, 'sink.partition-commit.policy.kind' = 'success-file', "
         "'partition.time-extractor.timestamp-pattern' = '$a')", "names $a, which is not a partition column"),
        ("(a INT, b INT) PARTITIONED BY (b) WITH (FS, 'sink.partition-commit.trigger' = 'event-time')",
         "is not one of process-time, partition-time"),
    ],
)  # fmt: skip
def test_partitioned_tables_are_checked_at_create(tmp_path: Path, ddl: str, message: str) -> None:
    fs = f"'connector' = 'filesystem', 'path' = '{tmp_path}', 'format' = 'json'"
    with pytest.raises(SqlStreamError, match=message.replace("$", r"\$")):
        Session().execute("CREATE TABLE t " + ddl.replace("FS", fs))


def test_show_create_table_keeps_partitioned_by_and_the_sink_shuffles_by_it(tmp_path: Path) -> None:
    s = Session()
    s.execute("SET 'parallelism.default' = '2'")
    s.execute(
        f"CREATE TABLE o (v BIGINT, dt STRING) PARTITIONED BY (dt) WITH ('connector' = 'filesystem', "
        f"'path' = '{tmp_path}', 'format' = 'json', 'sink.partition-commit.policy.kind' = 'success-file')"
    )
    assert ") PARTITIONED BY (`dt`) WITH (" in s.execute("SHOW CREATE TABLE o").message
    s.execute("CREATE TABLE src (v BIGINT, dt STRING) WITH ('connector' = 'datagen')")
    plan = s.execute("EXPLAIN INSERT INTO o SELECT v, dt FROM src").message
    assert "Exchange(distribution=[hash[dt]])" in plan


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet", "avro"])
def test_every_file_format_writes_partitions_that_read_back(tmp_path: Path, fmt: str) -> None:
    spec = SinkSpec(
        "t", "filesystem", {"connector": "filesystem", "path": str(tmp_path), "format": fmt}, COLS,
        partition_keys=KEYS,
    )  # fmt: skip
    s = FileSystemSink(spec, ctx())
    rows = [(v, ["d1", "d2", None][v % 3], v % 4) for v in range(200)]

    async def run() -> None:
        await s.open()
        for i in range(0, 200, 50):
            await s.write(batch(*rows[i : i + 50]))
        await s.flush()
        await s.close()

    asyncio.run(run())
    assert sorted(os.listdir(tmp_path)) == ["dt=__DEFAULT_PARTITION__", "dt=d1", "dt=d2"]
    assert sorted(os.listdir(tmp_path / "dt=d1")) == ["hr=0", "hr=1", "hr=2", "hr=3"]
    options = {"connector": "filesystem", "path": str(tmp_path), "format": fmt}
    spec_in = SourceSpec("t", "filesystem", options, COLS, bounded=True, partition_keys=KEYS)
    source = FileSystemSource(spec_in, ctx())
    got = sorted((r["v"], r["dt"], r["hr"]) for r in read_all(source).to_pylist())
    assert got == rows
