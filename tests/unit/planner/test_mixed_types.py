"""Where types meet in one expression, sqlstream gives Flink 2.3's result type and value, or
refuses at plan time, by position, what Flink's validator refuses (the oracle's
``edge_types`` corpus has Flink's recorded answers)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from catalog.errors import SqlStreamError
from sqlstream import Session, connect

ROW = (
    "(VALUES (1, CAST(99999999.99 AS DECIMAL(10, 2)), CAST(0.1 AS FLOAT), CAST(1e300 AS DOUBLE)))"
    " AS t(x, d, r, f)"
)


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    s = connect()
    yield s
    s.close()


def _one(session: Session, expression: str) -> tuple[str, object]:
    handle = session.sql(f"SELECT {expression} AS v FROM {ROW}")
    try:
        return handle.plan.sinks[0].schema[0].type, handle.fetchall()[0][0]
    finally:
        handle.close()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # a FLOAT beside a DECIMAL in CASE or IF is a DOUBLE (DuckDB's FLOAT cut 99999999.99)
        ("CASE WHEN x > 0 THEN d ELSE r END", ("DOUBLE", 99999999.99)),
        ("IF(x > 0, d, r)", ("DOUBLE", 99999999.99)),
        # a FLOAT is compared with a DECIMAL as DOUBLE, with a DOUBLE after it as FLOAT
        ("r = 0.1", ("BOOLEAN", False)),
        ("r = 0.1e0", ("BOOLEAN", True)),
        ("r IN (0.1e0, 0.5e0)", ("BOOLEAN", True)),
        ("r = f", ("BOOLEAN", False)),  # (float) 1e300 is Infinity, no failed cast
        ("NULLIF(r, 0.1e0)", ("FLOAT", None)),
        # of a FLOAT and a DOUBLE in CASE the first wins: (float) -1e-300 is -0.0
        ("CASE WHEN x > 0 THEN r ELSE -1e-300 END", ("FLOAT", 0.10000000149011612)),
        ("CASE WHEN x < 0 THEN r ELSE -1e-300 END", ("FLOAT", -0.0)),
        ("CASE WHEN x < 0 THEN f ELSE r END", ("DOUBLE", 0.10000000149011612)),
        # minus signs fold into the literal: -(-2147483648) is the BIGINT 2147483648
        ("-(-2147483648)", ("BIGINT NOT NULL", 2147483648)),
        ("-2147483648 - 1", ("INT NOT NULL", 2147483647)),
        # a DECIMAL(38, 30) quotient keeps every digit
        ("CAST(d AS DECIMAL(38, 30)) / 3", ("DECIMAL(38, 30)", Decimal("33333333.33" + "0" * 28))),
    ],
)
def test_the_type_and_value_are_flinks(
    session: Session, expression: str, expected: tuple[str, object]
) -> None:
    assert _one(session, expression) == expected


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("x + '1'", "'+'"),
        ("CONCAT('a', x)", "CONCAT takes strings, not an INT"),
        ("x = TRUE", "cannot compare INT with BOOLEAN"),
        ("GREATEST(x, '5')", "GREATEST cannot compare a number with a string"),
        ("DATE '2024-02-29' = 20240229", "cannot compare DATE with INT"),
        ("DATE '2024-02-29' + x", "cannot apply '+' to DATE and INT"),
        ("-(-9223372036854775808)", "numeric literal 9223372036854775808 is out of range"),
        # a string function's text argument: named as the statement calls it
        ("UPPER(d)", "UPPER takes a STRING, not a DECIMAL(10, 2)"),
        ("RPAD('a', 3, x)", "RPAD takes a STRING, not an INT"),
        ("LTRIM(f)", "LTRIM takes a STRING, not a DOUBLE"),
        ("CHARACTER_LENGTH(x)", "CHAR_LENGTH takes a STRING, not an INT"),
    ],
)
def test_what_flinks_validator_refuses_is_refused_by_position(
    session: Session, expression: str, names: str
) -> None:
    with pytest.raises(SqlStreamError) as caught:
        session.sql(f"SELECT {expression} AS v FROM {ROW}")
    assert names in caught.value.message
    assert caught.value.line == 1 and caught.value.col is not None


@pytest.mark.parametrize(
    "expression",
    [
        "DATE '2024-02-29' + INTERVAL '1' DAY",
        "DATE '2024-02-29' - INTERVAL '1' DAY * 2",
        "CONCAT('a', CAST(x AS STRING), CAST(NULL AS STRING))",
        "GREATEST(x, d)",
        "UPPER(CAST(NULL AS STRING)) || LPAD(CAST(x AS CHAR(3)), 4, '0')",
    ],
)
def test_what_flink_takes_is_still_planned(session: Session, expression: str) -> None:
    session.sql(f"SELECT {expression} AS v FROM {ROW}").close()
