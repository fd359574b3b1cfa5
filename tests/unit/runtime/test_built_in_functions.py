"""The built-in functions written in Python are installed on a job's DuckDB connections
only when its plan can call them (``runtime.operator.built_in_functions``): a query that
calls none pays for none, and every query that calls one still runs."""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
from decimal import Decimal
from pathlib import Path

import pytest

import planner
import runtime
import sqlstream
from catalog import Catalog
from runtime import charsets, digests, java_float, java_format, java_hash, json_text, wide_decimal
from runtime.operator import built_in_functions

MODULES = (json_text, java_format, charsets, digests, java_hash, java_float, wide_decimal)
NAMES = {f.name: m for m in MODULES for f in m.FUNCTIONS}


@pytest.fixture
def session():  # type: ignore[no-untyped-def]
    s = sqlstream.connect()
    yield s
    s.close()


def _names(sql: str) -> set[str]:
    cat = Catalog()
    for stmt in planner.parse(
        "CREATE TABLE t (s STRING, x DOUBLE, n BIGINT) WITH ('connector' = 'datagen');"
        "CREATE TABLE w (s STRING, d DECIMAL(38, 0)) WITH ('connector' = 'datagen')"
    ):
        cat.create(planner.create_table(stmt, cat))
    return {f.name for f in built_in_functions(planner.plan(sql, cat, {}))}


def test_a_plan_that_calls_no_built_in_gets_none() -> None:
    assert _names("SELECT s, n + 1 FROM t WHERE x > 2") == set()
    assert _names("SELECT s, COUNT(*), AVG(n) FROM t GROUP BY s") == set()


def test_a_plan_gets_the_built_ins_its_expressions_call() -> None:
    assert _names("SELECT SHA2(s, 224) FROM t") == {digests.FUNCTION}
    assert _names("SELECT ENCODE(s, 'UTF-16') FROM t WHERE n > 0") == {charsets.ENCODE}


def test_a_plan_with_a_decimal_gets_the_wide_division_that_avg_writes_at_run_time() -> None:
    assert wide_decimal.FUNCTION in _names("SELECT s, AVG(d) FROM w GROUP BY s")


def test_queries_calling_built_ins_run(session: sqlstream.Session) -> None:
    rows = session.sql("SELECT SHA2(s, 224), ENCODE(s, 'UTF-16BE') FROM (VALUES ('ab')) AS t(s)").fetchall()
    assert rows == [(hashlib.sha224(b"ab").hexdigest(), b"\x00a\x00b")]
    # AVG of a DECIMAL(38, 0) divides through flink_decimal, which the plan never names
    avg = session.sql(
        "SELECT k, AVG(d) FROM (VALUES (1, CAST(2 AS DECIMAL(38, 0))), (1, CAST(3 AS DECIMAL(38, 0)))) "
        "AS t(k, d) GROUP BY k"
    ).fetchall()
    assert avg[-1] == (1, Decimal("2.500000"))


def test_only_the_built_ins_own_modules_and_avg_write_their_names_at_run_time() -> None:
    """The premise of ``built_in_functions``: SQL that the runtime writes (rather than the
    planner, whose SQL is in the plan) calls a built-in only through ``avg_sql``'s
    ``planner.numeric.decimal_divide_sql``."""
    root = Path(runtime.__file__).parent
    own = {Path(inspect.getfile(m)).resolve() for m in MODULES}
    for path in root.rglob("*.py"):
        if path.resolve() in own:
            continue
        text = path.read_text()
        assert not [n for n in NAMES if re.search(rf"\b{n}\b", text, re.I)], path
        # planner functions it calls at run time, and the built-ins their source writes
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("planner"):
                module = __import__(node.module or "", fromlist=["_"])
                for alias in node.names:
                    obj = getattr(module, alias.name, None)
                    if not callable(obj) or isinstance(obj, type):
                        continue
                    source = inspect.getsource(obj)
                    written = [n for n in NAMES if re.search(rf"\b{n}\b", source, re.I)]
                    if written:
                        assert (alias.name, written) == ("decimal_divide_sql", [wide_decimal.FUNCTION]), path
