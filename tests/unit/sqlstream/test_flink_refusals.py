"""What we cannot run is refused by the planner, naming the construct and its position;
where Flink's job fails on a row (integer division by zero), ours fails naming the
expression. Never a DuckDB error from deep inside a running job."""

from __future__ import annotations

import json

import pytest

import sqlstream
from catalog.errors import SqlStreamError
from planner.errors import PlanError, UnsupportedError
from runtime.job import JobFailedError

ROW = {"auction": 1, "bidder": 2, "price": 10, "dateTime": "2020-01-01 00:00:00", "z": 0, "s": "x"}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("refusals") / "bid.json"
    path.write_text(json.dumps(ROW) + "\n")
    s = sqlstream.connect()
    s.execute(
        "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), "
        f"z INT, s STRING) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"
    )
    s.execute(
        "CREATE TABLE bidw (price BIGINT, dateTime TIMESTAMP(3), WATERMARK FOR dateTime AS dateTime) "
        "WITH ('connector' = 'datagen')"
    )
    yield s
    s.close()


def test_row_number_without_a_rank_filter_is_refused_at_its_position(session: sqlstream.Session) -> None:
    """Flink runs ROW_NUMBER on a stream only as Top-N or deduplication."""
    with pytest.raises(UnsupportedError) as refused:
        session.sql("""SELECT auction, rn FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY dateTime DESC) AS rn
    FROM bid) WHERE rn >= 2""")
    assert "ROW_NUMBER" in refused.value.message
    assert (refused.value.line, refused.value.col) == (2, 15)


MATCH = """SELECT * FROM bidw MATCH_RECOGNIZE (
    ORDER BY dateTime
    MEASURES A.price AS p
    {skip}
    PATTERN ({pattern}))"""


@pytest.mark.parametrize(
    ("skip", "pattern", "message", "at"),
    [  # PATTERN ( ends at column 13 of line 5
        ("", "A B+", "greedy quantifier on the last variable of a PATTERN (B+)", (5, 16)),
        ("", "A\n      B*", "greedy quantifier on the last variable of a PATTERN (B*)", (6, 7)),
        ("", "A B?? C", "reluctant optional quantifier B??", (5, 16)),
        ("", "A+ B? C", "right after a greedy quantifier (A+)", (5, 17)),
        ("", "A{0,3} B", "from 0 to 3 rows", (5, 14)),
        ("", "A | B", "alternation (|)", (5, 16)),
        ("", "A B{0}", "the quantifier {0}", (5, 17)),
        ("", "A? B*?", "can match no row", (5, 14)),
        ("AFTER MATCH SKIP TO LAST Z", "A B", "Z is not a variable of the PATTERN", (4, 5)),
        ("AFTER MATCH SKIP TO FIRST A", "A B", "SKIP TO FIRST A would start", (4, 5)),
    ],
)
def test_a_match_recognize_pattern_refusal_points_at_what_it_names(
    session: sqlstream.Session, skip: str, pattern: str, message: str, at: tuple[int, int]
) -> None:
    """Not at the statement's start: at the variable, quantifier or symbol of the PATTERN
    (or the AFTER MATCH clause) that is refused."""
    with pytest.raises(SqlStreamError) as refused:
        session.sql(MATCH.format(skip=skip, pattern=pattern))
    assert message in refused.value.message
    assert (refused.value.line, refused.value.col) == at


@pytest.mark.parametrize("func", ["RANK", "DENSE_RANK", "LEAD"])
def test_window_functions_are_refused_by_name(session: sqlstream.Session, func: str) -> None:
    arg = "price" if func == "LEAD" else ""
    with pytest.raises(UnsupportedError, match=func):
        session.sql(f"SELECT {func}({arg}) OVER (ORDER BY dateTime) FROM bid")


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT * FROM bid JOIN bid AS b2 USING (auction)", "JOIN ... USING"),
        (
            "SELECT * FROM bid CROSS JOIN UNNEST(ARRAY[1, 2], ARRAY[3]) AS u(a, b)",
            "UNNEST of more than one array",
        ),
        ("SELECT bidder, COUNT(DISTINCT auction, price) FROM bid GROUP BY bidder", "COUNT(DISTINCT ...)"),
    ],
)
def test_a_refusal_says_that_it_is_one(session: sqlstream.Session, sql: str, construct: str) -> None:
    """A message that only names the construct ("JOIN ... USING") read as if the name were
    the error; every refusal now says the construct is not supported."""
    with pytest.raises(UnsupportedError) as refused:
        session.sql(sql)
    assert construct in refused.value.message
    assert "not supported" in str(refused.value)


@pytest.mark.parametrize(
    ("call", "construct"),
    [
        ("JSON_VALUE(s, '$.a' RETURNING DATE)", "RETURNING DATE"),
        ("CONVERT_TZ('2024-01-01 00:00:00', 'UTC', s)", "CONVERT_TZ"),
    ],
)
def test_a_refusal_found_while_generating_code_points_at_the_call(
    session: sqlstream.Session, call: str, construct: str
) -> None:
    """These are refused only when the expression becomes DuckDB SQL, after binding; they
    pointed at the statement's first line instead of the call."""
    with pytest.raises(UnsupportedError) as refused:
        session.sql(f"SELECT bidder,\n       {call} AS v\nFROM bid")
    assert construct in refused.value.message
    assert refused.value.line == 2
    assert refused.value.col is not None and 8 <= refused.value.col < 8 + len(call)


@pytest.mark.parametrize("func", ["COUNT_IF", "APPROX_COUNT_DISTINCT"])
def test_an_aggregate_we_lack_is_refused_by_name(session: sqlstream.Session, func: str) -> None:
    call = f"{func}(price)"
    with pytest.raises(UnsupportedError) as refused:
        session.sql(f"SELECT bidder, {call} FROM bid GROUP BY bidder")
    assert func in refused.value.message
    assert "GROUP BY" not in refused.value.message  # not "column must appear in GROUP BY"
    assert refused.value.col is not None and 16 <= refused.value.col < 16 + len(call)


@pytest.mark.parametrize(
    ("query", "refused", "call"),
    [
        (
            "SELECT bidder, FIRST_VALUE(DISTINCT s) FROM bid GROUP BY bidder",
            "DISTINCT in FIRST_VALUE",
            "FIRST_VALUE(",
        ),
        ("SELECT bidder, LISTAGG(s, s) FROM bid GROUP BY bidder", "LISTAGG separator", "LISTAGG("),
        ("SELECT bidder, LISTAGG(price) FROM bid GROUP BY bidder", "LISTAGG takes a string", "LISTAGG("),
        (
            "SELECT window_start, LAST_VALUE(price) FROM TABLE(HOP(TABLE bidw, DESCRIPTOR(dateTime), "
            "INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) GROUP BY window_start, window_end",
            "LAST_VALUE cannot be computed in a HOP window",
            "LAST_VALUE(",
        ),
        (  # Flink's validator: "FILTER must be applied to aggregate function"
            "SELECT bidder, ARRAY_AGG(s IGNORE NULLS) FILTER (WHERE price > 1) FROM bid GROUP BY bidder",
            "FILTER after ARRAY_AGG(... RESPECT NULLS | IGNORE NULLS)",
            "ARRAY_AGG(",
        ),
        (  # a bounded frame runs it (tests/oracle/corpus/over_distinct.sql)
            "SELECT COUNT(DISTINCT price) OVER (ORDER BY dateTime) FROM bidw",
            "DISTINCT in an OVER aggregate over an UNBOUNDED frame",
            "COUNT(",
        ),
        (
            "SELECT ARRAY_AGG(price IGNORE NULLS) OVER (ORDER BY dateTime) FROM bidw",
            "ARRAY_AGG(... IGNORE NULLS) OVER a window",
            "ARRAY_AGG(",
        ),
    ],
)
def test_what_listagg_and_first_value_cannot_do_is_refused_where_written(
    session: sqlstream.Session, query: str, refused: str, call: str
) -> None:
    """Flink cannot merge FIRST_VALUE/LAST_VALUE accumulators (HOP, CUMULATE, SESSION):
    refused, pointing into the call."""
    with pytest.raises(SqlStreamError) as error:
        session.sql(query)
    assert refused in error.value.message
    start = query.index(call) + 1
    end = query.index(")", start)
    assert error.value.line == 1 and error.value.col is not None and start <= error.value.col <= end


@pytest.mark.parametrize("func", ["LEVENSHTEIN(s, s)", "TYPEOF(s)", "UNHEX(s)"])
def test_a_function_duckdb_lacks_is_refused_at_plan_time(session: sqlstream.Session, func: str) -> None:
    with pytest.raises(UnsupportedError, match=func.split("(")[0]):
        session.sql(f"SELECT {func} FROM bid")


def test_an_unknown_function_is_a_plan_error_with_a_suggestion(session: sqlstream.Session) -> None:
    with pytest.raises(PlanError) as refused:
        session.sql("SELECT UPPPER(s) FROM bid")
    assert refused.value.hint is not None and "UPPER" in refused.value.hint


def test_integer_division_by_zero_fails_the_job_naming_the_expression(session: sqlstream.Session) -> None:
    # Flink: java.lang.ArithmeticException: / by zero fails the job (oracle fixture
    # numbers.json, case 'i / 0').
    with pytest.raises(JobFailedError) as failed:
        session.sql("SELECT price / z FROM bid").fetchall()
    assert "division by zero in `price` / `z`" in str(failed.value)
    assert isinstance(failed.value, SqlStreamError)


def test_division_by_zero_names_the_row_and_its_source(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the third of five rows divides by zero: the error shows that row and where it came from
    path = tmp_path / "pay.json"
    rows = [{"id": i, "amount": 10 * i, "parts": 0 if i == 3 else i} for i in range(1, 6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = sqlstream.connect()
    try:
        s.execute(
            "CREATE TABLE pay (id INT, amount INT, parts INT) "
            f"WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"
        )
        with pytest.raises(JobFailedError) as failed:
            s.sql("SELECT id, amount / parts AS share FROM pay").fetchall()
    finally:
        s.close()
    message = str(failed.value)
    assert "division by zero in `amount` / `parts`" in message
    assert '{"id": 3, "amount": 30, "parts": 0}' in message
    assert "row 3 of a batch of 5 read from pay" in message


def test_null_divided_by_zero_is_null(session: sqlstream.Session) -> None:
    # Flink checks NULL first (fixture aggregates.json: SUM(i) / COUNT(i) of an all-NULL group)
    assert session.sql("SELECT CAST(NULL AS INT) / z FROM bid").fetchall() == [(None,)]


@pytest.mark.parametrize("cond", ["s = 1", "s > 0", "CAST(dateTime AS DATE) = dateTime"])
def test_comparisons_flink_refuses_are_refused_at_plan_time(session: sqlstream.Session, cond: str) -> None:
    # Flink: "implicit type conversion between VARCHAR and INTEGER is not supported now",
    # "Cannot apply '=' to arguments of type '<DATE> = <TIMESTAMP(3)>'" (oracle casts.json);
    # DuckDB would cast each row's text and fail the job on the first that is no number.
    with pytest.raises(PlanError, match="implicit type conversion") as refused:
        session.sql(f"SELECT price FROM bid WHERE {cond}")
    assert refused.value.line == 1 and refused.value.col is not None
    assert 29 <= refused.value.col < 29 + len(cond)  # within the condition


@pytest.mark.parametrize(
    ("query", "message", "col"),
    [
        # Flink: SqlValidatorException "Illegal interval literal format '0-13' ..."
        ("SELECT dateTime + INTERVAL '0-13' YEAR TO MONTH FROM bid", "'0-13'", 8),
        # Flink: ValidationException "Invalid input arguments" (no implicit BIGINT -> INT)
        ("SELECT ARRAY_CONTAINS(ARRAY[1], bidder) FROM bid", "BIGINT in an ARRAY<INT>", 8),
        # Flink: SqlValidatorException "Parameters must be of the same type"
        ("SELECT MAP['a', NULL] FROM bid", "untyped NULL", 8),
        # Flink: CodeGenException "Unsupported casting from NULL to INT."
        ("SELECT GREATEST(z, NULL) FROM bid", "GREATEST cannot take an untyped NULL", 8),
        # Flink: SqlValidatorException "Cannot apply 'MOD' to arguments of type 'MOD(<DOUBLE>, <INTEGER>)'"
        ("SELECT MOD(CAST(z AS DOUBLE), 2) FROM bid", "cannot apply MOD to DOUBLE", 8),
        # Flink reduces constants as BigDecimals when planning: ArithmeticException "Division by zero"
        ("SELECT 1e0 / 0 FROM bid", "division by zero in 1e0 / 0", 8),
        # ... and NumberFormatException "Infinite or NaN" for a FLOAT
        ("SELECT CAST('NaN' AS FLOAT) FROM bid", "'NaN' is not a finite FLOAT", 13),
    ],
)
def test_what_flinks_validator_refuses_is_refused_at_its_position(
    session: sqlstream.Session, query: str, message: str, col: int
) -> None:
    with pytest.raises(PlanError) as refused:
        session.sql(query)
    assert message in refused.value.message
    assert refused.value.col == col


def test_a_cast_of_text_flink_cannot_read_fails_the_job_naming_the_text(session: sqlstream.Session) -> None:
    # Flink: CAST('2024-02-30' AS DATE) fails the job (TRY_CAST gives NULL: oracle trycast.json)
    with pytest.raises(JobFailedError, match=r"cannot CAST 'x2020-01-01 00:00:00\.000' AS DATE"):
        session.sql("SELECT CAST(CONCAT('x', CAST(dateTime AS STRING)) AS DATE) FROM bid").fetchall()
    rows = session.sql("SELECT TRY_CAST(CONCAT(s, '-2-30') AS DATE) FROM bid").fetchall()
    assert rows == [(None,)]


@pytest.mark.parametrize(
    ("query", "refused", "col"),
    [
        ("SELECT bidder, JSON_ARRAYAGG(s) FILTER (WHERE z > 0) FROM bid GROUP BY bidder", "FILTER after", 16),
        ("SELECT JSON_ARRAYAGG(price) OVER (ORDER BY dateTime) FROM bidw", "JSON_ARRAYAGG(", 8),
    ],
)
def test_what_json_aggregates_cannot_do_is_refused_where_written(
    session: sqlstream.Session, query: str, refused: str, col: int
) -> None:
    """Flink's parser has no FILTER after a JSON aggregate; an OVER one is not planned."""
    with pytest.raises(SqlStreamError) as error:
        session.sql(query)
    assert refused in error.value.message
    assert error.value.col is not None and col <= error.value.col < col + 40


def test_a_name_both_a_row_field_and_a_column_is_refused_as_ambiguous() -> None:
    """Flink reads a ROW column's fields unqualified (r.x as x): beside UNNEST's x it is
    ambiguous, refused at its position; alone it reads the field."""
    with sqlstream.connect() as s:
        s.execute(
            "CREATE TABLE c (id INT, a ARRAY<INT>, r ROW<x INT, y STRING>) WITH ('connector' = 'datagen')"
        )
        with pytest.raises(PlanError) as error:
            s.sql("SELECT id, x FROM c CROSS JOIN UNNEST(a) AS u(x)")
        assert "'x' is ambiguous" in error.value.message and error.value.col == 12
        s.execute("EXPLAIN SELECT id, x FROM c")  # r.x: planned


def test_an_untyped_null_among_ifs_values_is_refused(session: sqlstream.Session) -> None:
    """Flink: SqlValidatorException "Illegal use of 'NULL'"; a CASE may hold one."""
    with pytest.raises(PlanError, match="IF cannot take an untyped NULL"):
        session.sql("SELECT IF(z > 0, NULL, 1) FROM bid")
    session.sql("SELECT CASE WHEN z > 0 THEN NULL ELSE 1 END FROM bid").close()
