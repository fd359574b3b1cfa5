"""Scalar Python functions in SQL, as a user writes them: decorated with ``@udf`` or plain,
created with CREATE FUNCTION from a module or with ``session.create_function``, called in
projections, filters, GROUP BY keys and windows; failures name the function."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections import Counter
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from sqlstream.udf import UdfError, signature, udf

MOD = "tests.unit.sqlstream.udf_module"
NUMS = """CREATE TABLE nums (v BIGINT, w STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '40',
  'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '40', 'fields.w.length' = '6')"""


@pytest.fixture
def session():  # type: ignore[no-untyped-def]
    s = sqlstream.connect()
    s.execute(NUMS)
    yield s
    s.close()


def create(s: sqlstream.Session, name: str, attr: str | None = None) -> None:
    s.execute(f"CREATE TEMPORARY FUNCTION {name} AS '{MOD}.{attr or name}' LANGUAGE PYTHON")


# ---- decorators and signatures -----------------------------------------------------------


def test_signature_comes_from_annotations_when_not_declared() -> None:
    def f(s: str | None, c: str) -> int:
        return 0

    inputs, result, func_type, deterministic = signature(f)
    assert [t.sql() for t in inputs] == ["STRING", "STRING"] and result.sql() == "BIGINT"
    assert (func_type, deterministic) == ("general", True)


def test_decorator_records_declared_types_func_type_and_determinism() -> None:
    f = udf(lambda a: a, input_types=["INT"], result_type="DOUBLE", func_type="arrow", deterministic=False)
    inputs, result, func_type, deterministic = signature(f)
    assert ([t.sql() for t in inputs], result.sql(), func_type, deterministic) == (
        ["INT"],
        "DOUBLE",
        "arrow",
        False,
    )
    assert f(5) == 5  # the decorated object still calls the function


def test_a_missing_annotation_is_a_clear_error() -> None:
    def f(a, b: int) -> int:  # type: ignore[no-untyped-def]
        return b

    with pytest.raises(UdfError, match="argument 'a' of f has no annotation"):
        signature(f)


def test_unknown_func_type_is_refused() -> None:
    with pytest.raises(UdfError, match="func_type"):
        udf(lambda a: a, result_type="INT", func_type="vector")


# ---- running in queries ---------------------------------------------------------------


def test_row_vectorized_and_plain_functions_in_projection_and_filter(session: sqlstream.Session) -> None:
    create(session, "count_char")
    create(session, "bucket")
    create(session, "shout")
    rows = session.sql(
        "SELECT v, bucket(v) AS b, count_char(w, 'a') AS c, shout(w) AS s, w FROM nums WHERE bucket(v) = 2"
    ).fetchall()
    assert [r[0] for r in rows] == list(range(20, 30))
    for v, b, c, s, w in rows:
        assert (b, c, s) == (v // 10, w.count("a"), w.upper() + "!")


def test_null_reaches_the_function(session: sqlstream.Session) -> None:
    create(session, "count_char")
    assert session.sql(
        "SELECT count_char(CAST(NULL AS STRING), 'a') AS c FROM nums WHERE v = 1"
    ).fetchall() == [(0,)]


def test_function_in_group_by_key_and_argument(session: sqlstream.Session) -> None:
    create(session, "bucket")
    rows = session.sql(
        "SELECT bucket(v) AS b, COUNT(*) AS n, SUM(bucket(v)) AS s FROM nums GROUP BY bucket(v)"
    ).fetchall()
    assert sorted(rows) == [(0, 9, 0), (1, 10, 10), (2, 10, 20), (3, 10, 30), (4, 1, 4)]


def test_function_in_a_tumbling_window(session: sqlstream.Session) -> None:
    session.create_function("parity", lambda_parity)
    session.execute(
        "CREATE TABLE ev (v BIGINT, ts AS TO_TIMESTAMP_LTZ(v * 1000, 3), WATERMARK FOR ts AS ts) WITH ("
        "'connector' = 'datagen', 'number-of-rows' = '30', 'fields.v.kind' = 'sequence', "
        "'fields.v.start' = '0', 'fields.v.end' = '29')"
    )
    rows = session.sql(
        "SELECT window_start, parity(v) AS p, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), "
        "INTERVAL '10' SECOND)) GROUP BY window_start, window_end, parity(v)"
    ).fetchall()
    assert Counter((r[1], r[2]) for r in rows) == Counter({("even", 5): 3, ("odd", 5): 3})
    assert len({r[0] for r in rows}) == 3


def lambda_parity(v: int) -> str:
    return "even" if v % 2 == 0 else "odd"


def test_session_create_function_without_a_module(session: sqlstream.Session) -> None:
    def plus(a: int, b: int) -> int:
        return a + b

    session.create_function("plus", plus)
    assert session.sql("SELECT plus(v, 100) AS p FROM nums WHERE v < 3").fetchall() == [(101,), (102,)]
    assert ("plus",) in session.execute("SHOW USER FUNCTIONS").rows


# ---- failures -------------------------------------------------------------------------


def test_an_exception_inside_names_the_function_the_input_and_its_own_traceback(
    session: sqlstream.Session,
) -> None:
    create(session, "boom")
    with pytest.raises(SqlStreamError) as info:
        session.sql("SELECT boom(v) AS e FROM nums").fetchall()
    text = str(info.value)
    assert "function boom raised ValueError on input (3,)" in text
    assert "three is not allowed" in text and "udf_module.py" in text and "raise ValueError" in text
    assert "runtime/udf.py" not in text  # the engine's frames are cut off


def test_a_wrong_result_type_names_the_function(session: sqlstream.Session) -> None:
    create(session, "wrong")
    with pytest.raises(SqlStreamError, match="function wrong returned a value that is not BIGINT"):
        session.sql("SELECT wrong(v) AS e FROM nums").fetchall()


def test_wrong_argument_count_is_a_planning_error(session: sqlstream.Session) -> None:
    create(session, "count_char")
    with pytest.raises(SqlStreamError, match=r"count_char takes 2 argument\(s\), got 1") as info:
        session.execute("SELECT count_char(w) FROM nums")
    assert info.value.line == 1 and info.value.col is not None


def test_a_module_that_cannot_be_imported_is_named(session: sqlstream.Session) -> None:
    with pytest.raises(SqlStreamError, match="cannot import module 'no_such_module_x'"):
        session.execute("CREATE FUNCTION f AS 'no_such_module_x.f' LANGUAGE PYTHON")
    with pytest.raises(SqlStreamError, match=f"module '{MOD}' has no attribute 'nope'"):
        session.execute(f"CREATE FUNCTION f AS '{MOD}.nope' LANGUAGE PYTHON")
    with pytest.raises(SqlStreamError, match="not a function"):
        session.execute(f"CREATE FUNCTION f AS '{MOD}.NOT_A_FUNCTION' LANGUAGE PYTHON")


def test_java_and_jars_are_refused(session: sqlstream.Session) -> None:
    with pytest.raises(SqlStreamError, match="LANGUAGE JAVA is not supported"):
        session.execute("CREATE FUNCTION f AS 'com.acme.F'")
    with pytest.raises(SqlStreamError, match="USING JAR is not supported"):
        session.execute("CREATE FUNCTION f AS 'com.acme.F' LANGUAGE JAVA USING JAR '/x.jar'")


def test_a_built_in_name_is_refused(session: sqlstream.Session) -> None:
    with pytest.raises(SqlStreamError, match="'upper' is the name of a built-in function"):
        session.create_function("upper", lambda_parity)


def test_unknown_function_is_still_refused_at_planning(session: sqlstream.Session) -> None:
    with pytest.raises(SqlStreamError, match="no function named COUNT_CHAR"):
        session.execute("SELECT count_char(w, 'a') FROM nums")


# ---- DDL, SHOW, DESCRIBE, persistence, search path -----------------------------------


def test_create_drop_show_describe(session: sqlstream.Session) -> None:
    assert (
        "created: count_char(STRING, STRING) -> BIGINT"
        in session.execute(
            f"CREATE FUNCTION IF NOT EXISTS db.count_char AS '{MOD}.count_char' LANGUAGE PYTHON"
        ).message
    )
    assert session.execute(
        f"CREATE FUNCTION IF NOT EXISTS count_char AS '{MOD}.x' LANGUAGE PYTHON"
    ).message == ("Function 'count_char' exists.")
    with pytest.raises(SqlStreamError, match="function 'count_char' already exists"):
        session.execute(f"CREATE FUNCTION count_char AS '{MOD}.count_char' LANGUAGE PYTHON")
    assert session.execute("SHOW USER FUNCTIONS").rows == [("count_char",)]
    assert ("count_char",) in session.execute("SHOW FUNCTIONS").rows and ("UPPER",) in session.execute(
        "SHOW FUNCTIONS"
    ).rows
    info = dict(session.execute("DESCRIBE FUNCTION count_char").rows)
    assert info["class name"] == f"{MOD}.count_char" and info["function language"] == "PYTHON"
    assert info["signature"] == "count_char(STRING, STRING) -> BIGINT" and info["is temporary"] is False
    with pytest.raises(SqlStreamError, match="is not a temporary function"):
        session.execute("DROP TEMPORARY FUNCTION count_char")
    session.execute("DROP FUNCTION count_char")
    assert session.execute("SHOW USER FUNCTIONS").rows == []
    assert (
        session.execute("DROP FUNCTION IF EXISTS count_char").message
        == "Function 'count_char' does not exist."
    )
    with pytest.raises(SqlStreamError, match="function 'count_char' not found"):
        session.execute("DROP FUNCTION count_char")


def test_determinism_is_recorded(session: sqlstream.Session) -> None:
    create(session, "noisy")
    assert dict(session.execute("DESCRIBE FUNCTION noisy").rows)["is deterministic"] is False


def test_functions_persist_in_the_catalog_file_but_temporary_ones_do_not(tmp_path: Path) -> None:
    path = tmp_path / "cat.duckdb"
    with sqlstream.connect(catalog=path) as s:
        s.execute(NUMS)
        s.execute(f"CREATE FUNCTION count_char AS '{MOD}.count_char' LANGUAGE PYTHON")
        s.execute(f"CREATE TEMPORARY FUNCTION bucket AS '{MOD}.bucket' LANGUAGE PYTHON")
    with sqlstream.connect(catalog=path) as s:
        assert s.execute("SHOW USER FUNCTIONS").rows == [("count_char",)]
        assert s.sql("SELECT count_char('banana', 'a') AS c FROM nums WHERE v = 1").fetchall() == [(3,)]


def test_modules_are_found_on_python_pythonpath_and_python_files(tmp_path: Path) -> None:
    for key in ("python.pythonpath", "python.files"):
        name = f"m_{uuid.uuid4().hex}"
        folder = tmp_path / key
        folder.mkdir()
        (folder / f"{name}.py").write_text("def triple(x: int) -> int:\n    return 3 * x\n")
        value = str(folder) if key == "python.pythonpath" else str(folder / f"{name}.py")
        with sqlstream.connect() as s:
            s.execute(NUMS)
            s.execute(f"SET '{key}' = '{value}'")
            s.execute(f"CREATE FUNCTION triple AS '{name}.triple' LANGUAGE PYTHON")
            assert s.sql("SELECT triple(v) AS t FROM nums WHERE v = 2").fetchall() == [(6,)]


def test_the_scripts_own_folder_is_searched(tmp_path: Path) -> None:
    from sqlstream.cli import main

    name = f"m_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("def half(x: int) -> int:\n    return x // 2\n")
    out = tmp_path / "out"
    script = tmp_path / "job.sql"
    script.write_text(
        f"{NUMS};\nCREATE FUNCTION half AS '{name}.half' LANGUAGE PYTHON;\n"
        f"CREATE TABLE o (h BIGINT) WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'csv');\n"
        "SET 'table.dml-sync' = 'true';\nINSERT INTO o SELECT half(v) FROM nums WHERE v <= 4;\n"
    )
    assert main(["-f", str(script)]) == 0
    got = sorted(
        int(line) for f in out.iterdir() if not f.name.startswith(".") for line in f.read_text().split()
    )
    assert got == [0, 1, 1, 2]


def test_the_plan_names_the_functions_it_calls_and_keeps_them_through_json(
    session: sqlstream.Session,
) -> None:
    import planner
    from planner.physical import PhysicalPlan

    create(session, "count_char")
    create(session, "bucket")
    plan = planner.plan("SELECT count_char(w, 'a') AS c FROM nums", session.catalog)
    assert [f.name for f in plan.functions] == ["count_char"]  # bucket is not called
    assert PhysicalPlan.from_json(plan.to_json()).functions == plan.functions


def test_a_non_deterministic_function_is_not_pushed_below_a_join(session: sqlstream.Session) -> None:
    """Flink keeps a ``deterministic=False`` call where it was written; a deterministic one
    may be evaluated earlier, below the join."""
    import planner
    from planner.physical import CalcSpec, JoinSpec

    create(session, "noisy")
    create(session, "bucket")
    session.execute(NUMS.replace("nums", "other"))

    def below_join(fn: str) -> bool:
        plan = planner.plan(
            f"SELECT a.v, b.w FROM nums a JOIN other b ON a.v = b.v WHERE {fn}(a.v) > 3", session.catalog
        )
        join = next(i for i, n in enumerate(plan.nodes) if isinstance(n.spec, JoinSpec))
        calc = next(
            i
            for i, n in enumerate(plan.nodes)
            if isinstance(n.spec, CalcSpec) and fn in (n.spec.condition or "").lower()
        )
        return calc < join

    assert below_join("bucket") and not below_join("noisy")


def test_a_vectorized_function_must_return_one_value_per_row(session: sqlstream.Session) -> None:
    create(session, "short")
    with pytest.raises(SqlStreamError, match=r"function short returned .* 39 values came back for 40 rows"):
        session.sql("SELECT short(v) AS s FROM nums").fetchall()


def test_a_pandas_function_takes_and_returns_whole_series(session: sqlstream.Session) -> None:
    """``func_type='pandas'``: a batch's column arrives as one pandas Series, and the Series
    that comes back is the result column."""

    calls: list[int] = []

    def scaled(v, w):  # type: ignore[no-untyped-def]
        calls.append(len(v))
        return v * 10 + w.str.len()

    session.create_function(
        "scaled", udf(scaled, input_types=["BIGINT", "STRING"], result_type="BIGINT", func_type="pandas")
    )
    rows = session.sql("SELECT v, scaled(v, w) AS s FROM nums").fetchall()
    assert sorted(rows) == [(v, v * 10 + 6) for v in range(1, 41)]
    assert sum(calls) == 40 and len(calls) < 40  # whole columns, not a call per row


def test_a_projection_of_plain_calls_keeps_row_kinds_and_argument_types(session: sqlstream.Session) -> None:
    """``SELECT k, f(c)``, which runs on the whole batch without DuckDB: over an updating
    input each row keeps its kind, and TIMESTAMP_LTZ, DECIMAL and INT columns reach the
    function as the Python values DuckDB hands it when it runs the call."""
    small = {"sqlstream.runtime.batch-size": "4", "sqlstream.runtime.linger": "0 ms"}
    with sqlstream.connect(config=small) as s:
        s.execute(NUMS)
        s.create_function("twice", udf(lambda c: 2 * c, input_types=["BIGINT"], result_type="BIGINT"))
        counts = "(SELECT MOD(v, 2) AS k, COUNT(*) AS c FROM nums GROUP BY MOD(v, 2))"
        log = list(s.sql(f"SELECT k, twice(c) AS t FROM {counts}").changelog())
    assert Counter(kind for kind, _ in log) == {0: 2, 1: 18, 2: 18}  # 10 batches of 4 rows, 2 keys
    assert [row for kind, row in log if kind == 2][-2:] in ([(0, 40), (1, 40)], [(1, 40), (0, 40)])

    def show_args(ts, d, n):  # type: ignore[no-untyped-def]
        assert isinstance(ts, datetime.datetime) and isinstance(d, decimal.Decimal)
        return f"{ts.utcoffset()} {d} {n}"  # datagen times are the clock's: compare their zone

    types = ["TIMESTAMP_LTZ(3)", "DECIMAL(10, 2)", "INT"]
    session.create_function("show_args", udf(show_args, input_types=types, result_type="STRING"))
    session.execute(
        "CREATE TABLE typed (ts TIMESTAMP_LTZ(3), d DECIMAL(10, 2), n INT) WITH ('connector' = 'datagen', "
        "'number-of-rows' = '50', 'sqlstream.seed' = '3')"
    )
    direct = "SELECT show_args(ts, d, n) AS s FROM typed"
    assert 'Calc(select=[SHOW_ARGS("ts", "d", "n") AS s]' in session.execute(f"EXPLAIN {direct}").message
    in_duckdb = f"{direct} WHERE n IS NOT NULL OR n IS NULL"  # a filter: DuckDB calls the function
    assert sorted(session.sql(direct).fetchall()) == sorted(session.sql(in_duckdb).fetchall())
