import asyncio
import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog.connectors.filesystem import parse_memory_size
from catalog.errors import OptionError
from planner.physical import ROW_KIND_COLUMN
from runtime.connectors.filesystem import source as source_module
from runtime.connectors.filesystem.sink import FileSystemSink
from runtime.connectors.filesystem.source import FileSystemSource
from runtime.connectors.registry import create_sink, create_source
from runtime.formats import FormatError

from .helpers import ctx, drain, fields, read_all, sink_spec, source_spec, write_all

COLS = fields("id BIGINT", "name STRING", "ts TIMESTAMP(3)", "x DOUBLE")


def rows(n: int, start: int = 0) -> list[dict]:
    base = dt.datetime(2020, 4, 15, 8, 5)
    return [
        {"id": i, "name": f"n{i}", "ts": base + dt.timedelta(milliseconds=i), "x": i / 2}
        for i in range(start, start + n)
    ]


def json_lines(rs: list[dict]) -> str:
    return "".join(json.dumps({**r, "ts": r["ts"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]}) + "\n" for r in rs)


def source(path: Path | str, fmt: str, cols=COLS, subtask: int = 0, parallelism: int = 1, **options: str):
    opts = {"path": str(path), "format": fmt, **{k.replace("_", "-"): v for k, v in options.items()}}
    return FileSystemSource(source_spec("filesystem", opts, cols), ctx(subtask, parallelism))


def test_reads_a_json_file_in_chunks(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text(json_lines(rows(1000)))
    src = source(f, "json")
    t = read_all(src, max_rows=300)
    assert t.to_pylist() == rows(1000)
    assert src.metrics.records_in == 1000
    assert isinstance(create_source(src.spec, ctx()), FileSystemSource)


def test_reads_csv_with_header_and_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('id,name,ts,x\n1,a,2020-04-15 08:05:00,1.5\n\n2,"b,c",2020-04-15 08:05:01.250,2\n')
    t = read_all(source(f, "csv", **{"csv.header": "true"}))
    assert t.to_pylist() == [
        {"id": 1, "name": "a", "ts": dt.datetime(2020, 4, 15, 8, 5), "x": 1.5},
        {"id": 2, "name": "b,c", "ts": dt.datetime(2020, 4, 15, 8, 5, 1, 250000), "x": 2.0},
    ]


def test_reads_parquet_by_column_name(tmp_path: Path) -> None:
    table = pa.Table.from_pylist(rows(70_000)).select(["x", "ts", "id", "name"])
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=30_000)
    src = source(tmp_path / "a.parquet", "parquet")
    t = read_all(src, max_rows=25_000)
    assert t.column_names == ["id", "name", "ts", "x"]
    assert t.num_rows == 70_000 and t.column("id").to_pylist() == list(range(70_000))


def test_directory_scan_sorted_hidden_skipped_regex_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.json").write_text(json_lines(rows(2, 10)))
    (tmp_path / "a.json").write_text(json_lines(rows(2, 0)))
    (tmp_path / "sub" / "c.json").write_text(json_lines(rows(2, 20)))
    (tmp_path / ".hidden.json").write_text("garbage\n")
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / "skip.txt").write_text("garbage\n")
    cols = (*COLS, *fields("path STRING NOT NULL", "fname STRING NOT NULL"))
    meta = {"path": "file.path", "fname": "file.name"}
    opts = {"path": str(tmp_path), "format": "json", "source.path.regex-pattern": r".*\.json"}
    src = FileSystemSource(source_spec("filesystem", opts, cols, metadata=meta), ctx())
    t = read_all(src)
    assert t.column("id").to_pylist() == [0, 1, 10, 11, 20, 21]
    assert t.column("fname").to_pylist() == ["a.json"] * 2 + ["b.json"] * 2 + ["c.json"] * 2
    assert t.column("path").to_pylist()[-1] == str(tmp_path / "sub" / "c.json")


def test_files_are_split_over_subtasks(tmp_path: Path) -> None:
    for k in range(5):
        (tmp_path / f"{k}.json").write_text(json_lines(rows(3, 10 * k)))
    got = [
        read_all(source(tmp_path, "json", subtask=i, parallelism=2)).column("id").to_pylist() for i in (0, 1)
    ]
    assert sorted(got[0] + got[1]) == sorted(r["id"] for k in range(5) for r in rows(3, 10 * k))
    assert not set(got[0]) & set(got[1])
    assert len(got[0]) == 9 and len(got[1]) == 6


def test_bad_records_skipped_and_counted(tmp_path: Path) -> None:
    lines = json_lines(rows(5000)).splitlines()
    lines[10] = "{broken"
    lines[4321] = '{"id": "not a number"}'
    (tmp_path / "a.json").write_text("\n".join(lines) + "\n")
    src = source(tmp_path / "a.json", "json", **{"json.ignore-parse-errors": "true"})
    t = read_all(src, max_rows=2000)
    # the broken line is skipped; the bad id is NULL in a row that is kept, as in Flink
    assert t.num_rows == 4999
    assert src.metrics.bad_records_skipped == 1 and src.metrics.bad_fields_nulled == 1
    assert src.metrics.records_in == 4999
    ids = t.column("id").to_pylist()
    assert 10 not in ids and 4321 not in ids and ids[4320] is None


def test_bad_record_fails_naming_file_and_line(tmp_path: Path) -> None:
    lines = json_lines(rows(3000)).splitlines()
    lines[2500] = '{"id": 1, "ts": "not a time"}'
    f = tmp_path / "a.json"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError) as e:
        read_all(source(f, "json"), max_rows=1000)
    assert f"{f}, line 2501" in str(e.value)


def test_a_poll_for_four_chunks_reads_them_at_once_naming_lines_past_the_first(tmp_path: Path) -> None:
    """What a bounded source feeding a GROUP BY asks for (four 64k chunks) comes in one
    read; a bad line deep in it is still named by its own line number, and skipped rows
    are the only ones missing."""
    n = 4 * 65536 + 1000
    lines = json_lines(rows(n)).splitlines()
    lines[200_000] = '{"id": 1, "ts": "2020-04-15 08:05"'
    f = tmp_path / "a.json"
    f.write_text("\n".join(lines) + "\n")
    src = source(f, "json", **{"json.ignore-parse-errors": "true"})
    batches = asyncio.run(drain(src, 4 * 65536))
    assert [b.num_rows for b in batches] == [4 * 65536 - 1, 1000]
    assert pa.Table.from_batches(batches).column("id").to_pylist() == [i for i in range(n) if i != 200_000]
    with pytest.raises(FormatError) as e:
        read_all(source(f, "json"), max_rows=4 * 65536)
    assert f"{f}, line 200001" in str(e.value)


def test_position_and_restore_mid_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json_lines(rows(100)))
    (tmp_path / "b.json").write_text(json_lines(rows(100, 100)))

    async def part() -> tuple[list[int], dict]:
        src = source(tmp_path, "json")
        await src.open()
        ids: list[int] = []
        while len(ids) < 130:
            b = await src.poll(10)
            ids += b.column("id").to_pylist()
        return ids, src.position()

    ids, pos = asyncio.run(part())
    assert pos["done"] == [str(tmp_path / "a.json")] and pos["current"] == str(tmp_path / "b.json")
    assert pos["line"] == 31
    src = source(tmp_path, "json")
    src.restore(json.loads(json.dumps(pos)))
    rest = read_all(src).column("id").to_pylist()
    assert ids + rest == list(range(200))


@pytest.mark.parametrize("fmt", ["json", "csv", "csv records", "raw"])
def test_rows_read_earlier_keep_their_values_while_later_chunks_are_read(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source reads each chunk into one of two buffers it reuses, the next chunk's
    while the last is decoded: a batch handed on must not see its bytes overwritten, and
    the position must stay at the end of the rows handed on."""
    monkeypatch.setattr(source_module, "_READ_BLOCK", 64)  # many reads per chunk
    names = [f"{i:05d}-" + chr(97 + i % 26) * (i % 40) for i in range(3000)]
    cols = fields("id BIGINT", "name STRING")
    if fmt == "json":
        records = [json.dumps({"id": i, "name": n}) + "\n" for i, n in enumerate(names)]
    elif fmt == "csv":  # each record one line: a chunk is read at once, as json's are
        records = [f'{i},"{n}"\n' for i, n in enumerate(names)]
    elif fmt == "csv records":  # quoted fields, some over two lines: records, not lines
        names = [n + ("\n" if i % 7 == 0 else "") for i, n in enumerate(names)]
        records = [f'{i},"{n}"\n' for i, n in enumerate(names)]
    else:
        records = [n + "\n" for n in names]
        cols = fields("name STRING")
    f = tmp_path / "a.txt"
    f.write_text("".join(records))

    async def everything() -> list[pa.RecordBatch]:
        src = source(f, fmt.split()[0], cols=cols)
        await src.open()
        batches: list[pa.RecordBatch] = []
        while not src.finished:
            if (b := await src.poll(97)) is not None and b.num_rows:
                batches.append(b)
                read = sum(len(b) for b in batches)
                if read < len(records):
                    assert src.position()["offset"] == len("".join(records[:read]).encode())
        await src.close()
        return batches

    batches = asyncio.run(everything())
    assert len(batches) > 20
    assert [v for b in batches for v in b.column("name").to_pylist()] == names


def test_parquet_restore_mid_file(tmp_path: Path) -> None:
    pq.write_table(pa.Table.from_pylist(rows(100)), tmp_path / "a.parquet", row_group_size=40)

    async def part() -> dict:
        src = source(tmp_path, "parquet")
        await src.open()
        await src.poll(30)
        await src.poll(30)
        return src.position()

    pos = asyncio.run(part())
    assert pos["row"] == 60
    src = source(tmp_path, "parquet")
    src.restore(pos)
    assert read_all(src).column("id").to_pylist() == list(range(60, 100))


def test_monitor_interval_picks_up_new_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json_lines(rows(3)))

    async def run() -> list[int]:
        src = source(tmp_path, "json", **{"source.monitor-interval": "10 ms"})
        await src.open()
        ids: list[int] = []
        for _ in range(200):
            b = await src.poll(100)
            if b is not None:
                ids += b.column("id").to_pylist()
            if len(ids) == 3 and not (tmp_path / "b.json").exists():
                (tmp_path / ".b.json.tmp").write_text(json_lines(rows(2, 50)))
                os.rename(tmp_path / ".b.json.tmp", tmp_path / "b.json")
            if len(ids) == 5:
                break
            await asyncio.sleep(0.005)
        assert not src.finished
        return ids

    assert asyncio.run(run()) == [0, 1, 2, 50, 51]


def test_missing_path_and_bad_metadata_are_errors(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="does not exist"):
        read_all(source(tmp_path / "nope", "json"))
    with pytest.raises(OptionError, match=r"file\.size"):
        FileSystemSource(
            source_spec(
                "filesystem",
                {"path": str(tmp_path), "format": "json"},
                (*COLS, *fields("s BIGINT")),
                metadata={"s": "file.size"},
            ),
            ctx(),
        )
    with pytest.raises(OptionError, match=r"did you mean 'json\.ignore-parse-errors'"):
        source(tmp_path, "json", **{"json.ignore-parse-error": "true"})


# ---- sink -------------------------------------------------------------------------------


def batches(n: int, size: int) -> list[pa.RecordBatch]:
    table = pa.Table.from_pylist(rows(n))
    return table.to_batches(max_chunksize=size)


def read_back(path: Path, fmt: str) -> list[dict]:
    con = duckdb.connect()
    pattern = str(path / f"part-*.{fmt}")
    reader = {"json": "read_json", "csv": "read_csv", "parquet": "read_parquet"}[fmt]
    extra = ", columns = {'id': 'BIGINT', 'name': 'VARCHAR', 'ts': 'TIMESTAMP', 'x': 'DOUBLE'}"
    if fmt == "parquet":
        extra = ""
    elif fmt == "csv":
        extra += ", header = false"
    return con.sql(f"SELECT * FROM {reader}('{pattern}'{extra}) ORDER BY id").to_arrow_table().to_pylist()


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_sink_writes_files_duckdb_reads_back(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    sink = FileSystemSink(sink_spec("filesystem", {"path": str(out), "format": fmt}, COLS), ctx(1, 2))
    write_all(sink, batches(5000, 700))
    assert read_back(out, fmt) == rows(5000)
    names = os.listdir(out)
    assert len(names) == 1 and names[0].startswith("part-") and names[0].endswith(f"-1-0.{fmt}")
    assert sink.rows_written == 5000
    # and the filesystem source reads what the sink wrote
    assert read_all(source(out, fmt)).to_pylist() == rows(5000)


def test_sink_in_progress_until_flush_then_rolls_by_size(tmp_path: Path) -> None:
    spec = sink_spec(
        "filesystem", {"path": str(tmp_path), "format": "json", "sink.rolling-policy.file-size": "10kb"}, COLS
    )
    sink = create_sink(spec, ctx())
    assert isinstance(sink, FileSystemSink)

    async def run() -> None:
        await sink.open()
        await sink.write(batches(10, 10)[0])
        visible = [n for n in os.listdir(tmp_path) if not n.startswith(".")]
        assert visible == [] and len(os.listdir(tmp_path)) == 1  # only the in-progress file
        await sink.flush()
        assert len([n for n in os.listdir(tmp_path) if not n.startswith(".")]) == 1
        for b in batches(2000, 100):
            await sink.write(b)
        await sink.close()

    asyncio.run(run())
    names = sorted(os.listdir(tmp_path))
    assert not [n for n in names if n.startswith(".")]
    assert len(names) > 5
    assert all(os.path.getsize(tmp_path / n) < 10 * 1024 + 20_000 for n in names)
    assert sorted(r["id"] for r in read_all(source(tmp_path, "json")).to_pylist()) == sorted(
        list(range(10)) + list(range(2000))
    )


def test_sink_refuses_an_updating_input(tmp_path: Path) -> None:
    sink = FileSystemSink(sink_spec("filesystem", {"path": str(tmp_path), "format": "json"}, COLS), ctx())
    b = batches(3, 3)[0]
    b = b.append_column(ROW_KIND_COLUMN, pa.array([0, 1, 2], pa.int8()))
    with pytest.raises(FormatError, match="updating stream"):
        write_all(sink, [b])


def test_csv_sink_header_and_memory_sizes(tmp_path: Path) -> None:
    opts = {"path": str(tmp_path), "format": "csv", "csv.header": "true"}
    write_all(FileSystemSink(sink_spec("filesystem", opts, COLS), ctx()), batches(3, 3))
    (name,) = os.listdir(tmp_path)
    assert (tmp_path / name).read_text().splitlines()[0] == "id,name,ts,x"
    assert read_all(source(tmp_path, "csv", **{"csv.header": "true"})).to_pylist() == rows(3)
    assert parse_memory_size("128MB", "k") == 128 << 20
    assert parse_memory_size("1 kb", "k") == 1024
    with pytest.raises(OptionError):
        parse_memory_size("lots", "k")


def test_blank_and_whitespace_lines_are_not_records(tmp_path: Path) -> None:
    lines = json_lines(rows(100)).splitlines()
    lines[5] = "   "
    lines[50] = ""
    f = tmp_path / "a.json"
    f.write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode())
    src = source(f, "json")
    t = read_all(src)
    assert t.num_rows == 98 and src.metrics.bad_records_skipped == 0


def test_reads_compressed_files(tmp_path: Path) -> None:
    import gzip

    with gzip.open(tmp_path / "a.json.gz", "wt") as f:
        f.write(json_lines(rows(500)))
    assert read_all(source(tmp_path, "json"), max_rows=128).to_pylist() == rows(500)


def test_monitored_files_split_by_hash_over_subtasks(tmp_path: Path) -> None:
    for k in range(8):
        (tmp_path / f"{k}.json").write_text(json_lines(rows(1, k)))

    async def first_rows(subtask: int) -> list[int]:
        src = source(tmp_path, "json", subtask=subtask, parallelism=2, **{"source.monitor-interval": "1 h"})
        await src.open()
        ids: list[int] = []
        while (b := await src.poll(100)) is not None:
            ids += b.column("id").to_pylist()
        await src.close()
        return ids

    a, b = asyncio.run(first_rows(0)), asyncio.run(first_rows(1))
    assert sorted(a + b) == list(range(8)) and not set(a) & set(b)


def test_lines_that_are_not_one_object_each_are_bad_records_with_their_line(tmp_path: Path) -> None:
    # Each of these decodes as a whole block to as many rows as there are lines, or to
    # none: the source must still find them record by record and name their lines.
    lines = json_lines(rows(300)).splitlines()
    lines[7] = '{"id": 7}{"id": 8}'  # Flink reads the first object of a line, as we do
    lines[200] = '{"id": 200,'
    lines[201] = '"name": "x"}'
    f = tmp_path / "a.json"
    f.write_text("\n".join(lines))  # no newline after the last line
    src = source(f, "json", **{"json.ignore-parse-errors": "true"})
    ids = read_all(src, max_rows=100).column("id").to_pylist()
    assert ids == [i for i in range(300) if i not in (200, 201)]
    assert src.metrics.bad_records_skipped == 2
    with pytest.raises(FormatError) as e:
        read_all(source(f, "json"), max_rows=100)
    assert f"{f}, line 201" in str(e.value)


def test_not_null_column_missing_in_a_clean_block_names_the_line(tmp_path: Path) -> None:
    lines = json_lines(rows(500)).splitlines()
    lines[321] = '{"name": "no id"}'
    f = tmp_path / "a.json"
    f.write_text("\n".join(lines) + "\n")
    cols = fields("id BIGINT NOT NULL", "name STRING", "ts TIMESTAMP(3)", "x DOUBLE")
    with pytest.raises(FormatError) as e:
        read_all(source(f, "json", cols=cols), max_rows=1000)
    assert f"{f}, line 322" in str(e.value)


def test_position_is_the_byte_offset_of_the_next_line(tmp_path: Path) -> None:
    text = json_lines(rows(100))
    (tmp_path / "a.json").write_text(text)

    async def first_chunk() -> dict:
        src = source(tmp_path / "a.json", "json")
        await src.open()
        await src.poll(40)
        return src.position()

    pos = asyncio.run(first_chunk())
    assert pos["line"] == 41
    assert pos["offset"] == len("".join(text.splitlines(keepends=True)[:40]).encode())


def test_csv_with_header_reads_in_blocks_and_names_a_bad_line(tmp_path: Path) -> None:
    body = "".join(f"{i},n{i},2020-04-15 08:05:00,{i / 2}\r\n" for i in range(400))
    f = tmp_path / "a.csv"
    f.write_text("id,name,ts,x\r\n" + body, newline="")
    got = read_all(source(f, "csv", **{"csv.header": "true"}), max_rows=128).column("id").to_pylist()
    assert got == list(range(400))
    lines = body.splitlines(keepends=True)
    lines[250] = "not a number,x,2020-04-15 08:05:00,1\r\n"
    f.write_text("id,name,ts,x\r\n" + "".join(lines), newline="")
    with pytest.raises(FormatError) as e:
        read_all(source(f, "csv", **{"csv.header": "true"}), max_rows=128)
    assert f"{f}, line 252" in str(e.value)
