"""CSV records whose quoted fields hold line breaks (``runtime/formats/csv_records.py``): what the csv sink
writes for a STRING with a line break (and what Flink writes and reads) must come back
whole and equal from the filesystem source, whatever the chunk sizes, at every restore
point and at any parallelism; a quote that is never closed is a bad record."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import sqlstream
from catalog.options import OptionBag
from runtime.connectors.filesystem import source as source_module
from runtime.connectors.filesystem import splits
from runtime.formats import FormatError
from runtime.formats.csv import CsvDecoder
from tests.unit.checkpoint.test_source_rescale import read_some

from .helpers import fields, read_all
from .test_filesystem import source

COLS = fields("id BIGINT", "a STRING", "b STRING")
IGNORE = {"csv.ignore-parse-errors": "true"}
TEXTS = ["plain", "two\nlines", "crlf\r\nx", 'q"uote\n,', "\n", "", 'a "b" c', "x,\r\ny\n\nz", "é\n"]


def rows_of(table: Any) -> list[tuple[Any, ...]]:
    return [(r["id"], r["a"], r["b"]) for r in table.to_pylist()] if table.num_rows else []


def write_csv(path: Path, records: list[tuple[Any, ...]], **dialect: Any) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, **dialect).writerows(records)
    data = out.getvalue().encode("utf-8")
    path.write_bytes(data)
    return data


def python_reads(data: bytes, **dialect: Any) -> list[tuple[Any, ...]]:
    """What Python's csv module reads from the file: the oracle (for a well-formed file
    it reads quoted line breaks as Jackson, Flink's parser, does)."""
    return [
        (int(r[0]), r[1], r[2]) for r in csv.reader(io.StringIO(data.decode("utf-8"), newline=""), **dialect)
    ]


@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize("ignore", ["false", "true"])
def test_rows_with_line_breaks_round_trip_through_a_csv_table(
    tmp_path: Path, ignore: str, parallelism: int
) -> None:
    expected = [(i, text, f"{i}\r\n" if i % 3 == 0 else str(i)) for i, text in enumerate(TEXTS)]
    values = ", ".join(f"({i}, {sql_text(a)}, {sql_text(b)})" for i, a, b in expected)
    with sqlstream.connect(config={"parallelism.default": str(parallelism)}) as s:
        s.execute(
            f"CREATE TABLE t (id BIGINT, a STRING, b STRING) WITH ('connector' = 'filesystem', "
            f"'path' = '{tmp_path}', 'format' = 'csv', 'csv.ignore-parse-errors' = '{ignore}')"
        )
        job = s.execute(f"INSERT INTO t VALUES {values}").job
        assert job.wait(60) and job.error is None
        written = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert b'"two\nlines"' in written and b'"crlf\r\nx"' in written  # as Flink writes them
        assert sorted(s.sql("SELECT id, a, b FROM t").fetchall()) == expected


def sql_text(text: str) -> str:
    """A SQL expression of ``text``, its line breaks written as ``chr(10)`` and ``chr(13)``."""
    pieces = re.split(r"(\r|\n)", text)
    return " || ".join(
        f"chr({ord(p)})" if p in ("\r", "\n") else "'" + p.replace("'", "''") + "'" for p in pieces
    )


FIELD = st.lists(st.sampled_from(['"', ",", "\n", "\r\n", " ", "x", "é", "\\", "#"]), max_size=6).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.tuples(FIELD, FIELD), max_size=40),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    terminator=st.sampled_from(["\n", "\r\n"]),
    escape=st.booleans(),
    last_newline=st.booleans(),
    max_rows=st.integers(1, 50),
    read_block=st.sampled_from([1, 7, 64, 1 << 20]),
)
@example(
    texts=[("a\nb", "c"), ("", '"\n"')],
    quoting=csv.QUOTE_MINIMAL,
    terminator="\n",
    escape=False,
    last_newline=False,
    max_rows=1,
    read_block=1,
)
def test_records_are_what_pythons_csv_module_reads_whatever_the_chunks(
    tmp_path_factory: pytest.TempPathFactory,
    texts: list[tuple[str, str]],
    quoting: int,
    terminator: str,
    escape: bool,
    last_newline: bool,
    max_rows: int,
    read_block: int,
) -> None:
    dialect: dict[str, Any] = {"quoting": quoting, "lineterminator": terminator}
    options = {}
    if escape:  # quotes escaped instead of doubled, as Jackson reads them with an escape character
        dialect.update(escapechar="\\", doublequote=False)
        options["csv.escape-character"] = "\\"  # one backslash, as Flink users write it
    f = tmp_path_factory.mktemp("c") / "a.csv"
    data = write_csv(f, [(i, a, b) for i, (a, b) in enumerate(texts)], **dialect)
    if not last_newline and data.endswith(terminator.encode()):
        data = data[: -len(terminator)]
        f.write_bytes(data)
    saved = source_module._READ_BLOCK
    source_module._READ_BLOCK = read_block
    try:
        src = source(f, "csv", cols=COLS, **options)
        got = rows_of(read_all(src, max_rows=max_rows))
    finally:
        source_module._READ_BLOCK = saved
    assert got == python_reads(data, **dialect)
    assert src.metrics.bad_records_skipped == 0


def test_a_restore_at_every_record_boundary_reads_the_rest_once(tmp_path: Path) -> None:
    records = [(i, TEXTS[i % len(TEXTS)], "x" if i % 2 else "y\ny") for i in range(30)]
    f = tmp_path / "a.csv"
    data = write_csv(f, records)
    texts = []  # each record as written, its line break included
    for r in records:
        one = io.StringIO(newline="")
        csv.writer(one).writerow(r)
        texts.append(one.getvalue())
    assert "".join(texts).encode() == data
    for n in range(len(records) + 1):

        async def first(n: int = n) -> tuple[list[int], dict]:
            src = source(f, "csv", cols=COLS)
            await src.open()
            ids: list[int] = []
            while len(ids) < n:
                b = await src.poll(1)  # one record at a time: every boundary is a position
                ids += b.column("id").to_pylist()
            return ids, src.position()

        ids, pos = asyncio.run(first())
        assert ids == list(range(n))
        if 0 < n < len(records):  # a position at the first byte and line of record n
            assert pos["offset"] == len("".join(texts[:n]).encode())
            assert pos["line"] == 1 + "".join(texts[:n]).count("\n")
        src = source(f, "csv", cols=COLS)
        src.restore(pos)
        assert ids + [r[0] for r in rows_of(read_all(src, 7))] == list(range(len(records)))


def test_a_bad_record_is_named_by_its_first_line(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('1,"a\nb",c\nnot a number,"x\ny",z\n3,d,e\n', newline="")
    with pytest.raises(FormatError) as e:
        read_all(source(f, "csv", cols=COLS))
    assert f"{f}, line 3" in str(e.value)
    src = source(f, "csv", cols=COLS, **{"csv.ignore-parse-errors": "true"})
    # as in Flink, the bad number is NULL in a row that is kept
    assert rows_of(read_all(src)) == [(1, "a\nb", "c"), (None, "x\ny", "z"), (3, "d", "e")]
    assert src.metrics.bad_records_skipped == 0 and src.metrics.bad_fields_nulled == 1


def test_a_quote_inside_an_unquoted_field_is_a_character(tmp_path: Path) -> None:
    # as Jackson, pyarrow and Python read it: only a quote that starts a field opens one
    f = tmp_path / "a.csv"
    f.write_text('1,12" pipe,x\n2,"y\nz",3"\n3,a,b\n')
    assert rows_of(read_all(source(f, "csv", cols=COLS), 1)) == [
        (1, '12" pipe', "x"),
        (2, "y\nz", '3"'),
        (3, "a", "b"),
    ]


def test_an_unterminated_quote_at_the_end_of_the_file_is_a_bad_record(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('1,a,b\n2,"x\ny\n3,c,d\n')
    with pytest.raises(
        FormatError, match="line 2: a quoted field is not closed before the end of the file"
    ) as e:
        read_all(source(f, "csv", cols=COLS))
    assert str(f) in str(e.value)
    for max_rows in (1, 100):
        src = source(f, "csv", cols=COLS, **{"csv.ignore-parse-errors": "true"})
        assert rows_of(read_all(src, max_rows)) == [(1, "a", "b")]
        assert src.metrics.bad_records_skipped == 1


def test_a_quote_open_for_too_long_fails_instead_of_reading_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(source_module, "_READ_BLOCK", 256)
    f = tmp_path / "a.csv"
    f.write_text('1,a,b\n2,"x,y\n' + "".join(f"{i},c,d\n" for i in range(3, 1000)))
    src = source(f, "csv", cols=COLS, **{"csv.ignore-parse-errors": "true"})
    with pytest.raises(FormatError, match="line 2: a quoted field is still open 0 MB further on"):
        read_all(src, 10)


def test_a_quoted_csv_file_is_read_whole_by_one_subtask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Flink's csv reader format is not splittable; a range cut inside "..\n.." would
    # start at a line inside a value
    monkeypatch.setattr(splits, "SPLIT_MIN_BYTES", 1)
    records = [(i, TEXTS[i % len(TEXTS)], "b") for i in range(300)]
    data = write_csv(tmp_path / "a.csv", records[:150])
    write_csv(tmp_path / "b.csv", records[150:])
    for p in (2, 3):
        got = [
            rows_of(read_all(source(tmp_path, "csv", cols=COLS, subtask=i, parallelism=p), 40))
            for i in range(p)
        ]
        assert sorted(r for g in got for r in g) == sorted(records)
        assert sorted(map(len, got), reverse=True)[:2] == [150, 150]  # a file each
    assert python_reads(data) == records[:150]


@pytest.mark.parametrize("older", [False, True])
def test_positions_of_a_quoted_csv_file_at_parallelism_2_restore_each_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, older: bool
) -> None:
    # ``older``: a checkpoint of a version that cut quoted csv files into ranges too (made
    # here by reading without quoting): every subtask cuts the same ranges again and reads
    # on line by line as that version did, each record once, none refused as changed
    monkeypatch.setattr(splits, "SPLIT_MIN_BYTES", 1)
    records = [(i, f"n{i}", "b") for i in range(400)]
    write_csv(tmp_path / "a.csv", records[:250])
    write_csv(tmp_path / "b.csv", records[250:])
    first = {"csv.disable-quote-character": "true"} if older else {}
    before, positions = [], []
    for i, n in enumerate((50, 120)):
        ids, pos = asyncio.run(
            read_some(source(tmp_path, "csv", cols=COLS, subtask=i, parallelism=2, **first), n)
        )
        assert ("\0" in pos["current"]) == older and pos.get("csv_whole") is (None if older else True)
        before += ids
        positions.append(pos)
    for rescaled in (False, True):
        after = []
        for i in range(2):
            src = source(tmp_path, "csv", cols=COLS, subtask=i, parallelism=2)
            if rescaled:
                src.restore_rescaled(positions)
            else:
                src.restore(positions[i])
            after += [r[0] for r in rows_of(read_all(src, 30))]
        assert sorted(before + after) == list(range(400))


def test_values_with_quoted_line_breaks_decode_and_bad_ones_stay_bad() -> None:
    # a Kafka value is one record: a line break in a quoted field is part of it, but two
    # bad values must not be read together as rows (the second closing the first's quote)
    decoder = CsvDecoder(fields("a BIGINT", "b STRING", "c STRING", "d STRING"), OptionBag(dict(IGNORE), "t"))
    good = [b'%d,"x\ny",z,"w\r\n"' % i for i in range(40)]
    assert decoder.decode_values(good).batch.to_pylist() == [
        {"a": i, "b": "x\ny", "c": "z", "d": "w\r\n"} for i in range(40)
    ]
    bad = [b'1,a"b,"c', b'd",e"\n3,f,g,h'] * 20  # each alone: an open quote; text after a record
    decoded = decoder.decode_values(bad)
    assert decoded.batch.num_rows == 0 and decoded.skipped == 40


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ('id,a,b\n1,"x\ny",z\n2,p,q\n', {"csv.header": "true"}),
        ('"i\nd",a,b\n1,"x\ny",z\n2,p,q\n', {"csv.header": "true"}),  # the header is one record too
        ('# it\'s "odd\n1,"x\ny",z\n#c\n2,p,q\n', {"csv.allow-comments": "true"}),  # no quote in comments
        ('1,"x\n\ny",z\n\n2,p,q\n\n', {}),  # a blank line in a value is not a blank line
        ('1,"x\n\ny",z\r\n\r\n2,p,q', {}),
        ('1;"x\ny";z\n2;p;q\n', {"csv.field-delimiter": ";"}),
        ("1,'x\ny',z\n2,p,q\n", {"csv.quote-character": "'"}),
    ],
)
def test_options_that_shape_records(tmp_path: Path, text: str, options: dict[str, str]) -> None:
    f = tmp_path / "a.csv"
    f.write_text(text, newline="")
    value = "x\ny" if "\n\n" not in text else "x\n\ny"
    for max_rows in (1, 100):
        src = source(f, "csv", cols=COLS, **options)
        assert rows_of(read_all(src, max_rows)) == [(1, value, "z"), (2, "p", "q")]
        assert src.metrics.bad_records_skipped == 0


ESCAPED = ["a\\b", "trailing\\", "\\\\double", "lit\\n", 'q\\"', "\\", "x,\\", "plain"]


@pytest.mark.parametrize("escape", ["\\", "#"])
def test_values_holding_the_escape_character_round_trip(tmp_path: Path, escape: str) -> None:
    """With 'csv.escape-character' set, the reader takes the character as an escape, so
    the sink must escape it in a value: written bare, 'a\\b' came back as 'ab' and
    'trailing\\' swallowed its closing quote. Flink 2.3 writes these values as here, byte
    for byte (checked with its filesystem sink: `1,"a\\\\b"`, `3,"q\\\\""x"`)."""
    expected = [(i, text.replace("\\", escape), str(i)) for i, text in enumerate(ESCAPED)]
    values = ", ".join(f"({i}, {sql_text(a)}, {sql_text(b)})" for i, a, b in expected)
    with sqlstream.connect() as s:
        s.execute(
            f"CREATE TABLE t (id BIGINT, a STRING, b STRING) WITH ('connector' = 'filesystem', "
            f"'path' = '{tmp_path}', 'format' = 'csv', 'csv.escape-character' = '{escape}')"
        )
        job = s.execute(f"INSERT INTO t VALUES {values}").job
        assert job.wait(60) and job.error is None
        written = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert f'0,"a{escape * 2}b",0'.encode() in written
        assert sorted(s.sql("SELECT id, a, b FROM t").fetchall()) == expected
