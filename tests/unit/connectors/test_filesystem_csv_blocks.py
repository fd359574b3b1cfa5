"""The csv format's fast path reads a whole block of lines with pyarrow's CSV reader; the
record path splits one line at a time as Flink's reader (Jackson's CSV parser) does. A user
must get the same rows and the same bad records either way, whatever the lines hold:
quotes in odd places, escapes, null literals, booleans and numbers Java refuses, fields too
few or too many. And both must give what Flink gives: the fixed examples below."""

import decimal
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from catalog.options import OptionBag
from runtime.connectors.filesystem import source as source_module
from runtime.connectors.filesystem.source import quoted_records
from runtime.formats.base import FormatError
from runtime.formats.csv import CsvDecoder

from .helpers import fields, read_all
from .test_filesystem import source

COLS = fields("id BIGINT", "name STRING", "x DOUBLE", "ok BOOLEAN", "d DECIMAL(10, 2)")
IGNORE = {"csv.ignore-parse-errors": "true"}

# (options, the delimiter they give): each a way Flink users write csv tables
OPTION_SETS: list[tuple[dict[str, str], str]] = [
    ({}, ","),
    ({"csv.null-literal": "NULL"}, ","),
    ({"csv.escape-character": "\\", "csv.field-delimiter": ";"}, ";"),
    ({"csv.quote-character": "'", "csv.field-delimiter": "\\t", "csv.null-literal": ""}, "\t"),
    ({"csv.disable-quote-character": "true", "csv.allow-comments": "true"}, ","),
    ({"csv.escape-character": "\\", "csv.null-literal": "NULL", "csv.allow-comments": "true"}, ","),
]

# whole values, good and odd: what Java's parsers take or refuse, what pyarrow takes otherwise
VALUES = [
    *["12", "-7", "+3", " 4 ", "007", "1_000", "0x10", "0X1F", "12345678901234567890", "١٢"],
    *["1.5", "1e3", ".5", "5.", "-0.0", "1.5d", "0x1p3", "NaN", "nan", "inf", "-Infinity", "Infinity"],
    "1_0.5",
    *["true", "false", "TRUE", "False", "tRuE", "1", "0", "yes", " true"],
    *["1.555", " 1.5", "1.5 ", "1e2", "+.5", "99999999999"],
    *["", "NULL", '"NULL"', "'NULL'", '""', "''", "null"],
    *['"a,b"', '"x""y"', '"ab"c', '"ab" ', "'ab' ", '"ab', 'a"b', "'a''b'", "a'b", '"a;b"'],
    *["\\n", "a\\,b", "\\\\", '"a\\"b"', "a\\", "#x", "  #x", " a", "\ta"],
]
CHARS = "ab1 0._-xeN\"'\\,;\t#"


# good values of each column, so that most blocks read in bulk and the odd lines are few
GOOD = [
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.text("ab c", max_size=4) | st.sampled_from(['"a,b"', '"x""y"', "'q'", ""]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false"]),
    st.decimals(-(10**7), 10**7, places=2).map(str),
]
ODD = st.sampled_from(VALUES) | st.text(CHARS, max_size=5)


@st.composite
def lines(draw: st.DrawFn, delimiter: str, odd: int) -> str:
    """One line: five fields, good values of their columns but for one in ``odd`` (0: none)
    odd (the values above or short text of quotes, escapes, delimiters), joined by the
    table's delimiter; less often, a line too short or too long, a comment, a blank line or
    one with another delimiter. Many blocks then hold a few odd lines among good ones."""

    def one_in(n: int) -> bool:  # hypothesis draws floats near 0 and 1 far more often
        return n > 0 and draw(st.sampled_from(range(n))) == 0

    if one_in(odd * 4):
        kind = draw(st.sampled_from(["count", "comment", "blank", "other delimiter"]))
    else:
        kind = "fields"
    if kind == "blank":
        return draw(st.sampled_from(["", "  "]))
    if kind == "comment":
        return "#" + draw(st.text(CHARS, max_size=8))
    values = [draw(ODD) if one_in(odd) else draw(good) for good in GOOD]
    if kind == "count":
        values = values[: draw(st.integers(3, 5))] + draw(st.lists(ODD, max_size=2))
    sep = draw(st.sampled_from([",", ";", "\t"])) if kind == "other delimiter" else delimiter
    return sep.join(values)


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


def decoder(options: dict[str, str]) -> CsvDecoder:
    return CsvDecoder(COLS, OptionBag({**options, **IGNORE}, "t"))


def records_of(options: dict[str, str], lines: list[str]) -> list[tuple[int, str | None]]:
    """The file's records, each with the number (from 1) of its first line: a line each,
    but with quoting a quote left open runs on into the next lines (how records are cut is
    ``test_filesystem_csv_records.py``'s subject); None for one still open at the end."""
    text = "".join(line + "\n" for line in lines).encode()
    cut = quoted_records(decoder(options))
    newlines = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
    mask, open_at = (None, None) if cut is None else cut.ends(text, newlines, eof=True)
    out: list[tuple[int, str | None]] = []
    first, start = 0, 0  # the record's first line; the byte offset of line k
    for k, line in enumerate(lines):
        if open_at is not None and start >= open_at:
            out.append((first + 1, None))  # not closed before the end of the file
            break
        start += len(line.encode()) + 1
        if mask is None or mask[k]:
            out.append((first + 1, "\n".join(lines[first : k + 1])))
            first = k + 1
    return out


def strict_failures(options: dict[str, str], records: list[tuple[int, str | None]]) -> list[int]:
    """The numbers of the records that fail decoded alone without ignore-parse-errors (the
    skipped ones, and those with a field that ignore-parse-errors sets to NULL)."""
    out = []
    for number, record in records:
        if record is None:
            out.append(number)
        elif record.strip():
            try:
                CsvDecoder(COLS, OptionBag(dict(options), "t")).decode([record.encode()])
            except FormatError:
                out.append(number)
    return out


def alone(
    options: dict[str, str], records: list[tuple[int, str | None]]
) -> tuple[list[dict[str, Any]], list[int]]:
    """What each record gives decoded on its own (the record path): rows, and the numbers
    of the bad records; blank records are not rows."""
    rows: list[dict[str, Any]] = []
    bad: list[int] = []
    for number, record in records:
        if record is None:
            bad.append(number)
            continue
        if not record.strip():
            continue
        decoded = decoder(options).decode([record.encode()])
        rows += decoded.batch.to_pylist()
        if decoded.skipped:
            bad.append(number)
    return rows, bad


def read_file(path: Path, options: dict[str, str], max_rows: int, read_block: int) -> Any:
    saved = source_module._READ_BLOCK
    source_module._READ_BLOCK = read_block
    try:
        src = source(path, "csv", cols=COLS, **options)
        return src, read_all(src, max_rows=max_rows)
    finally:
        source_module._READ_BLOCK = saved


File = tuple[dict[str, str], list[str]]  # options and lines


@st.composite
def files(draw: st.DrawFn) -> File:
    options, delimiter = draw(st.sampled_from(OPTION_SETS))
    odd = draw(st.sampled_from([0, 300, 100, 30, 10, 3]))
    n = draw(st.integers(0, 60))
    return options, draw(st.lists(lines(delimiter, odd), min_size=n, max_size=n))


@settings(max_examples=150, deadline=None)
@given(file=files(), max_rows=st.integers(1, 70), read_block=st.sampled_from([16, 1 << 20]))
@example(file=({}, ['1,"ab"c,1.5,true,1', "2,b,1.5,true,1"] * 10), max_rows=64, read_block=1 << 20)
@example(file=({}, ["0x10,a,1.5,true,1", "2,b,nan,1,1"] * 10), max_rows=64, read_block=1 << 20)
@example(file=(OPTION_SETS[1][0], ['1,"NULL",1.5,true,1'] * 20), max_rows=64, read_block=1 << 20)
@example(file=(OPTION_SETS[2][0], ["1;a\\nb;1.5;true;1"] * 20), max_rows=64, read_block=1 << 20)
@example(file=(OPTION_SETS[4][0], ["1,a,1.5,true,1", "#,b,1.5,true,1"] * 10), max_rows=64, read_block=1 << 20)
def test_a_block_read_at_once_gives_what_each_line_gives_alone(
    tmp_path_factory: pytest.TempPathFactory, file: File, max_rows: int, read_block: int
) -> None:
    options, records = file
    path = tmp_path_factory.mktemp("c") / "a.csv"
    path.write_text("".join(r + "\n" for r in records))
    src, table = read_file(path, {**options, **IGNORE}, max_rows, read_block)
    expected, bad = alone(options, records_of(options, records))
    assert comparable(table.to_pylist() if table.num_rows else []) == comparable(expected)
    assert src.metrics.bad_records_skipped == len(bad)
    failing = strict_failures(options, records_of(options, records))
    assert set(bad) <= set(failing)  # a skipped record is an error without the option
    if failing:  # without ignore-parse-errors, the job fails naming the first bad line
        with pytest.raises(FormatError, match=rf"a\.csv, line {failing[0]}\b"):
            read_file(path, options, max_rows, read_block)


@settings(max_examples=100, deadline=None)
@given(file=files())
def test_records_decoded_at_once_name_the_bad_ones_each_gives_alone(file: File) -> None:
    """A chunk of records (a Kafka fetch's values, or a block split into lines) is read in
    bulk and then bisected: the same rows, and the same records named bad."""
    options, records = file
    records = [r for r in records if r.strip()]
    decoded = decoder(options).decode([r.encode() for r in records], where=lambda i: f"line {i + 1}:")
    expected, bad = alone(options, list(enumerate(records, 1)))  # values: one record each
    assert comparable(decoded.batch.to_pylist()) == comparable(expected)
    assert decoded.skipped == len(bad)
    assert [int(m.split(":")[0].split()[1]) for m in decoded.messages] == bad[: len(decoded.messages)]
    values = decoder(options).decode_values([r.encode() for r in records])
    assert comparable(values.batch.to_pylist()) == comparable(expected)
    assert values.skipped == len(bad)


STRINGS = fields("a STRING", "b STRING", "c STRING")


@st.composite
def text_lines(draw: st.DrawFn) -> File:
    """Lines of three fields of short text rich in quotes, escapes and delimiters."""
    options, delimiter = draw(st.sampled_from(OPTION_SETS))
    field = st.text("an0\"',;\t\\ #N", max_size=4)
    n = draw(st.integers(1, 30))
    return options, [delimiter.join(draw(st.lists(field, min_size=3, max_size=3))) for _ in range(n)]


@settings(max_examples=300, deadline=None)
@given(file=text_lines())
@example(file=({}, ['a,"b,c"d,e'] * 20))
@example(file=({}, ['a,"b" ,c'] * 20))
@example(file=({}, ["x,y,z"] * 19 + ['a,b,"c']))  # pyarrow reads "c and the line break
@example(file=({}, ["x,y,z"] * 19 + ['x,a",",c']))  # a literal quote, then one that opens
@example(file=(OPTION_SETS[2][0], ["x;a\\nb;z"] * 20))
@example(file=(OPTION_SETS[4][0], ["  a,b,c"] * 20))  # comment mode skips the spaces
def test_quotes_and_escapes_read_alike_in_bulk_and_alone(file: File) -> None:
    """Text columns never fail a bulk read, so here pyarrow reads most blocks: each line it
    may read otherwise than Flink must go to the record path."""
    options, records = file
    bag = {**options, **IGNORE}
    got = CsvDecoder(STRINGS, OptionBag(bag, "t")).decode_values([r.encode() for r in records])
    rows: list[dict[str, Any]] = []
    bad = 0
    for r in records:
        alone_ = CsvDecoder(STRINGS, OptionBag(bag, "t")).decode([r.encode()])
        rows += alone_.batch.to_pylist()
        bad += alone_.skipped
    assert got.batch.to_pylist() == rows and got.skipped == bad


# ---- what Flink gives, one example a rule ---------------------------------------------------


def both_paths(options: dict[str, str], line: str) -> list[list[dict[str, Any]]]:
    """The rows of ``line`` through the record path, and through the block path as 40
    copies (one block), per copy: each must be the same."""
    one = decoder(options).decode([line.encode()])
    block = decoder(options).decode_values([line.encode()] * 40)
    many = decoder(options).decode([line.encode()] * 40)
    rows = [comparable(d.batch.to_pylist()) for d in (block, many)]
    assert rows[0] == rows[1] == comparable(one.batch.to_pylist()) * 40
    assert block.skipped == many.skipped == one.skipped * 40
    return one.batch.to_pylist()


def row(line: str, **options: str) -> dict[str, Any] | None:
    rows = both_paths({k.replace("_", ".", 1).replace("_", "-"): v for k, v in options.items()}, line)
    return rows[0] if rows else None


def test_booleans_are_true_in_any_case_and_false_otherwise() -> None:
    # Flink: Boolean.parseBoolean(text.trim()); 'TRUE', ' true ' and 'tRuE' are true
    for text in ("true", "TRUE", "True", "tRuE", " true "):
        assert row(f"1,a,1.5,{text},1")["ok"] is True  # type: ignore[index]
    # and any other text is false, never an error (pyarrow would read 1 as true)
    for text in ("FALSE", "1", "0", "yes", "T"):
        assert row(f"1,a,1.5,{text},1")["ok"] is False  # type: ignore[index]


def test_a_quoted_null_literal_is_null_as_in_flink() -> None:
    # Jackson compares the null literal to a field's text, quoted or not
    assert row('1,"NULL",1.5,true,1', csv_null_literal="NULL")["name"] is None  # type: ignore[index]
    assert row("1,NULL,1.5,true,1", csv_null_literal="NULL")["name"] is None  # type: ignore[index]
    assert row('1,"NULLS",1.5,true,1', csv_null_literal="NULL")["name"] == "NULLS"  # type: ignore[index]
    assert row('1,"",1.5,true,1')["name"] == ""  # type: ignore[index]


def test_quotes_as_jackson_reads_them() -> None:
    assert row('1,"a,""b""",1.5,true,1')["name"] == 'a,"b"'  # type: ignore[index]
    assert row('1,a"b,1.5,true,1')["name"] == 'a"b'  # type: ignore[index]  # not first: text
    assert row('1, "ab",1.5,true,1')["name"] == ' "ab"'  # type: ignore[index]
    assert row('1,"ab"  ,1.5,true,1')["name"] == "ab"  # type: ignore[index]  # spaces after: skipped
    assert row('1,"ab"c,1.5,true,1') is None  # text after the closing quote
    assert row('1,"ab,1.5,true,1') is None  # no closing quote
    assert row("1,'a,b',1.5,true,1", csv_quote_character="'")["name"] == "a,b"  # type: ignore[index]
    assert row('1,"a,b",1.5,true,1', csv_disable_quote_character="true") is None  # six fields


def test_escapes_as_jackson_reads_them() -> None:
    esc = {"csv_escape_character": "\\"}
    assert row("1,a\\,b,1.5,true,1", **esc)["name"] == "a,b"  # type: ignore[index]
    assert row("1,a\\nb\\tc\\\\,1.5,true,1", **esc)["name"] == "a\nb\tc\\"  # type: ignore[index]
    assert row('1,"a\\"b",1.5,true,1', **esc)["name"] == 'a"b'  # type: ignore[index]
    assert row("1,1.5,true,1,a\\", **esc) is None  # an escape that ends the line


def test_numbers_as_java_reads_them() -> None:
    for text in ("1_000", "0x10", "1.0", "1e2", ""):  # with ignore-parse-errors, NULL as in Flink
        assert row(f"{text},a,1.5,true,1") == {"id": None, "name": "a", "x": 1.5, "ok": True, "d": 1}
    assert row(" 12 ,a,1.5,true,1")["id"] == 12  # type: ignore[index]  # Long.parseLong(trim)
    for text, value in (("1.5d", 1.5), ("0x1p3", 8.0), ("-Infinity", -math.inf), (" 2 ", 2.0)):
        assert row(f"1,a,{text},true,1")["x"] == value  # type: ignore[index]
    assert math.isnan(row("1,a,NaN,true,1")["x"])  # type: ignore[index]
    for text in ("nan", "inf", "1_0.5", "Inf"):
        assert row(f"1,a,{text},true,1")["x"] is None  # type: ignore[index]
    assert row("1,a,1.5,true,1.555")["d"] == decimal.Decimal("1.56")  # type: ignore[index]
    assert row("1,a,1.5,true,+.5")["d"] == decimal.Decimal("0.50")  # type: ignore[index]
    for text in (" 1.5", "1.5 ", "NaN", "1_0"):  # new BigDecimal(text): no trim
        assert row(f"1,a,1.5,true,{text}")["d"] is None  # type: ignore[index]
    for text in ("1e100", "100000000"):  # Flink: too many digits for DECIMAL(10, 2) is NULL
        assert row(f"1,a,1.5,true,{text}")["d"] is None  # type: ignore[index]


def test_comment_lines_of_a_file_are_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("1,a,1.5,true,1\n#2,b,1.5,true,1\n  #3,c,1.5,true,1\n" * 20)
    src, table = read_file(path, {"csv.allow-comments": "true"}, 64, 1 << 20)
    assert table.column("id").to_pylist() == [1] * 20 and src.metrics.bad_records_skipped == 0


def test_in_comment_mode_the_spaces_that_start_a_line_are_skipped() -> None:
    # Jackson skips ' ' (not tabs) before each record when comments are allowed
    comments = {"csv.allow-comments": "true", **IGNORE}
    for line, first in (("  a, b,c", "a"), ("\ta,b,c", "\ta"), ('  "a,b",c,d', "a,b")):
        got = CsvDecoder(STRINGS, OptionBag(comments, "t")).decode_values([line.encode()] * 40)
        assert got.batch.column("a").to_pylist() == [first] * 40
    got = CsvDecoder(STRINGS, OptionBag(dict(IGNORE), "t")).decode_values([b"  a, b,c"] * 40)
    assert got.batch.column("a").to_pylist() == ["  a"] * 40  # not in comment mode


@pytest.mark.parametrize(
    ("options", "line", "name"),
    [
        ({"csv.escape-character": "\\"}, "1,a\\,b,1.5,true,1", "a,b"),  # one backslash, as users write it
        ({"csv.field-delimiter": "\\t"}, "1\ta\t1.5\ttrue\t1", "a"),
        ({"csv.field-delimiter": "\\u007c"}, "1|a|1.5|true|1", "a"),
        ({"csv.field-delimiter": "|", "csv.quote-character": "'"}, "1|'a|b'|1.5|true|1", "a|b"),
    ],
)
def test_one_character_options_as_flink_reads_them(options: dict[str, str], line: str, name: str) -> None:
    assert both_paths(options, line)[0]["name"] == name


@pytest.mark.parametrize(
    "options",
    [{"csv.escape-character": "\\\\"}, {"csv.quote-character": "\\t"}, {"csv.field-delimiter": "\\"}],
)
def test_options_flink_refuses_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(FormatError, match="must be a single character"):
        decoder(options)
