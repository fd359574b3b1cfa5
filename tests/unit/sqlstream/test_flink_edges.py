"""Edges of Flink's functions beyond the oracle's recorded rows, each derived from Flink 2.3's
code (SqlFunctionUtils, BinaryStringData.indexOf, PrintfFunction, RandCallGen,
DateTimeUtils): what a user pasting Flink SQL gets, value for value, or a refusal that
names the construct and its place, never a job failing inside DuckDB."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import sqlstream
from catalog.errors import SqlStreamError

ROW = {"s": "Hello World", "e": "", "n": 2, "k": 42, "r": 0.1, "f": 0.125, "z": None}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("edges") / "row.json"
    path.write_text(json.dumps(ROW) + "\n")
    s = sqlstream.connect()
    s.execute(
        "CREATE TABLE t (s STRING, e STRING, n INT, k INT, r FLOAT, f DOUBLE, z INT) "
        f"WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"
    )
    yield s
    s.close()


CASES = [
    # indexOf: an empty needle is found at 1 wherever the search starts; a start below 1
    # searches from the first character
    ("LOCATE(e, s, 99)", 1),
    ("LOCATE('o', s, 0)", 5),
    ("LOCATE('o', s, 6)", 8),
    ("LOCATE('o', s, 12)", 0),
    # OVERLAY keeps the tail only for a positive length that ends inside the string
    ("OVERLAY(s PLACING 'XY' FROM 7 FOR 0)", "Hello XY"),
    ("OVERLAY(s PLACING 'XY' FROM 0)", "Hello World"),
    ("OVERLAY(s PLACING 'XY' FROM 11 FOR 5)", "Hello WorlXY"),
    ("OVERLAY(s PLACING 'abc' FROM 2 FOR 1)", "Habcllo World"),
    # Integer.parseInt / Long.parseLong / Double.parseDouble, whichever reads it
    ("IS_DECIMAL(' 1e5 ')", True),
    ("IS_DECIMAL('0x1p3')", True),
    ("IS_DECIMAL('NaN')", True),
    ("IS_DECIMAL('1.5f')", True),
    ("IS_DECIMAL('١٢٣')", True),
    ("IS_DECIMAL('1,5')", False),
    ("IS_DECIMAL(e)", False),
    ("IS_DECIMAL(CAST(z AS STRING))", False),
    # String.split: regular expressions, trailing empty parts dropped; the last key wins
    ("STR_TO_MAP('a=1,a=2,=x,y=,,')", {"a": "2", "": "x", "y": ""}),
    ("STR_TO_MAP('a:1|b:2:3', '[|]', ':')", {"a": "1", "b": "2:3"}),
    ("STR_TO_MAP(e)", {}),
    # Formatter: NULL prints as 'null' (padded like any other text), flags and indexes
    ("PRINTF('%-6s|%05d|%.2s|%%', s, n, s)", "Hello World|00002|He|%"),
    ("PRINTF('%8s|%S|%1$s', CAST(z AS STRING), e)", "    null||null"),
    ("PRINTF('%d%n', k)", "42\n"),
    ("PRINTF('%S', CAST(z AS STRING))", "NULL"),
    ("PRINTF('%s|%s|%s', f, 1e20, CAST(1.50 AS DECIMAL(5, 2)))", "0.125|1.0E20|1.50"),  # Double.toString
    # %f rounds Double.toString's digits half up (C rounds the binary value: 0.12); a FLOAT
    # is widened to its double; zeros pad after the sign, ungrouped
    ("PRINTF('%.2f|%f|%.10f', f, r, r)", "0.13|0.100000|0.1000000015"),
    ("PRINTF('%,010.1f|%+.0f|%(.2f|%#.0f', f * 10000, f, -f, f)", "0001,250.0|+0|(0.13)|0."),
    (
        "PRINTF('%-8.3f|%2$07.2f|% f|%3$ f', CAST(z AS DOUBLE), -f, 1e20)",
        "nul     |-000.13|-0.125000| 100000000000000000000.000000",
    ),
    # a negated zero literal is BigDecimal's zero; a computed -0.0 keeps its sign
    (
        "PRINTF('%f|%+f|%.1f|%.1f', CAST('NaN' AS DOUBLE), 1e308 * 10, -0.0e0, -1e-300 * 1e-300)",
        "NaN|+Infinity|0.0|-0.0",
    ),
    # new java.util.Random(seed) for a seed taken from the row
    ("RAND(k)", 0.7275636800328681),
    ("RAND_INTEGER(k, 10)", 0),
    ("RAND_INTEGER(n, 10)", 8),
    ("RAND(z)", None),
    # the DOUBLE is cast to FLOAT, the sum a FLOAT
    ("r + f", pytest.approx(0.225, rel=1e-7)),
    ("f / r", 0.125 / 0.10000000149011612),  # the DOUBLE on the left: a DOUBLE
    ("f + r", 0.125 + 0.10000000149011612),
    ("s = TRUE", False),
    ("s <> TRUE", True),
    # a lenient SimpleDateFormat rolls a field over; Timestamp.valueOf reads what a format does not
    ("TO_DATE('2024-13-01', 'yyyy-MM-dd')", dt.date(2025, 1, 1)),
    ("TO_DATE('2024-03-00', 'yyyy-MM-dd')", dt.date(2024, 2, 29)),
    ("TO_DATE('20240229 and more', 'yyyyMMdd')", dt.date(2024, 2, 29)),
    ("TO_TIMESTAMP('2024-2-30 1:2:3.5', 'dd.MM.yyyy')", dt.datetime(2024, 3, 1, 1, 2, 3, 500000)),
    ("TO_TIMESTAMP('2024-02-29', 'HH:mm')", dt.datetime(2024, 2, 29)),
    ("TO_TIMESTAMP('13:45', 'yyyy')", None),
    # TRY_CAST reads a literal as it reads a column's text
    ("TRY_CAST('0' AS DATE)", "0000-01-01"),
    ("TRY_CAST('-2024-01-01' AS DATE)", None),
]


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_edge(session: sqlstream.Session, expr: str, expected: object) -> None:
    (value,) = session.sql(f"SELECT {expr} FROM t").fetchall()[0]
    if isinstance(value, list):  # a MAP arrives as its entries
        value = dict(value)
    assert value == expected


def test_to_timestamp_ltz_of_text_reads_utc_wall_time_whatever_the_zone(session: sqlstream.Session) -> None:
    """TO_TIMESTAMP_LTZ(s[, format]) reads the text as UTC wall time, not the session's."""
    session.execute("SET 'table.local-time-zone' = 'America/Los_Angeles'")
    try:
        row = session.sql(
            "SELECT TO_TIMESTAMP_LTZ('2024-02-29 13:45:30', 'yyyy-MM-dd HH:mm:ss'), "
            "TO_TIMESTAMP_LTZ(CONCAT('2024-02-29 13:45:30', e)), TO_TIMESTAMP_LTZ(CAST(z AS STRING)) FROM t"
        ).fetchall()[0]
    finally:
        session.execute("SET 'table.local-time-zone' = 'UTC'")
    instant = dt.datetime(2024, 2, 29, 13, 45, 30, tzinfo=dt.UTC)
    assert row == (instant, instant, None)


def test_to_timestamp_ltz_of_text_it_cannot_read_fails_the_job(session: sqlstream.Session) -> None:
    """Flink's TO_TIMESTAMP_LTZ(s) lets the DateTimeParseException fail the job (TO_TIMESTAMP
    answers NULL)."""
    with pytest.raises(SqlStreamError, match="TO_TIMESTAMP_LTZ cannot parse: Hello World"):
        session.sql("SELECT TO_TIMESTAMP_LTZ(s) FROM t").fetchall()


REFUSED = [
    ("s RLIKE 'o.'", "RLIKE", 16),
    ("POW(2, n)", "POWER", 8),
    ("0.0 / 0", "division by zero in 0.0 / 0", 8),
    ("MOD(7, 0)", "division by zero", 8),
    ("RAND(42)", "constant seed", 8),
    ("RAND_INTEGER(-1, 10)", "constant seed", 8),
    ("PRINTF('%e', f)", "'%e'", 8),
    ("PRINTF('%.2f', CAST(1.5 AS DECIMAL(3, 1)))", "formats a DOUBLE or FLOAT, not a DECIMAL(3, 1)", 8),
    ("PRINTF('%f', n)", "CAST it AS DOUBLE", 8),
    ("PRINTF('%+ f', f)", "exclude each other", 8),
    ("PRINTF('%-f', f)", "needs a width", 8),
    ("PRINTF('%s %s', s)", "needs an argument", 8),
    ("PRINTF('%d', s)", "integer", 8),
    ("PRINTF('%.2d', n)", "takes no precision", 8),
    ("PRINTF(s, n)", "not a constant", 8),
    ("TO_DATE(s, 'yyyy-MM-dd HH')", "format", 8),
    ("s > TRUE", "cannot compare STRING with BOOLEAN", 8),
]


@pytest.mark.parametrize(("expr", "says", "col"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_when_planning(session: sqlstream.Session, expr: str, says: str, col: int) -> None:
    with pytest.raises(SqlStreamError) as refused:
        session.sql(f"SELECT {expr} FROM t")
    assert says in str(refused.value)
    assert (refused.value.line, refused.value.col) == (1, col)


def test_proctime_window_property_is_refused_in_batch_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A bounded input has no processing time to stamp a window with (Flink refuses it too)."""
    s = sqlstream.connect(config={"execution.runtime-mode": "batch"})
    try:
        s.execute(
            "CREATE TABLE ev (ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', "
            "'number-of-rows' = '1')"
        )
        with pytest.raises(SqlStreamError, match="TUMBLE_PROCTIME: the PROCTIME window property"):
            s.sql(
                "SELECT TUMBLE_PROCTIME(ts, INTERVAL '1' DAY) FROM ev GROUP BY TUMBLE(ts, INTERVAL '1' DAY)"
            )
    finally:
        s.close()
