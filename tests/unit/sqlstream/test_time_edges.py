"""Flink's DATE/TIME functions at their edges: each answer here is the one Flink 2.3 gave
(tests/oracle/corpus/edge_time.sql records them all), and each was wrong before."""

import pytest

import sqlstream
from catalog.errors import SqlStreamError


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    s = sqlstream.connect()
    yield s
    s.close()


def _value(session: sqlstream.Session, expression: str, zone: str = "UTC") -> object:
    session.execute(f"SET 'table.local-time-zone' = '{zone}'")
    (row,) = session.sql(f"SELECT {expression} AS v").fetchall()
    return row[0]


CASES = [
    # java.time pads a number to the letters' count but never cuts it
    ("DATE_FORMAT(TIMESTAMP '2020-12-31 23:59:59.999', 'yyy DD')", "2020 366"),
    # optional-section brackets print nothing; W, F, Q, G are java.time letters too
    (
        "DATE_FORMAT(TIMESTAMP '2024-03-31 23:30:00.25', 'yyyy/MM/dd [HH] W F Q QQQ G')",
        "2024/03/31 23 6 3 1 Q1 AD",
    ),
    ("DATE_FORMAT(TIMESTAMP '2024-03-31 23:30:00.25', 'A n')", "84600250 250000000"),
    ("DATE_FORMAT(TIMESTAMP '9999-12-31 23:59:59.999', 'YYYY')", "+10000"),  # its week's year
    # text is read by a lenient SimpleDateFormat: 30 February is 1 March
    ("DATE_FORMAT('2024-02-30 00:00:00', 'yyyy-MM-dd HH:mm:ss')", "2024-03-01 00:00:00"),
    ("CONVERT_TZ('  2024-02-29 13:45:30', 'Europe/Berlin', 'UTC')", "2024-02-29 12:45:30"),
    ("UNIX_TIMESTAMP('2024-02-29 25:61:61')", 1709258521),
    ("UNIX_TIMESTAMP('2024-02-29 13:45:30', 'yyyy-MM-dd')", 1709164800),  # the rest ignored
    ("UNIX_TIMESTAMP('2024-02-29 13:45:30.987654', 'yyyy-MM-dd HH:mm:ss.SSS')", 1709215317),
    # TO_TIMESTAMP(s) reads the whole text as 'yyyy-M-d[ H:m:s[.f]]', no 'T', no blanks
    ("TO_TIMESTAMP('2024-02-29T13:45:30')", None),
    ("TO_TIMESTAMP('2024-02-29 13:45')", None),
    ("TO_TIMESTAMP(' 2024-02-29 13:45:30')", None),
    # Flink's subtractMonths counts from the later date back: not symmetric
    ("TIMESTAMPDIFF(MONTH, TIMESTAMP '2024-02-29 12:00:00', TIMESTAMP '2020-12-31 23:59:59.999')", -38),
    ("TIMESTAMPDIFF(MONTH, TIMESTAMP '2020-12-31 23:59:59.999', TIMESTAMP '2024-02-29 12:00:00')", 37),
    ("TIMESTAMPDIFF(MONTH, TIMESTAMP '2024-03-31 23:30:00', TIMESTAMP '2024-02-29 12:00:00')", -2),
    # WEEK: the seconds cast to INT (wrapping), then divided
    ("TIMESTAMPDIFF(WEEK, TIMESTAMP '1900-03-01 00:00:00', TIMESTAMP '2024-02-29 12:00:00')", -631),
    ("EXTRACT(MICROSECOND FROM TIMESTAMP '2020-12-31 23:59:59.999')", 999000),
    ("CAST(CAST('13:45:30.987' AS TIME(0)) AS STRING)", "13:45:30"),
    ("CAST(TIME '23:59:59.999' AS STRING)", "23:59:59.999"),
    # FROM_UNIXTIME formats with SimpleDateFormat: 'u' is the day of the week
    ("FROM_UNIXTIME(0, 'G yyyy u Y-ww')", "AD 1970 4 1970-01"),
    ("CAST(FLOOR(TIMESTAMP '1900-03-01 00:00:00' TO CENTURY) AS STRING)", "1801-01-01 00:00:00"),
    # a DOUBLE's seconds keep their milliseconds (floored seconds plus the fraction's)
    ("CAST(TO_TIMESTAMP_LTZ(CAST(1709214330123 AS DOUBLE) / 1000, 0) AS STRING)", "2024-02-29 13:45:30.122"),
    ("CAST(TO_TIMESTAMP_LTZ(CAST(-1 AS DOUBLE) + 0.5, 3) AS STRING)", "1969-12-31 23:59:59.999"),
    # a DECIMAL's fraction is cut before the range is checked
    (
        "CAST(TO_TIMESTAMP_LTZ(CAST(253402300799.999 AS DECIMAL(20, 3)), 0) AS STRING)",
        "9999-12-31 23:59:59.000",
    ),
    ("CAST(FLOOR(TIMESTAMP '2020-12-31 23:59:59.999' TO DECADE) AS STRING)", "2020-01-01 00:00:00.000"),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_flink_answer(session: sqlstream.Session, expression: str, expected: object) -> None:
    assert _value(session, expression) == expected


def test_timestamp_ltz_adds_and_floors_as_flink(session: sqlstream.Session) -> None:
    """TIMESTAMPADD adds to the UTC date-time (a month past 29 February 13:45Z is 29 March
    13:45Z though Los Angeles changed to DST between); FLOOR to a MONTH floors the local
    date-time on the instant's own offset (-07:00 on 10 March), as to a DAY."""
    zone = "America/Los_Angeles"
    added = "CAST(TIMESTAMPADD(MONTH, 1, TO_TIMESTAMP_LTZ(1709214330123, 3)) AS STRING)"
    assert _value(session, added, zone) == "2024-03-29 06:45:30.123"
    floored = "CAST(FLOOR(TO_TIMESTAMP_LTZ(1710066600000, 3) TO MONTH) AS STRING)"
    assert _value(session, floored, zone) == "2024-02-29 23:00:00.000"
    interval = "CAST(TO_TIMESTAMP_LTZ(1709214330123, 3) + INTERVAL '1' MONTH AS STRING)"
    assert _value(session, interval, zone) == "2024-03-29 06:45:30.123"


def test_to_date_fails_on_a_number_past_int(session: sqlstream.Session) -> None:
    """Flink's parseDate runs Integer.parseInt on the year: its job fails; so does ours."""
    with pytest.raises(Exception, match="TO_DATE cannot read 20240229134530"):
        session.sql("SELECT TO_DATE(s) FROM (VALUES ('20240229134530')) AS t(s)").fetchall()


def test_unix_timestamp_of_a_timestamp_is_refused(session: sqlstream.Session) -> None:
    with pytest.raises(SqlStreamError, match="UNIX_TIMESTAMP reads a STRING"):
        session.sql("SELECT UNIX_TIMESTAMP(TO_TIMESTAMP_LTZ(0, 3))")
