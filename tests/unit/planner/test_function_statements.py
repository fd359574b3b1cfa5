"""CREATE / DROP / DESCRIBE FUNCTION and SHOW USER FUNCTIONS read as Flink writes them;
Java functions and jars are refused where they are written."""

from __future__ import annotations

import pytest

from planner import statements as st
from planner.errors import ParseError, UnsupportedError
from planner.parse import parse


def test_create_function_with_every_flag() -> None:
    s = parse("CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS cat.db.f AS 'pkg.mod.f' LANGUAGE PYTHON")[0]
    assert s == st.CreateFunction(
        name="f", target="pkg.mod.f", temporary=True, system=True, if_not_exists=True, sql=s.sql
    )


def test_drop_describe_show() -> None:
    drop, describe, show = parse(
        "DROP TEMPORARY FUNCTION IF EXISTS db.f; DESCRIBE FUNCTION f; SHOW USER FUNCTIONS"
    )
    assert (drop.name, drop.temporary, drop.if_exists) == ("f", True, True)  # type: ignore[attr-defined]
    assert isinstance(describe, st.DescribeFunction) and describe.name == "f"
    assert isinstance(show, st.Show) and show.what == "user_functions"


@pytest.mark.parametrize(
    ("sql", "message", "col"),
    [
        ("CREATE FUNCTION f AS 'com.acme.F'", "LANGUAGE JAVA is not supported", 1),
        ("CREATE FUNCTION f AS 'com.acme.F' LANGUAGE SCALA", "LANGUAGE SCALA is not supported", 44),
        ("CREATE FUNCTION f AS 'a.F' LANGUAGE JAVA USING JAR 'x.jar'", "USING JAR is not supported", 42),
    ],
)
def test_other_languages_are_refused_where_written(sql: str, message: str, col: int) -> None:
    with pytest.raises(UnsupportedError, match=message) as info:
        parse(sql)
    assert info.value.col == col


def test_create_function_without_as_says_how() -> None:
    with pytest.raises(ParseError, match=r"CREATE FUNCTION needs AS 'module\.function'") as info:
        parse("CREATE FUNCTION f LANGUAGE PYTHON")
    assert info.value.hint == "CREATE FUNCTION f AS 'package.module.function' LANGUAGE PYTHON"
