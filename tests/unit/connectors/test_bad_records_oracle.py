"""Bad fields and bad lines of JSON and CSV files as Apache Flink 2.3 reads them, with and
without ``<format>.ignore-parse-errors``: Flink's answers are recorded in
tests/oracle/bad_records.json (``scripts/flink-oracle-bad-records`` re-records them); here
sqlstream's file source (the block path and the record path) and the decoders the Kafka
source uses must give the same rows, or fail where Flink fails.

What Flink does, and so must we: with the option, a field whose value does not fit its type
is NULL and the row is kept (Flink's converters null the field, not the row); only a line
that cannot be read at all (JSON that does not parse, CSV that Jackson cannot split, too
many CSV fields) is skipped. BOOLEAN is Boolean.parseBoolean of the trimmed text: anything
but 'true' in any case is FALSE, never an error."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.options import OptionBag
from planner.physical import Field
from runtime.formats import FormatError, create_decoder
from tests.oracle import bad_records as br
from tests.oracle.corpus import canonical_float, canonical_time

from .helpers import read_all
from .test_filesystem import source

RECORDED = br.load()
CASES: list[dict[str, Any]] = RECORDED["cases"]

# Where sqlstream knowingly reads otherwise than Flink 2.3 (never a row Flink keeps and we
# drop): case name -> the modes that differ, and why.
_LENIENT_TIME = "timestamps and times are read in either standard (SQL or ISO-8601), Z or not"
KNOWN: dict[str, tuple[set[str], str]] = {
    name: ({"strict", "ignore"}, _LENIENT_TIME)
    for name in [
        "csv TIMESTAMP(3) '1,2020-01-05T12:34:56'",
        "csv TIMESTAMP(3) '1,2020-01-05 12:34:56Z'",
        "csv TIMESTAMP(3) '1,2020-01-05'",
        "csv TIMESTAMP_LTZ(3) '1,2020-01-05 12:34:56'",
        """json TIME '{"id": 1, "v": "12:34"}'""",
        """json TIMESTAMP(3) '{"id": 1, "v": "2020-01-05T12:34:56"}'""",
        """json TIMESTAMP(3) '{"id": 1, "v": "2020-01-05T12:34:56Z"}'""",
        """json TIMESTAMP(3) '{"id": 1, "v": "2020-01-05 12:34:56Z"}'""",
        """json TIMESTAMP(3) '{"id": 1, "v": "2020-01-05"}'""",
        """json TIMESTAMP_LTZ(3) '{"id": 1, "v": "2020-01-05T12:34:56Z"}'""",
        """json TIMESTAMP_LTZ(3) '{"id": 1, "v": "2020-01-05 12:34:56"}'""",
    ]
}


def canonical(v: Any) -> Any:
    """A value as the recorder renders Flink's (scripts/flink-oracle.d/record.py)."""
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return canonical_float(v)
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, bytes):
        return "X'" + v.hex() + "'"
    if isinstance(v, dt.datetime):
        text = v.date().isoformat() + " " + canonical_time(v.hour, v.minute, v.second, v.microsecond * 1000)
        return text + "Z" if v.tzinfo is not None else text
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):
        return canonical_time(v.hour, v.minute, v.second, v.microsecond * 1000)
    if isinstance(v, list):
        return [canonical(x) for x in v]
    if isinstance(v, dict):
        return {"row": [canonical(x) for x in v.values()]}
    raise TypeError(f"no canonical form for {v!r}")


def cols(case: dict[str, Any]) -> tuple[Field, ...]:
    return (Field("id", "INT"), Field("v", case["type"]))


def options(case: dict[str, Any], mode: str) -> dict[str, str]:
    return {f"{case['format']}.ignore-parse-errors": "true"} if mode == "ignore" else {}


def rows(table: Any) -> list[list[Any]]:
    return [[canonical(r["id"]), canonical(r["v"])] for r in table.to_pylist()] if table.num_rows else []


def file_answer(path: Path, case: dict[str, Any], mode: str) -> dict[str, Any]:
    """What the filesystem source reads from ``path``: {"rows": ...} or {"error": message}."""
    src = source(path, case["format"], cols=cols(case), **options(case, mode))
    try:
        return {"rows": rows(read_all(src, max_rows=64))}
    except FormatError as e:
        return {"error": str(e)}


def values_answer(lines: list[str], case: dict[str, Any], mode: str) -> dict[str, Any]:
    """What the decoders of the Kafka source read from these record values."""
    dec = create_decoder(case["format"], cols(case), OptionBag(options(case, mode), "t"))
    try:
        return {"rows": rows(dec.decode_values([line.encode() for line in lines]).batch)}
    except FormatError as e:
        return {"error": str(e)}


def same(ours: dict[str, Any], flink: dict[str, Any]) -> bool:
    return ("error" in ours and "error" in flink) or ours.get("rows") == flink.get("rows")


def params() -> list[Any]:
    out = []
    for case in CASES:
        for mode in ("strict", "ignore"):
            known = KNOWN.get(case["name"])
            marks = [pytest.mark.xfail(strict=True, reason=known[1])] if known and mode in known[0] else []
            out.append(pytest.param(case, mode, marks=marks, id=f"{mode}: {case['name']}"))
    return out


def test_the_recording_is_flinks_and_covers_every_case() -> None:
    assert RECORDED["flink"].startswith("2.3")
    assert [c["name"] for c in CASES] == [c["name"] for c in br.cases()]
    assert set(KNOWN) <= {c["name"] for c in CASES}


@pytest.mark.parametrize(("case", "mode"), params())
def test_one_line_as_flink_reads_it(tmp_path: Path, case: dict[str, Any], mode: str) -> None:
    flink = case[mode]
    path = tmp_path / f"a.{case['format']}"
    path.write_text(case["line"] + "\n")
    ours = file_answer(path, case, mode)
    assert same(ours, flink), (ours, flink)
    if "error" in ours:  # the job's error names the file and the line
        assert f"{path}, line 1" in ours["error"]
    # as one Kafka record value, and as 40 (a fetch the block path reads at once)
    assert same(values_answer([case["line"]], case, mode), flink)
    many = values_answer([case["line"]] * 40, case, mode)
    assert same(many, {"rows": flink["rows"] * 40} if "rows" in flink else flink)


def test_a_row_with_a_bad_field_is_counted_apart_from_skipped_ones(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    # the quote left open runs to the end of the file (a quoted field may hold line breaks)
    path.write_text("1,2\n2,abc\n3\n4,5,6\n" + "".join(f"{i},{i}\n" for i in range(6, 60)) + '60,"x\n')
    src = source(
        path, "csv", cols=(Field("id", "INT"), Field("v", "INT")), **{"csv.ignore-parse-errors": "true"}
    )
    got = read_all(src, max_rows=64).to_pylist()
    assert [r["id"] for r in got] == [1, 2, 3, *range(6, 60)]  # '4,5,6' and the open quote skipped
    assert got[1]["v"] is None and got[2]["v"] is None
    assert src.metrics.bad_fields_nulled == 2 and src.metrics.bad_records_skipped == 2


def _groups() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The cases without a known difference, by format and type: lines of one table."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in CASES:
        if c["name"] not in KNOWN:
            out.setdefault((c["format"], c["type"]), []).append(c)
    return out


GROUPS = _groups()


@st.composite
def files(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str]:
    """A file of one table's lines: mostly its first case (a good line, so that the block
    path reads most blocks at once) and now and then any other; and a mode. A csv line
    whose quote is left open comes last only: its field runs to the end of the file (a
    quoted field may hold line breaks, in Flink too), so the lines after it are no lines."""
    group = GROUPS[draw(st.sampled_from(sorted(GROUPS)))]
    line = st.sampled_from(group[:1]) | st.sampled_from(group)
    cases = draw(st.lists(line, max_size=80))
    for n, c in enumerate(cases):
        if c["format"] == "csv" and c["line"].count('"') % 2:
            cases = cases[: n + 1]
            break
    return cases, draw(st.sampled_from(["strict", "ignore"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=files(), max_rows=st.sampled_from([7, 64, 1000]))
def test_files_of_good_and_bad_lines_read_as_flink_reads_each_line(
    tmp_path: Path, file: tuple[list[dict[str, Any]], str], max_rows: int
) -> None:
    cases, mode = file
    if not cases:
        return
    first = cases[0]
    path = tmp_path / f"mixed.{first['format']}"
    path.write_text("".join(c["line"] + "\n" for c in cases))
    failing = [n for n, c in enumerate(cases, 1) if "error" in c[mode]]
    src = source(path, first["format"], cols=cols(first), **options(first, mode))
    if failing:  # the job fails naming the first line Flink fails on
        with pytest.raises(FormatError, match=rf"mixed\.\w+, line {failing[0]}\b"):
            read_all(src, max_rows=max_rows)
        return
    expected = [r for c in cases for r in c[mode]["rows"]]
    assert rows(read_all(src, max_rows=max_rows)) == expected
    assert src.metrics.bad_records_skipped == sum(1 for c in cases if not c[mode]["rows"])
    assert values_answer([c["line"] for c in cases], first, mode) == {"rows": expected}
