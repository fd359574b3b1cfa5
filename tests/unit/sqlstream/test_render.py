"""Values as Flink's SQL client prints them, in the CLI's tables, the shell's views and
changelog rows alike; nested ones too (they printed as Python's reprs, None and quotes)."""

from __future__ import annotations

import datetime as dt

import pytest

import sqlstream
from sqlstream.render import Multiset, format_value, render_changelog_row


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "<NULL>"),
        ([1, None, 2], "[1, NULL, 2]"),
        (["a", "b"], "[a, b]"),
        ([("k", 1), ("l", None)], "{k=1, l=NULL}"),
        ({"id": 1, "name": "x"}, "(1, x)"),
        ([[1], None], "[[1], NULL]"),
        ([dt.datetime(2024, 1, 5, 7, 8, 9)], "[2024-01-05 07:08:09.000]"),
        ([True], "[TRUE]"),
        (Multiset([14, 81, 81]), "{14=1, 81=2}"),
        (Multiset([]), "{}"),
    ],
)
def test_a_value_prints_as_in_flinks_sql_client(value: object, text: str) -> None:
    assert format_value(value) == text


def test_a_query_shows_nested_values_flinks_way() -> None:
    with sqlstream.connect() as s:
        row = s.sql("SELECT ARRAY[1, NULL] AS a, MAP['k', 1] AS m, ROW(1, 'x') AS r").fetchall()[0]
    assert render_changelog_row(0, row) == "+I[[1, NULL], {k=1}, (1, x)]"


def test_collect_prints_as_a_multiset_of_counts() -> None:
    """COLLECT's MULTISET printed as a sorted list ([14, 81]); Flink prints value=count."""
    with sqlstream.connect() as s:
        rows = s.sql(
            "SELECT k, COLLECT(v) AS c FROM (VALUES ('a', 14), ('a', 81), ('a', 14)) AS t(k, v) GROUP BY k"
        ).fetchall()
    assert render_changelog_row(0, rows[0]) == "+I[a, {14=2, 81=1}]"


def test_a_timestamp_ltz_inside_an_array_row_or_map_prints_in_the_session_zone() -> None:
    """Nested TIMESTAMP_LTZ values printed in UTC whatever 'table.local-time-zone' said;
    epoch 0 is 09:00 in Tokyo, in a column and inside ARRAY, ROW and MAP alike."""
    with sqlstream.connect() as s:
        s.execute("SET 'table.local-time-zone' = 'Asia/Tokyo'")
        row = s.sql(
            "SELECT TO_TIMESTAMP_LTZ(0, 3) AS t, ARRAY[TO_TIMESTAMP_LTZ(0, 3)] AS a, "
            "ROW(TO_TIMESTAMP_LTZ(0, 3), 1) AS r, MAP['k', TO_TIMESTAMP_LTZ(0, 3)] AS m"
        ).fetchall()[0]
    nine = "1970-01-01 09:00:00.000"
    assert render_changelog_row(0, row) == f"+I[{nine}, [{nine}], ({nine}, 1), {{k={nine}}}]"


def test_double_and_float_print_as_cast_to_string_gives_them() -> None:
    """DOUBLEs printed as Python's reprs (2e+30, nan) and FLOATs with a double's digits
    (0.10000000149011612); Flink's client prints Java's toString, the text CAST(x AS STRING)
    gives (checked against Flink by the oracle corpus), at the top level and nested alike."""
    values = ["CAST(2e30 AS DOUBLE)", "CAST(1e-5 AS DOUBLE)", "CAST(12345678.9 AS DOUBLE)"]
    values += ["CAST('NaN' AS DOUBLE)", "CAST(100 AS DOUBLE)", "CAST(0.1 AS FLOAT)", "CAST(3e20 AS FLOAT)"]
    shown = ", ".join(f"{v}, CAST({v} AS STRING), ARRAY[{v}]" for v in values)
    with sqlstream.connect() as s:
        row = s.sql(f"SELECT {shown}").fetchall()[0]
    texts = [format_value(v) for v in row]
    for i in range(0, len(texts), 3):
        assert texts[i] == texts[i + 1] and texts[i + 2] == f"[{texts[i + 1]}]"
    assert texts[:3] == ["2.0E30", "2.0E30", "[2.0E30]"] and texts[15] == "0.1"
