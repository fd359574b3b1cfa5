"""One big file read by several subtasks, each its own byte range (``splits.py``): every
line exactly once, bad records named by their line, positions that restore exactly at the
same and at another parallelism."""

import asyncio
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.errors import OptionError
from runtime.connectors.filesystem import source as source_module
from runtime.connectors.filesystem import splits
from runtime.formats import FormatError
from tests.unit.checkpoint.test_source_rescale import read_some

from .helpers import fields, read_all
from .test_filesystem import json_lines, rows, source

_RAW = fields("line STRING")


@pytest.fixture(autouse=True)
def small_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(splits, "SPLIT_MIN_BYTES", 1)


def column(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist() if table.num_rows else []


def ids_of(path: Path, parallelism: int, max_rows: int = 50, **options: str) -> list[list[int]]:
    return [
        column(read_all(source(path, "json", subtask=i, parallelism=parallelism, **options), max_rows), "id")
        for i in range(parallelism)
    ]


def test_one_file_is_read_by_every_subtask_each_line_once(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text(json_lines(rows(1000)))
    for p in (2, 3):
        got = ids_of(f, p)
        assert all(len(g) > 200 for g in got)  # each subtask read its share
        assert sorted(got[0] + got[1] + (got[2] if p == 3 else [])) == list(range(1000))
        assert got == [sorted(g) for g in got]  # in file order within a range


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 30), min_size=0, max_size=40),
    parallelism=st.integers(2, 5),
    trailing_newline=st.booleans(),
)
def test_ranges_partition_the_lines_wherever_the_cuts_fall(
    tmp_path_factory: pytest.TempPathFactory, lengths: list[int], parallelism: int, trailing_newline: bool
) -> None:
    # raw lines of any length, empty ones too (records of the raw format): the lines the
    # ranges return, in range order, are what one reader of the whole file returns
    lines = ["" if n == 0 and k < len(lengths) - 1 else f"{k}:" + "x" * n for k, n in enumerate(lengths)]
    text = "\n".join(lines) + ("\n" if trailing_newline and lines else "")
    f = tmp_path_factory.mktemp("r") / "a.txt"
    f.write_text(text)
    got: list[str] = []
    for i in range(parallelism):
        got += column(read_all(source(f, "raw", cols=_RAW, subtask=i, parallelism=parallelism), 7), "line")
    assert got == column(read_all(source(f, "raw", cols=_RAW), 7), "line") == lines


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 30), min_size=0, max_size=40),
    parallelism=st.integers(1, 3),
    max_rows=st.integers(1, 9),
    read_block=st.integers(1, 64),
)
def test_reads_sized_from_the_line_length_return_each_line_once_with_its_offset(
    tmp_path_factory: pytest.TempPathFactory,
    lengths: list[int],
    parallelism: int,
    max_rows: int,
    read_block: int,
) -> None:
    # the reader asks for about what the next chunk's lines take (the mean line length so
    # far); however far that guess is off, the lines come back whole, once each, and the
    # position after each batch is the byte offset and number of the next line
    lines = [f"{k}:" + "x" * n for k, n in enumerate(lengths)]
    data = "".join(line + "\n" for line in lines).encode()
    f = tmp_path_factory.mktemp("r") / "a.txt"
    f.write_bytes(data)
    saved = source_module._READ_BLOCK
    source_module._READ_BLOCK = read_block
    try:
        got: list[str] = []
        for i in range(parallelism):

            async def drain(src: source_module.FileSystemSource) -> None:
                await src.open()
                while not src.finished:
                    batch = await src.poll(max_rows)
                    if batch is None or not batch.num_rows:
                        continue
                    assert batch.num_rows <= max_rows
                    got.extend(batch.column("line").to_pylist())
                    pos = src.position()
                    if pos["current"] is not None and pos.get("line") is not None:
                        k = int(got[-1].partition(":")[0]) + 1  # the next line's index
                        assert pos["line"] == k + 1
                        assert pos["offset"] == len("".join(line + "\n" for line in lines[:k]).encode())
                await src.close()

            asyncio.run(drain(source(f, "raw", cols=_RAW, subtask=i, parallelism=parallelism)))
    finally:
        source_module._READ_BLOCK = saved
    assert got == lines


def test_a_bad_record_in_a_later_range_names_its_line(tmp_path: Path) -> None:
    lines = json_lines(rows(2000)).splitlines()
    lines[1700] = '{"id": "not a number"}'
    f = tmp_path / "a.json"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError) as e:
        read_all(source(f, "json", subtask=1, parallelism=2), 100)
    assert f"{f}, line 1701" in str(e.value)
    nulled = source(f, "json", subtask=1, parallelism=2, **{"json.ignore-parse-errors": "true"})
    ids = read_all(nulled, 100).column("id").to_pylist()
    assert 1700 not in ids and None in ids  # the row is kept, its bad id NULL (Flink)
    assert nulled.metrics.bad_records_skipped == 0 and nulled.metrics.bad_fields_nulled == 1


def test_csv_header_is_skipped_once(tmp_path: Path) -> None:
    # without quoting a csv record is a line, and the file is cut; with it (the default) a
    # quoted field may hold a line break, and one subtask reads the whole file
    f = tmp_path / "a.csv"
    f.write_text("id,name,ts,x\n" + "".join(f"{i},n{i},2020-04-15 08:05:00,{i / 2}\n" for i in range(500)))
    header = {"csv.header": "true", "csv.disable-quote-character": "true"}
    got = [column(read_all(source(f, "csv", subtask=i, parallelism=2, **header), 64), "id") for i in (0, 1)]
    assert got[0] and got[1] and got[0] + got[1] == list(range(500))
    header = {"csv.header": "true"}
    got = [column(read_all(source(f, "csv", subtask=i, parallelism=2, **header), 64), "id") for i in (0, 1)]
    assert got == [list(range(500)), []]


def test_compressed_and_small_files_are_not_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    with gzip.open(tmp_path / "a.json.gz", "wt") as g:
        g.write(json_lines(rows(300)))
    got = ids_of(tmp_path / "a.json.gz", 2)
    assert got == [list(range(300)), []]
    monkeypatch.setattr(splits, "SPLIT_MIN_BYTES", 1 << 20)
    (tmp_path / "b.json").write_text(json_lines(rows(300)))
    assert ids_of(tmp_path / "b.json", 2) == [list(range(300)), []]


@pytest.mark.parametrize("new_parallelism", [2, 1, 3])
def test_positions_mid_range_restore_each_line_once(tmp_path: Path, new_parallelism: int) -> None:
    f = tmp_path / "a.json"
    f.write_text(json_lines(rows(1200)))
    before, positions = [], []
    for i, n in enumerate((120, 320)):  # both subtasks stopped inside their range
        ids, pos = asyncio.run(read_some(source(f, "json", subtask=i, parallelism=2), n))
        assert pos["cut_for"] == 2 and pos["current"] is not None
        before += ids
        positions.append(pos)
    assert positions[1]["line"] is None  # not counted: nobody asked for a line number
    after = []
    for i in range(new_parallelism):
        src = source(f, "json", subtask=i, parallelism=new_parallelism)
        if new_parallelism == 2:
            src.restore(positions[i])
        else:
            src.restore_rescaled(positions)
        after += column(read_all(src, 40), "id")
    assert sorted(before + after) == list(range(1200))


def test_restored_line_numbers_stay_exact(tmp_path: Path) -> None:
    lines = json_lines(rows(1200)).splitlines()
    lines[1100] = "{broken"
    f = tmp_path / "a.json"
    f.write_text("\n".join(lines) + "\n")
    _, pos = asyncio.run(read_some(source(f, "json", subtask=1, parallelism=2), 200))
    src = source(f, "json", subtask=1, parallelism=2)
    src.restore(pos)
    with pytest.raises(FormatError) as e:
        read_all(src, 40)
    assert f"{f}, line 1101" in str(e.value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"{}", b"\n", b"\r", b" "]), max_size=30))
def test_empty_lines_found_from_newline_positions(parts: list[bytes]) -> None:
    # the check the block reader makes equals the byte scans it replaced
    chunk = b"".join(parts)
    before = chunk[:1] in (b"\n", b"\r") or b"\n\n" in chunk or b"\n\r\n" in chunk or chunk.endswith(b"\n\r")
    newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
    assert source_module.has_empty_line(chunk, newlines) == before


def test_a_file_that_changed_size_since_the_checkpoint_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # its ranges would now be cut elsewhere and lines read twice
    f = tmp_path / "a.json"
    f.write_text(json_lines(rows(600)))
    _, pos = asyncio.run(read_some(source(f, "json", subtask=0, parallelism=2), 100))
    with f.open("a") as out:
        out.write(json_lines(rows(10, 600)))
    src = source(f, "json", subtask=0, parallelism=2)
    src.restore(pos)
    with pytest.raises(OptionError, match="changed size since the checkpoint"):
        read_all(src)
    # a file read whole that has grown big enough to be cut since
    monkeypatch.setattr(splits, "SPLIT_MIN_BYTES", 20_000)
    g = tmp_path / "b.json"
    g.write_text(json_lines(rows(100)))
    _, pos = asyncio.run(read_some(source(g, "json", subtask=0, parallelism=2), 30))
    assert pos["current"] == str(g)
    g.write_text(json_lines(rows(600)))
    src = source(g, "json", subtask=0, parallelism=2)
    src.restore(pos)
    with pytest.raises(OptionError, match="changed size since the checkpoint"):
        read_all(src)
